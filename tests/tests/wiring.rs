//! Wiring checked when the app is built: a handler's `State<T>` that nobody provides, a gateway's
//! `#[inject]` field, providers built from providers (and a cycle of them) stop `bind` with the
//! names; injected services reach handlers over a real socket.

use nestgate::App;
use nestgate::extract::{Extension, State};
use nestgate::prelude::*;
use nestgate_tests::serve;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

#[websocket_gateway(path = "/counted")]
#[derive(Default)]
struct Counted;

#[websocket_gateway]
impl Counted {
    #[subscribe_message("hit")]
    fn hit(&self, State(counter): State<Counter>) -> u64 {
        counter.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[tokio::test]
async fn a_handler_state_nobody_provides_stops_bind_naming_the_handler() {
    let err = App::bare()
        .gateway::<Counted>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("State<Counter> is not provided");
    assert_eq!(
        err.to_string(),
        format!(
            "handler Counted::hit (event \"hit\" on path \"/counted\") reads State<{}>, which was never provided; provide it with App::provide or App::provider",
            std::any::type_name::<Counter>()
        )
    );
    // Provided, it binds and answers.
    let server = serve(App::bare().provide(Counter::default()).gateway::<Counted>()).await;
    let mut client = server.client("/counted").await;
    assert_eq!(client.request(1, "hit", json!(null)).await["data"], 1);
    server.shutdown().await.unwrap();
}

/// A repository: the state it holds is locked inside its methods, never by handlers.
#[derive(Clone, Default)]
struct Auctions(Arc<Mutex<Vec<u64>>>);

impl Auctions {
    fn highest(&self) -> u64 {
        self.lock().last().copied().unwrap_or(0)
    }

    fn push(&self, amount: u64) {
        self.lock().push(amount);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        // A panic while the lock is held leaves the list as it was: keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A service built from the repository.
#[derive(Clone, FromAppState)]
struct Bids {
    #[inject]
    auctions: Auctions,
    /// Not injected: starts as `Default::default()`.
    placed: Arc<AtomicU64>,
}

impl Bids {
    fn place(&self, amount: u64) -> Result<u64, WsException> {
        if amount <= self.auctions.highest() {
            return Err(WsException::new("too low"));
        }
        self.auctions.push(amount);
        Ok(self.placed.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

#[websocket_gateway(path = "/auction")]
struct AuctionGateway {
    #[inject]
    bids: Bids,
    #[inject]
    auctions: Auctions,
}

#[websocket_gateway]
impl AuctionGateway {
    #[subscribe_message("bid")]
    fn bid(&self, Data(amount): Data<u64>) -> Result<u64, WsException> {
        self.bids.place(amount)
    }

    #[subscribe_message("highest")]
    fn highest(&self) -> u64 {
        self.auctions.highest()
    }
}

#[tokio::test]
async fn injected_services_reach_the_handlers() {
    // The provider is registered before what it needs: the order of the calls does not matter.
    let app = App::bare()
        .provider::<Bids>()
        .provide(Auctions::default())
        .gateway::<AuctionGateway>();
    let server = serve(app).await;
    let mut client = server.client("/auction").await;
    assert_eq!(client.request(1, "bid", json!(100)).await["data"], 1);
    assert_eq!(client.request(2, "bid", json!(120)).await["data"], 2);
    assert_eq!(
        client.request(3, "bid", json!(110)).await["error"]["message"],
        "too low"
    );
    assert_eq!(client.request(4, "highest", json!(null)).await["data"], 120);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_injection_stops_bind_naming_who_needs_it() {
    let err = App::bare()
        .provide(Auctions::default())
        .gateway::<AuctionGateway>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("Bids is not provided");
    assert_eq!(
        err.to_string(),
        format!(
            "{} needs state of type {}; provide it with App::provide or App::provider",
            std::any::type_name::<AuctionGateway>(),
            std::any::type_name::<Bids>()
        )
    );
    let err = App::bare()
        .provider::<Bids>()
        .gateway::<AuctionGateway>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("Auctions, which Bids needs, is not provided");
    assert_eq!(
        err.to_string(),
        format!(
            "{} needs state of type {}; provide it with App::provide or App::provider",
            std::any::type_name::<Bids>(),
            std::any::type_name::<Auctions>()
        )
    );
}

/// A service that needs `Right` (by hand: a struct cannot hold what holds it).
#[derive(Clone)]
struct Left;

#[derive(Clone, FromAppState)]
struct Right {
    #[inject]
    _left: Left,
}

impl nestgate::gateway::FromAppState for Left {
    fn from_app_state(state: &nestgate::AppState) -> nestgate::Result<Self> {
        nestgate::gateway::require::<Right>(state, std::any::type_name::<Left>()).map(|_| Left)
    }
}

#[tokio::test]
async fn providers_that_need_each_other_are_refused_naming_the_cycle() {
    let err = App::bare()
        .provider::<Left>()
        .provider::<Right>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("a cycle");
    let (left, right) = (
        std::any::type_name::<Left>(),
        std::any::type_name::<Right>(),
    );
    assert_eq!(
        err.to_string(),
        format!("providers need each other in a cycle: {left} -> {right} -> {left}")
    );
}

#[derive(Clone)]
struct User(String);

#[websocket_gateway(path = "/profile")]
#[derive(Default)]
struct Profile;

#[websocket_gateway]
impl Profile {
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(user): Extension<User>) -> String {
        user.0
    }
}

/// The log lines written while the closure runs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_extension_read_on_a_path_without_handshake_guards_is_a_startup_warning() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime runs on this thread, where `bind` builds the app.
    let _default = tracing::subscriber::set_default(subscriber);
    let server = serve(App::bare().gateway::<Profile>()).await;
    let log =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        log.contains("WARN")
            && log.contains("reads Extension<T>, but no handshake guard runs on its path"),
        "{log}"
    );
    assert!(
        log.contains("Profile::whoami") && log.contains("wiring::User"),
        "{log}"
    );
    server.shutdown().await.unwrap();
}
