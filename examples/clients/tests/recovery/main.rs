//! Connection-state recovery over ws-json, with `nestgate-client` against this example's real
//! server: a TCP proxy between them cuts the connection (no close frame) while broadcasts go
//! on; the client comes back and gets every missed message once, in order, and is in its rooms
//! again — or is told it was not recovered, and gets nothing replayed. In memory (`memory`),
//! and across the nodes of a cluster on a real Redis (`cluster`), a node killed included.

use nestgate_client::{Client, Event, Events, Lifecycle, Lifecycles, Reconnect};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::timeout;

mod cluster;
mod memory;
mod proxy;
#[path = "../support/mod.rs"]
mod support;
use support::{STEP, next as next_lifecycle};

/// Whether the server registered the connection as recovered, and why not.
pub(crate) async fn registered(lifecycle: &mut Lifecycles) -> (bool, Option<String>) {
    next_lifecycle(lifecycle, |event| match event {
        Lifecycle::Registered { recovered, reason } => Some((recovered, reason)),
        _ => None,
    })
    .await
}

/// The events that come within `quiet` of each other (the first within [`STEP`]).
pub(crate) async fn events_until_quiet(
    events: &mut Events,
    quiet: Duration,
) -> Vec<(String, Value)> {
    events_within(events, STEP, quiet).await
}

/// No event within `wait`.
pub(crate) async fn no_events(events: &mut Events, wait: Duration) {
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

pub(crate) fn quick() -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(100),
        jitter: 0.0,
        ..Reconnect::default()
    }
}

/// A client through `proxy`, registered (its first connection: not recovered) and in room `r`.
pub(crate) async fn joined_through(proxy: &proxy::Proxy) -> (Client, Lifecycles, Events) {
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
    (client, lifecycle, events)
}

/// What `other` sends while the client is away besides its room's ticks: one message to
/// everyone (the client is to get it) and one to another room (it is not).
pub(crate) async fn to_all_and_elsewhere(other: &Client) {
    other.request::<Value, _>("say", "to all").await.unwrap();
    let elsewhere = json!({"room": "elsewhere", "event": "tick", "data": -1});
    other.request::<Value, _>("to", &elsewhere).await.unwrap();
}
