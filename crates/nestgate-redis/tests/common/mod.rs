//! What the Redis tests share: a real Redis ([`TestRedis`]), nodes served on loopback, and
//! clients.

#![allow(dead_code, unreachable_pub)] // Each test file uses a part of this module.

use nestgate::testing::TestClient;
use nestgate::{App, AppHandle, Server};
pub use nestgate_redis::testing::TestRedis as Redis;
use nestgate_redis::testing::TestRedis;
use nestgate_redis::{RedisCluster, RedisConfig};
use std::net::SocketAddr;
use std::time::Duration;

/// A channel prefix no other test uses, so tests can share one Redis.
pub fn unique_prefix(test: &str) -> String {
    format!("test-{test}-{}", rand::random::<u32>())
}

/// A configuration with short timings, for tests.
pub fn config(redis: &TestRedis, prefix: &str) -> RedisConfig {
    RedisConfig::new(redis.url())
        .prefix(prefix)
        .discovery(Duration::from_millis(50))
        .heartbeat_interval(Duration::from_millis(500))
        .heartbeat_timeout(Duration::from_millis(1500))
        .request_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
}

/// One node: an app served on a free loopback port, over a cluster handle.
#[derive(Debug)]
pub struct Node {
    pub cluster: RedisCluster,
    pub addr: SocketAddr,
    pub handle: AppHandle,
}

impl Node {
    /// Connects a node and serves `app` over it.
    pub async fn start(config: RedisConfig, app: App) -> Node {
        let cluster = RedisCluster::connect(config)
            .await
            .expect("the node connects");
        let listening = app
            .adapter(cluster.clone())
            .bind("127.0.0.1:0")
            .await
            .expect("the app builds and binds");
        let addr = listening.local_addr();
        let handle = listening.handle();
        tokio::spawn(listening.run_until(std::future::pending()));
        Node {
            cluster,
            addr,
            handle,
        }
    }

    /// The server of `path` on this node.
    pub fn server(&self, path: &str) -> Server {
        self.handle.server(path).expect("the path has a gateway")
    }

    /// A client connected to this node at `path_and_query`.
    pub async fn client(&self, path_and_query: &str) -> TestClient {
        TestClient::connect(&format!("ws://{}{path_and_query}", self.addr))
            .await
            .expect("the client connects")
    }
}

/// Starts `count` nodes of the same cluster and waits until each knows all the others.
pub async fn cluster(config: &RedisConfig, count: usize, app: fn() -> App) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(Node::start(config.clone(), app()).await);
    }
    wait_for_nodes(&nodes, count - 1).await;
    nodes
}

/// Waits until every node sees `others` other nodes.
pub async fn wait_for_nodes(nodes: &[Node], others: usize) {
    wait_until("every node knows the others", || {
        nodes
            .iter()
            .all(|node| node.cluster.nodes().len() == others)
    })
    .await;
}

/// Polls `condition` every 20 ms for up to 10 s.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}
