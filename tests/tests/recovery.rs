//! Connection-state recovery over ws-json against an app in this process, over real sockets:
//! what a recovered socket gets back (its id, rooms, extensions, `Socket::recovered`), the
//! handshake guards running again unless `skip_guards`, and the bounds — 10,000 sessions lost
//! at once and never coming back are all freed after the window.

use nestgate::extract::Extension;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::recovery::{RecoveryConfig, RecoveryStats};
use nestgate::testing::{TestClient, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

/// Who connected: set by the guard from `?name=`; `?name=once` is let in one time only.
#[derive(Debug, Clone)]
struct Name(String);

#[derive(Debug, Clone, Copy)]
struct NameGuard;

static ONCE_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl HandshakeGuard for NameGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let name = request.query("name").unwrap_or_default();
        if name == "once" && ONCE_USED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(HandshakeRejection::unauthorized("once only"));
        }
        request.insert(Name(name));
        Ok(())
    }
}

/// What the connection hook saw.
#[derive(Debug, Clone)]
struct Hooked {
    recovered: bool,
    rooms: Vec<String>,
}

#[websocket_gateway(path = "/r", handshake_guards(NameGuard))]
#[derive(Debug, Default)]
struct Recovering;

#[websocket_gateway]
impl Recovering {
    #[on_connection]
    fn connected(&self, socket: Socket) {
        socket.insert_extension(Hooked {
            recovered: socket.recovered(),
            rooms: socket
                .rooms()
                .into_iter()
                .map(|room| room.into_owned())
                .collect(),
        });
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) {
        socket.join(room);
    }

    #[subscribe_message("me")]
    fn me(
        &self,
        socket: Socket,
        Extension(name): Extension<Name>,
        Extension(hooked): Extension<Hooked>,
    ) -> Value {
        json!({
            "id": socket.id(),
            "name": name.0,
            "rooms": socket.rooms(),
            "recovered": socket.recovered(),
            "hook_saw_recovered": hooked.recovered,
            "hook_saw_rooms": hooked.rooms,
        })
    }

    #[subscribe_message("shout")]
    fn shout(&self, server: Server, Data(room): Data<String>) -> Result<(), WsException> {
        server.to(room).emit("shouted", &1)?;
        Ok(())
    }

    #[subscribe_message("stats")]
    fn stats(&self, server: Server) -> Option<RecoveryStats> {
        server.recovery_stats()
    }
}

/// A dynamic path: each `/t/{id}` is a namespace of its own, made for its first socket.
#[websocket_gateway(path = "/t/{id}")]
#[derive(Debug, Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    #[subscribe_message("shout")]
    fn shout(&self, server: Server) -> Result<(), WsException> {
        server.emit("shouted", &server.path())?;
        Ok(())
    }
}

fn app(config: RecoveryConfig) -> nestgate::App {
    nestgate::App::bare()
        .gateway::<Recovering>()
        .gateway::<Tenant>()
        .recovery(config)
}

/// The `nestgate:connected` frame's data.
async fn connected(client: &mut TestClient) -> Value {
    let frame = client.recv().await;
    assert_eq!(frame["event"], "nestgate:connected", "{frame}");
    frame["data"].clone()
}

async fn stats(server: &TestServer) -> Value {
    let mut client = server.client("/r").await;
    connected(&mut client).await;
    client.request(1, "stats", json!(null)).await["data"].clone()
}

#[tokio::test]
async fn a_recovered_socket_has_its_id_rooms_and_extensions_and_its_hooks_know() {
    let server = TestServer::start(app(RecoveryConfig::default())).await;
    let mut first = server.client("/r?name=ann").await;
    let hello = connected(&mut first).await;
    assert_eq!(hello["recovered"], false);
    assert!(hello.get("reason").is_none(), "{hello}");
    first.request(1, "join", json!("lobby")).await;
    let me = first.request(2, "me", json!(null)).await["data"].clone();
    drop(first); // No close frame: the connection is lost.

    let mut shouter = server.client("/r?name=bob").await;
    connected(&mut shouter).await;
    // Until the server has seen the loss, the session is not waiting yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    shouter.request(1, "shout", json!("lobby")).await;

    let url = format!(
        "/r?name=ann&session={}&offset={}",
        hello["session"].as_str().unwrap(),
        hello["offset"].as_str().unwrap()
    );
    let mut again = server.client(&url).await;
    let back = connected(&mut again).await;
    assert_eq!(back["recovered"], true, "{back}");
    assert_eq!(back["session"], hello["session"]);
    assert_eq!(back["id"], me["id"]);
    let missed = again.recv().await;
    assert_eq!(missed["event"], "shouted");
    assert!(missed["offset"].is_string(), "{missed}");
    let now = again.request(3, "me", json!(null)).await["data"].clone();
    assert_eq!(now["id"], me["id"]);
    assert_eq!(now["rooms"], json!(["lobby"]));
    assert_eq!(now["recovered"], true);
    assert_eq!(now["hook_saw_recovered"], true);
    assert_eq!(now["hook_saw_rooms"], json!(["lobby"]));
    assert_eq!(now["name"], "ann");
    // A session is recovered once: while `again` lives, its session is nobody else's.
    let mut twice = server.client(&url).await;
    let refused = connected(&mut twice).await;
    assert_eq!(refused["recovered"], false);
    assert_eq!(refused["reason"], "unknown_session");
    assert_ne!(refused["session"], hello["session"]);
    let stats = stats(&server).await;
    assert_eq!(stats["recovered"], 1);
    assert_eq!(stats["unknown_session"], 1);
    drop(again);
}

#[tokio::test]
async fn a_dynamic_paths_namespace_outlives_its_last_socket_while_its_session_waits() {
    let server = TestServer::start(app(RecoveryConfig::default())).await;
    let mut alone = server.client("/t/7").await;
    let hello = connected(&mut alone).await;
    // Its namespace's only socket: lost, the namespace lives on for the session.
    drop(alone);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut other = server.client("/t/7").await;
    connected(&mut other).await;
    other.emit("shout", json!(null)).await;
    assert_eq!(other.recv().await["data"], "/t/7");
    let url = format!(
        "/t/7?session={}&offset={}",
        hello["session"].as_str().unwrap(),
        hello["offset"].as_str().unwrap()
    );
    let mut back = server.client(&url).await;
    assert_eq!(connected(&mut back).await["recovered"], true);
    let missed = back.recv().await;
    assert_eq!(
        (&missed["event"], &missed["data"]),
        (&json!("shouted"), &json!("/t/7"))
    );
}

#[tokio::test]
async fn the_guards_run_again_on_a_recovering_connection_unless_skip_guards() {
    for skip_guards in [false, true] {
        ONCE_USED.store(false, std::sync::atomic::Ordering::SeqCst);
        let config = RecoveryConfig {
            skip_guards,
            ..RecoveryConfig::default()
        };
        let server = TestServer::start(app(config)).await;
        let mut first = server.client("/r?name=once").await;
        let hello = connected(&mut first).await;
        drop(first);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let url = server.url(&format!(
            "/r?name=once&session={}&offset={}",
            hello["session"].as_str().unwrap(),
            hello["offset"].as_str().unwrap()
        ));
        let request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .unwrap();
        if skip_guards {
            let mut again = TestClient::connect_request(request).await.unwrap();
            assert_eq!(connected(&mut again).await["recovered"], true);
            let me = again.request(1, "me", json!(null)).await["data"].clone();
            // The guard did not run: the name is the saved one.
            assert_eq!(me["name"], "once");
        } else {
            let (status, _) = TestClient::refused(request).await;
            assert_eq!(status, 401);
        }
    }
}

#[tokio::test]
async fn ten_thousand_lost_sessions_are_all_freed_after_the_window() {
    // 500 connections at a time (1,000 descriptors with the server's side).
    let _ = rlimit::increase_nofile_limit(4_096);
    let window = Duration::from_millis(1_500);
    let server = TestServer::start(app(RecoveryConfig {
        window,
        ..RecoveryConfig::default()
    }))
    .await;
    for _ in 0..20 {
        let mut batch = Vec::with_capacity(500);
        for _ in 0..500 {
            batch.push(server.client("/r").await);
        }
        drop(batch);
    }
    // Every loss seen and saved (the `stats` connections are live ones).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stats = stats(&server).await;
        let saved = stats["saved"].as_u64().unwrap();
        if saved >= 10_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {saved} of 10,000 lost sessions saved: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // After the window (and a sweep): nothing left but the `stats` connections' own sessions.
    tokio::time::sleep(window + Duration::from_millis(500)).await;
    let stats = stats(&server).await;
    assert!(
        stats["sessions"].as_u64().unwrap() <= 50,
        "sessions left after the window: {stats}"
    );
    assert_eq!(stats["evicted_sessions"], 0);
}

#[tokio::test]
async fn a_cluster_adapter_that_stores_no_recovery_is_refused_at_startup() {
    let adapter = |_: &str, store| -> std::sync::Arc<dyn nestgate::adapter::Adapter> {
        std::sync::Arc::new(nestgate::adapter::LocalAdapter::new(store))
    };
    let err = app(RecoveryConfig::default())
        .adapter(adapter)
        .into_router()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not store it"), "{err}");
}
