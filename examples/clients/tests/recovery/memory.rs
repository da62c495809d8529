//! Recovery in one process's memory (`RECOVERY=1`).

use super::proxy::Proxy;
use super::support::{self, next as next_lifecycle};
use super::{events_until_quiet, joined_through, no_events, registered, to_all_and_elsewhere};
use nestgate::testing::ChildServer;
use nestgate_client::{Client, Events, Lifecycle, Lifecycles};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::sleep;

/// Starts the server with recovery on (and `extra` settings).
async fn start_server(extra: &'static [(&'static str, &'static str)]) -> ChildServer {
    let mut env = vec![("RECOVERY", "1")];
    env.extend_from_slice(extra);
    support::start_server(0, &env).await
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
    to_all_and_elsewhere(&away.other).await;
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
        let (client, lifecycle, events) = joined_through(&proxy).await;
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
