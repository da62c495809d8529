//! What the Redis tests share: a real Redis (the one `REDIS_URL` names, or a `redis-server`
//! started on a free loopback port), nodes served on loopback, and clients.

#![allow(dead_code, unreachable_pub)] // Each test file uses a part of this module.

use nestgate::testing::TestClient;
use nestgate::{App, AppHandle, Server};
use nestgate_redis::{RedisCluster, RedisConfig};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Redis for one test: `REDIS_URL`'s, or a `redis-server` of our own, stopped when dropped.
#[derive(Debug)]
pub struct Redis {
    url: String,
    own: Option<(u16, Child)>,
}

impl Redis {
    /// `REDIS_URL` if set, else a `redis-server` of our own. `None` (after saying so loudly) when
    /// neither works; under `CI=true` that fails the test instead.
    pub async fn any() -> Option<Redis> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            if reachable(&url).await {
                return Some(Redis { url, own: None });
            }
            return unavailable(&format!("REDIS_URL={url} does not answer"));
        }
        Redis::own().await
    }

    /// A `redis-server` of our own on a free loopback port, which the test may stop and restart.
    pub async fn own() -> Option<Redis> {
        let port = free_port();
        match start_server(port).await {
            Ok(child) => Some(Redis {
                url: format!("redis://127.0.0.1:{port}"),
                own: Some((port, child)),
            }),
            Err(err) => unavailable(&format!("cannot start redis-server: {err}")),
        }
    }

    /// The URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops our own server (SIGKILL: clients see their connections reset, as on a crash).
    pub fn stop(&mut self) {
        let (_, child) = self
            .own
            .as_mut()
            .expect("only our own redis-server can be stopped");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts our own server again on the same port.
    pub async fn restart(&mut self) {
        let (port, child) = self
            .own
            .as_mut()
            .expect("only our own redis-server can be restarted");
        *child = start_server(*port)
            .await
            .expect("redis-server starts again on its port");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some((_, child)) = &mut self.own {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Says loudly that the test cannot run; fails it under `CI=true`.
fn unavailable<T>(why: &str) -> Option<T> {
    let message = format!(
        "\n!!!!!!!! REDIS TEST NOT RUN: {why}.\n!!!!!!!! Set REDIS_URL, or install redis-server (apt-get install redis-server).\n"
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{message}");
    }
    eprintln!("{message}");
    None
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    listener.local_addr().expect("has an address").port()
}

async fn start_server(port: u16) -> std::io::Result<Child> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            return Err(std::io::Error::other(format!(
                "redis-server exited: {status}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    Err(std::io::Error::other(
        "redis-server did not listen within 5 s",
    ))
}

async fn reachable(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection()
        )
        .await,
        Ok(Ok(_))
    )
}

/// A channel prefix no other test uses, so tests can share one Redis.
pub fn unique_prefix(test: &str) -> String {
    format!("test-{test}-{}", rand::random::<u32>())
}

/// A configuration with short timings, for tests.
pub fn config(redis: &Redis, prefix: &str) -> RedisConfig {
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
