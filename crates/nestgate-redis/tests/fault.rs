//! Redis stopped and restarted while clients are connected: every node keeps serving its own
//! clients, reconnects with backoff, and cluster broadcasts resume.

mod common;

use common::{Node, Redis, cluster, config, unique_prefix, wait_until};
use nestgate::App;
use nestgate::adapter::AdapterError;
use nestgate::prelude::*;
use nestgate::testing::TestClient;
use serde_json::{Value, json};
use std::time::Duration;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Echo;

#[websocket_gateway]
impl Echo {
    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }
}

fn app() -> App {
    App::bare().gateway::<Echo>()
}

async fn expect(client: &mut TestClient, event: &str, data: Value) {
    assert_eq!(client.recv().await, json!({"event": event, "data": data}));
}

async fn expect_nothing(client: &mut TestClient) {
    if let Some(frame) = client.try_recv(Duration::from_millis(150)).await {
        panic!("expected nothing, got {frame}");
    }
}

fn all_connected(nodes: &[Node], connected: bool) -> bool {
    nodes
        .iter()
        .all(|node| node.cluster.stats().connected == connected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_serve_their_clients_while_redis_is_down_and_the_cluster_resumes() {
    // Always our own server: the test stops it.
    let Some(mut redis) = Redis::own().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("fault"));
    let nodes = cluster(&config, 3, app).await;
    let servers: Vec<_> = nodes.iter().map(|node| node.server("/")).collect();
    let mut a = nodes[0].client("/").await;
    let mut a2 = nodes[0].client("/").await;
    let mut b = nodes[1].client("/").await;
    let mut c = nodes[2].client("/").await;
    wait_until("4 sockets", || {
        servers
            .iter()
            .map(|server| server.local_socket_count())
            .sum::<usize>()
            == 4
    })
    .await;
    servers[0].emit("before", &1).unwrap();
    for client in [&mut a, &mut a2, &mut b, &mut c] {
        expect(client, "before", json!(1)).await;
    }

    redis.stop();
    wait_until("every node notices", || all_connected(&nodes, false)).await;

    // Local clients are served: broadcasts reach this node's clients, handlers answer.
    servers[0].emit("during", &2).unwrap();
    expect(&mut a, "during", json!(2)).await;
    expect(&mut a2, "during", json!(2)).await;
    expect_nothing(&mut b).await;
    expect_nothing(&mut c).await;
    let answer = b.request(1, "echo", json!("still here")).await;
    assert_eq!(answer["data"], "still here");
    // Queries fail at once rather than hang or answer for one node only.
    let started = std::time::Instant::now();
    let result = servers[1].fetch_sockets().await;
    assert!(
        matches!(result, Err(AdapterError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    // Nothing is buffered while Redis is away: the cluster part of each broadcast is dropped,
    // and counted.
    let dropped = nodes[2].cluster.stats().dropped;
    for n in 0..1_000 {
        servers[2].emit("burst", &n).unwrap();
    }
    for n in 0..1_000 {
        expect(&mut c, "burst", json!(n)).await;
    }
    let stats = nodes[2].cluster.stats();
    assert!(stats.dropped >= dropped + 1_000, "{stats:?}");
    assert!(stats.connection_losses >= 1, "{stats:?}");

    redis.restart().await;
    wait_until("every node reconnects", || all_connected(&nodes, true)).await;
    common::wait_for_nodes(&nodes, 2).await;
    for node in &nodes {
        let stats = node.cluster.stats();
        assert!(stats.reconnects >= 1, "{stats:?}");
    }

    // Cluster broadcasts and queries resume, each client served once.
    servers[1].emit("after", &3).unwrap();
    for client in [&mut a, &mut a2, &mut b, &mut c] {
        expect(client, "after", json!(3)).await;
    }
    for client in [&mut a, &mut a2, &mut b, &mut c] {
        expect_nothing(client).await;
    }
    assert_eq!(servers[2].fetch_sockets().await.unwrap().len(), 4);
}
