//! The Redis adapter's counters as the app's metrics: a node of a two-node cluster serving
//! `/metrics` (`App::metrics_endpoint`) reports its link up, the other node, and what it
//! published and received.

mod common;

use common::{Node, Redis, config, unique_prefix, wait_for_nodes};
use nestgate::App;
use nestgate::prelude::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[websocket_gateway(path = "/counted")]
#[derive(Debug, Default)]
struct Counted;

#[websocket_gateway]
impl Counted {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

async fn scrape(node: &Node) -> String {
    let mut stream = tokio::net::TcpStream::connect(node.addr).await.unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        node.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

fn value(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {scrape}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_link_to_redis_is_in_its_metrics() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("metrics"));
    let counted = Node::start(
        config.clone(),
        App::bare()
            .gateway::<Counted>()
            .metrics_endpoint("/metrics"),
    )
    .await;
    let other = Node::start(config, App::bare().gateway::<Counted>()).await;
    let nodes = [counted, other];
    wait_for_nodes(&nodes, 1).await;
    // Heartbeats every 500 ms: the metrics follow at the next tick.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let scrape = scrape(&nodes[0]).await;
    assert_eq!(value(&scrape, "nestgate_redis_connected"), 1.0);
    assert_eq!(value(&scrape, "nestgate_redis_nodes"), 1.0);
    assert!(value(&scrape, "nestgate_redis_published_total") >= 1.0);
    assert!(value(&scrape, "nestgate_redis_received_total") >= 1.0);
    assert_eq!(value(&scrape, "nestgate_redis_dropped_total"), 0.0);
    assert_eq!(value(&scrape, "nestgate_redis_request_timeouts_total"), 0.0);
    // The numbers are the node's own.
    let stats = nodes[0].cluster.stats();
    assert!(stats.published as f64 >= value(&scrape, "nestgate_redis_published_total"));
}
