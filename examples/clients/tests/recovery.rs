//! Connection-state recovery over ws-json, with `nestgate-client` against this example's real
//! server (`RECOVERY=1`): a TCP proxy between them cuts the connection (no close frame) while
//! broadcasts go on; the client comes back and gets every missed message once, in order, and
//! is in its rooms again — or is told it was not recovered, and gets nothing replayed.

use nestgate::testing::ChildServer;
use nestgate_client::{Client, Event, Events, Lifecycle, Lifecycles, Reconnect};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::{sleep, timeout};

mod support;
use support::{STEP, next as next_lifecycle};

/// Starts the server with recovery on (and `extra` settings).
async fn start_server(extra: &'static [(&'static str, &'static str)]) -> ChildServer {
    let mut env = vec![("RECOVERY", "1")];
    env.extend_from_slice(extra);
    support::start_server(0, &env).await
}

/// A TCP proxy in front of the server: `cut` drops every connection through it at once, as a
/// network that goes away does (no close frame); `refuse` turns new connections away.
struct Proxy {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    refusing: Arc<AtomicBool>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let accept = tokio::spawn({
            let connections = connections.clone();
            let refusing = refusing.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        continue; // Dropped: the client sees its connection refused.
                    }
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        continue;
                    };
                    let task = tokio::spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    connections.lock().unwrap().push(task.abort_handle());
                }
            }
        })
        .abort_handle();
        Proxy {
            addr,
            connections,
            refusing,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Drops every connection through the proxy, both ways.
    fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// Whether the server registered the connection as recovered, and why not.
async fn registered(lifecycle: &mut Lifecycles) -> (bool, Option<String>) {
    next_lifecycle(lifecycle, |event| match event {
        Lifecycle::Registered { recovered, reason } => Some((recovered, reason)),
        _ => None,
    })
    .await
}

/// The events that come within `quiet` of each other (the first within [`STEP`]).
async fn events_until_quiet(events: &mut Events, quiet: Duration) -> Vec<(String, Value)> {
    events_within(events, STEP, quiet).await
}

/// No event within `wait`.
async fn no_events(events: &mut Events, wait: Duration) {
    assert_eq!(events_within(events, wait, wait).await, []);
}

/// The events that come within `quiet` of each other, the first within `first`.
async fn events_within(
    events: &mut Events,
    first: Duration,
    quiet: Duration,
) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    let mut wait = first;
    while let Ok(Some(Event { name, data, .. })) = timeout(wait, events.next()).await {
        seen.push((name, serde_json::from_str(data.get()).unwrap()));
        wait = quiet;
    }
    seen
}

fn quick() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(100),
        jitter: 0.0,
        ..Reconnect::default()
    }
}

#[tokio::test]
async fn a_cut_connection_comes_back_with_every_missed_message_once_in_order_and_its_rooms() {
    let mut away = Away::join(&[]).await;
    // Before the cut: live.
    away.tick(0).await;
    assert_eq!(
        events_until_quiet(&mut away.events, Duration::from_millis(200)).await,
        [("tick".to_owned(), json!(0))]
    );
    // A message for this socket alone, sent while it is away.
    away.client
        .request::<Value, _>("later", &json!({"event": "direct", "data": "d", "ms": 300}))
        .await
        .unwrap();

    away.cut();
    next_lifecycle(&mut away.lifecycle, |event| {
        matches!(
            event,
            Lifecycle::Disconnected {
                will_reconnect: true,
                ..
            }
        )
        .then_some(())
    })
    .await;
    // While it is away: to its room, to everyone, and to another room (not for it).
    away.ticks(20).await;
    away.other
        .request::<Value, _>("say", "to all")
        .await
        .unwrap();
    away.other
        .request::<Value, _>(
            "to",
            &json!({"room": "elsewhere", "event": "tick", "data": -1}),
        )
        .await
        .unwrap();
    sleep(Duration::from_millis(400)).await; // The direct message goes out meanwhile.
    away.proxy.refuse(false);

    assert_eq!(registered(&mut away.lifecycle).await, (true, None));
    let mut expected: Vec<(String, Value)> =
        (1..=20).map(|n| ("tick".to_owned(), json!(n))).collect();
    expected.push(("said".to_owned(), json!("to all")));
    expected.push(("direct".to_owned(), json!("d")));
    assert_eq!(
        events_until_quiet(&mut away.events, Duration::from_millis(300)).await,
        expected
    );
    // Back in its room, with its id: live again, and nothing twice.
    away.tick(21).await;
    assert_eq!(
        events_until_quiet(&mut away.events, Duration::from_millis(300)).await,
        [("tick".to_owned(), json!(21))]
    );
    let rooms: Vec<String> = away.client.request("join", "r").await.unwrap();
    assert_eq!(rooms, ["r"]);
}

/// A client in room `r` through a proxy (which `cut` cuts it off from, and keeps it off), and
/// another client, connected directly, that writes to the room.
struct Away {
    /// Kept running for the test's length.
    _server: ChildServer,
    proxy: Proxy,
    client: Client,
    lifecycle: Lifecycles,
    events: Events,
    other: Client,
}

impl Away {
    /// The client registered (not recovered: its first connection) and in room `r`.
    async fn join(extra: &'static [(&'static str, &'static str)]) -> Away {
        let server = start_server(extra).await;
        let proxy = Proxy::start(server.addr()).await;
        let client = Client::builder(proxy.url())
            .reconnect(quick())
            .connect()
            .await
            .unwrap();
        let mut lifecycle = client.lifecycle();
        let events = client.events();
        assert_eq!(registered(&mut lifecycle).await, (false, None));
        let rooms: Vec<String> = client.request("join", "r").await.unwrap();
        assert_eq!(rooms, ["r"]);
        let other = Client::connect(server.ws_url("/")).await.unwrap();
        Away {
            _server: server,
            proxy,
            client,
            lifecycle,
            events,
            other,
        }
    }

    /// Drops the client's connection, and refuses it until `proxy.refuse(false)`.
    fn cut(&self) {
        self.proxy.refuse(true);
        self.proxy.cut();
    }

    /// Tick `n` to room `r`.
    async fn tick(&self, n: i32) {
        self.other
            .request::<Value, _>("to", &json!({"room": "r", "event": "tick", "data": n}))
            .await
            .unwrap();
    }

    /// Ticks `1..=count` to room `r`.
    async fn ticks(&self, count: i32) {
        for n in 1..=count {
            self.tick(n).await;
        }
    }
}

#[tokio::test]
async fn past_the_window_nothing_is_replayed_and_the_client_is_told() {
    let mut away = Away::join(&[("RECOVERY_WINDOW_MS", "300")]).await;
    away.cut();
    away.ticks(1).await;
    sleep(Duration::from_millis(800)).await;
    away.proxy.refuse(false);
    let (recovered, reason) = registered(&mut away.lifecycle).await;
    assert!(!recovered);
    let reason = reason.expect("a reason");
    assert!(
        reason == "expired" || reason == "unknown_session",
        "{reason}"
    );
    no_events(&mut away.events, Duration::from_millis(500)).await;
    // A fresh socket: not in the room any more.
    let rooms: Vec<String> = away.client.request("join", "s").await.unwrap();
    assert_eq!(rooms, ["s"]);
}

#[tokio::test]
async fn a_log_trimmed_past_the_clients_offset_is_a_gap_and_nothing_is_replayed() {
    let mut away = Away::join(&[("RECOVERY_MAX_MESSAGES", "5")]).await;
    away.cut();
    away.ticks(10).await;
    away.proxy.refuse(false);
    assert_eq!(
        registered(&mut away.lifecycle).await,
        (false, Some("gap".to_owned()))
    );
    no_events(&mut away.events, Duration::from_millis(500)).await;
}
