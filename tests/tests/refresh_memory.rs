//! What an expiry costs a socket, measured: live heap bytes per connection (server and test
//! client in one process, counted by dhat) for sockets whose guard sets no expiry and for
//! sockets whose guard does. The difference is the watcher task and its two extension entries;
//! a socket without an expiry has neither (there is no field for them in the socket).
//!
//! `cargo test -p nestgate-tests --test refresh_memory -- --nocapture` prints the figures.

use nestgate::App;
use nestgate::extract::Extension;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::testing::TestClient;
use nestgate_tests::{TestServer, serve};
use serde_json::Value;
use std::time::Duration;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[derive(Clone, Debug)]
struct Who(String);

/// `NAME` never expires; `NAME.SECS` expires SECS from now.
struct Token;

impl HandshakeGuard for Token {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .query("token")
            .ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
        let (name, ttl) = token.split_once('.').unwrap_or((&token, ""));
        if let Ok(secs) = ttl.parse::<u64>() {
            request.expires_in(Duration::from_secs(secs));
        }
        request.insert(Who(name.to_owned()));
        Ok(())
    }
}

#[websocket_gateway(path = "/", handshake_guards(Token))]
#[derive(Default)]
struct Measured;

#[websocket_gateway]
impl Measured {
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(who): Extension<Who>) -> String {
        who.0
    }
}

const SOCKETS: usize = 200;

/// Connects `SOCKETS` clients with `token` (each answered once, so its server side is fully
/// set up) and returns them with the live heap bytes they added.
async fn connect(server: &TestServer, token: &str) -> (Vec<TestClient>, i64) {
    let before = dhat::HeapStats::get().curr_bytes as i64;
    let mut clients = Vec::with_capacity(SOCKETS);
    for _ in 0..SOCKETS {
        let mut client = TestClient::connect(&server.url(&format!("/?token={token}")))
            .await
            .expect("connects");
        assert_eq!(
            client.request(1, "whoami", Value::Null).await["data"],
            "ann"
        );
        clients.push(client);
    }
    // Let the server's tasks reach their idle state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = dhat::HeapStats::get().curr_bytes as i64;
    (clients, after - before)
}

#[tokio::test]
async fn an_expiry_costs_only_the_sockets_that_have_one() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = serve(App::bare().gateway::<Measured>()).await;
    // Warm up: first-use allocations of the runtime, the server and the tables.
    let (warm, _) = connect(&server, "ann").await;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (plain, plain_bytes) = connect(&server, "ann").await;
    let (expiring, expiring_bytes) = connect(&server, "ann.600").await;
    let per_plain = plain_bytes / SOCKETS as i64;
    let per_expiring = expiring_bytes / SOCKETS as i64;
    println!(
        "live heap per connection (server + test client): no expiry {per_plain} B, with an expiry {per_expiring} B, difference {} B",
        per_expiring - per_plain
    );
    assert!(
        per_expiring > per_plain,
        "an expiring socket has a watcher task, so it must cost something: {per_plain} B vs {per_expiring} B"
    );
    assert!(
        per_expiring - per_plain < 1536,
        "the watcher of an expiring socket costs {} B (budget 1.5 KiB; 0.74 KiB measured)",
        per_expiring - per_plain
    );
    drop((plain, expiring));
}
