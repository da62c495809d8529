//! A real Redis for tests: the one `REDIS_URL` names, or a `redis-server` started on a free
//! loopback port. Enabled by the `testing` feature.
//!
//! ```no_run
//! # async fn test() {
//! use nestgate_redis::testing::TestRedis;
//!
//! // Says loudly why when there is no Redis to test against (and fails under `CI=true`).
//! let Some(redis) = TestRedis::any().await else { return };
//! let config = nestgate_redis::RedisConfig::new(redis.url());
//! # }
//! ```

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Redis for one test: `REDIS_URL`'s, or a `redis-server` of our own, stopped when dropped.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    own: Option<(u16, Child)>,
}

impl TestRedis {
    /// `REDIS_URL` if set, else a `redis-server` of our own. `None` (after saying so loudly) when
    /// neither works; under `CI=true` that fails the test instead.
    pub async fn any() -> Option<TestRedis> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            if reachable(&url).await {
                return Some(TestRedis { url, own: None });
            }
            return unavailable(&format!("REDIS_URL={url} does not answer"));
        }
        TestRedis::own().await
    }

    /// A `redis-server` of our own on a free loopback port, which the test may stop and restart.
    pub async fn own() -> Option<TestRedis> {
        let port = free_port();
        match start_server(port).await {
            Ok(child) => Some(TestRedis {
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

impl Drop for TestRedis {
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
