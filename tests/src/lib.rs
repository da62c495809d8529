//! The fixture shared by nestgate's integration tests: a real server on 127.0.0.1:0.

pub mod socketio;

use nestgate::App;
use nestgate::testing::TestClient;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub use nestgate::testing::TestServer;

/// Binds `app` to 127.0.0.1:0 and serves it in the background ([`TestServer::start`]).
pub async fn serve(app: App) -> TestServer {
    TestServer::start(app).await
}

/// Raw HTTP against a [`TestServer`], for the tests of what comes before the upgrade.
pub trait HttpStatus {
    /// Sends a raw HTTP/1.1 request and returns the status code of the response.
    fn http_status(&self, request: &str) -> impl std::future::Future<Output = u16>;
}

impl HttpStatus for TestServer {
    async fn http_status(&self, request: &str) -> u16 {
        let mut stream = tokio::net::TcpStream::connect(self.addr())
            .await
            .expect("connects");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("writes the request");
        let mut head = vec![0; 1024];
        let n = stream.read(&mut head).await.expect("reads the response");
        let text = String::from_utf8_lossy(&head[..n]);
        text.split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text}"))
    }
}

/// A WebSocket upgrade request for `path`, as a browser sends it.
pub fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

/// Asserts that a client still gets answers: sends `ping` with an id and expects `"pong"`.
/// The app under test must have a `ping` handler returning `"pong"`.
pub async fn assert_alive(client: &mut TestClient) {
    let answer = client
        .request(u64::MAX, "ping", serde_json::Value::Null)
        .await;
    assert_eq!(
        answer.get("data").and_then(|d| d.as_str()),
        Some("pong"),
        "{answer}"
    );
}

/// Asserts that each reader of a flooded broadcast received what the default inbound rate
/// limit (100 messages/s, bursts of 200) lets through in `elapsed`: at most the burst plus the
/// rate over the whole time, at least a good part of the burst.
pub fn assert_at_the_default_rate(counts: &[usize], elapsed: std::time::Duration) {
    let elapsed = elapsed.as_secs_f64();
    let most = 200.0 + 100.0 * elapsed + 5.0;
    for &received in counts {
        assert!(
            received as f64 <= most,
            "{counts:?} in {elapsed:.2} s: over the limit"
        );
        assert!(
            received >= 150,
            "{counts:?} in {elapsed:.2} s: far under the limit"
        );
    }
}
