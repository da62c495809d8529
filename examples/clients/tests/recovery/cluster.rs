//! Recovery in Redis, across the nodes of a cluster (`RECOVERY=1` and `REDIS_URL`): a client
//! of node A through the proxy, a client of node B writing to its room. A loses the client (a
//! cut, or A killed with SIGKILL); the client comes back through the proxy, now to B, and
//! recovers there: every missed message once, in order, its rooms and id back.

use super::proxy::Proxy;
use super::support::{self, next as next_lifecycle};
use super::{events_until_quiet, joined_through, registered, to_all_and_elsewhere};
use nestgate::testing::ChildServer;
use nestgate_client::{Client, Events, Lifecycle, Lifecycles};
use nestgate_redis::testing::TestRedis;
use serde_json::{Value, json};
use std::time::Duration;

/// Two nodes on one Redis, and the clients.
struct Nodes {
    _redis: TestRedis,
    a: Option<ChildServer>,
    b: ChildServer,
    proxy: Proxy,
    client: Client,
    lifecycle: Lifecycles,
    events: Events,
    /// A client of node B.
    other: Client,
}

impl Nodes {
    /// `None` (said loudly; a failure under `CI=true`) without a Redis to test against.
    async fn start() -> Option<Nodes> {
        let redis = TestRedis::any().await?;
        // Each test its own prefix: the tests of this binary run at once on one Redis.
        let prefix: &'static str =
            Box::leak(format!("recovery-{}", rand_suffix()).into_boxed_str());
        let url: &'static str = Box::leak(redis.url().to_owned().into_boxed_str());
        let env = [
            ("RECOVERY", "1"),
            ("REDIS_URL", url),
            ("REDIS_PREFIX", prefix),
            ("REDIS_HEARTBEAT_MS", "200"),
        ];
        let a = support::start_server(0, &env).await;
        let b = support::start_server(0, &env).await;
        let proxy = Proxy::start(a.addr()).await;
        let (client, lifecycle, events) = joined_through(&proxy).await;
        let other = Client::connect(b.ws_url("/")).await.unwrap();
        let mut nodes = Nodes {
            _redis: redis,
            a: Some(a),
            b,
            proxy,
            client,
            lifecycle,
            events,
            other,
        };
        // From B to A's client, through Redis: live.
        nodes.tick(0).await;
        assert_eq!(
            events_until_quiet(&mut nodes.events, Duration::from_millis(300)).await,
            [("tick".to_owned(), json!(0))]
        );
        Some(nodes)
    }

    /// Tick `n` to room `r`, from node B.
    async fn tick(&self, n: i32) {
        self.other
            .request::<Value, _>("to", &json!({"room": "r", "event": "tick", "data": n}))
            .await
            .unwrap();
    }

    async fn disconnected(&mut self) {
        next_lifecycle(&mut self.lifecycle, |event| {
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
    }

    /// While the client is away: ticks 1..=20 to its room, one message to everyone, one to
    /// another room; then it may come back, to node B.
    async fn while_away_then_back_to_b(&mut self) {
        for n in 1..=20 {
            self.tick(n).await;
        }
        to_all_and_elsewhere(&self.other).await;
        self.proxy.switch(self.b.addr());
        self.proxy.refuse(false);
    }

    /// Recovered on B: everything missed once, in order; then live there, in its room.
    async fn recovered_on_b(&mut self) {
        assert_eq!(registered(&mut self.lifecycle).await, (true, None));
        let mut expected: Vec<(String, Value)> =
            (1..=20).map(|n| ("tick".to_owned(), json!(n))).collect();
        expected.push(("said".to_owned(), json!("to all")));
        assert_eq!(
            events_until_quiet(&mut self.events, Duration::from_millis(300)).await,
            expected
        );
        self.tick(21).await;
        assert_eq!(
            events_until_quiet(&mut self.events, Duration::from_millis(300)).await,
            [("tick".to_owned(), json!(21))]
        );
        let mut rooms: Vec<String> = self.client.request("join", "s").await.unwrap();
        rooms.sort();
        assert_eq!(rooms, ["r", "s"]);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[tokio::test]
async fn a_client_cut_from_one_node_recovers_on_another() {
    let Some(mut nodes) = Nodes::start().await else {
        return;
    };
    nodes.proxy.refuse(true);
    nodes.proxy.cut();
    nodes.disconnected().await;
    nodes.while_away_then_back_to_b().await;
    nodes.recovered_on_b().await;
    // A stays up, and lost it for good: the session is B's now.
    assert!(nodes.a.is_some());
}

#[tokio::test]
async fn a_client_of_a_node_killed_with_sigkill_recovers_on_another() {
    let Some(mut nodes) = Nodes::start().await else {
        return;
    };
    nodes.proxy.refuse(true);
    // SIGKILL: A saves nothing; B takes the session from A's live ones once it sees A gone.
    drop(nodes.a.take());
    nodes.disconnected().await;
    nodes.while_away_then_back_to_b().await;
    nodes.recovered_on_b().await;
}

#[tokio::test]
async fn a_client_recovering_while_messages_keep_coming_gets_each_once_in_order() {
    let Some(mut nodes) = Nodes::start().await else {
        return;
    };
    nodes.proxy.refuse(true);
    nodes.proxy.cut();
    nodes.disconnected().await;
    // Ticks go on, from B, before, while and after the client registers on B: the replay and
    // the live messages must meet exactly.
    let ticker = Client::connect(nodes.b.ws_url("/")).await.unwrap();
    let ticking = tokio::spawn(async move {
        for n in 1..=300 {
            ticker
                .request::<Value, _>("to", &json!({"room": "r", "event": "tick", "data": n}))
                .await
                .unwrap();
            if n == 50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    nodes.proxy.switch(nodes.b.addr());
    nodes.proxy.refuse(false);
    assert_eq!(registered(&mut nodes.lifecycle).await, (true, None));
    ticking.await.unwrap();
    let got: Vec<Value> = events_until_quiet(&mut nodes.events, Duration::from_millis(500))
        .await
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    let expected: Vec<Value> = (1..=300).map(|n| json!(n)).collect();
    assert_eq!(got, expected);
}
