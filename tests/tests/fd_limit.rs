//! At the file descriptor limit, new clients are refused with 503 and a log line, the accept
//! loop does not spin, and the server recovers when connections close.
//!
//! The server and its clients share this test process, so lowering the process's soft limit
//! exhausts both; the test lowers it just above what is open and raises it back at the end.

use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::TestClient;
use nestgate_tests::{assert_alive, serve};
use rlimit::Resource;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Limited;

#[websocket_gateway]
impl Limited {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count() as u64)
        .unwrap_or(0)
}

/// CPU time this process has used (user + system), in clock ticks (1/100 s here).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the parenthesized command name; utime and stime are the 14th and 15th.
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_clients_get_503_and_the_server_recovers() {
    let server = serve(App::bare().gateway::<Limited>()).await;
    let url = server.url("/");
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    let mut limit = open_descriptors() + 20;
    Resource::NOFILE.set(limit, hard).unwrap();

    let mut clients = Vec::new();
    let mut refused_with_503 = false;
    for _ in 0..200 {
        match TestClient::connect(&url).await {
            Ok(client) => clients.push(client),
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 503);
                refused_with_503 = true;
                break;
            }
            // The client side ran out first: give the client one more descriptor, so that the
            // next connection is the server's to refuse.
            Err(tungstenite::Error::Io(err)) if err.raw_os_error() == Some(24) => {
                limit += 1;
                Resource::NOFILE.set(limit, hard).unwrap();
            }
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }
    assert!(refused_with_503, "no 503 after {} clients", clients.len());
    assert!(!clients.is_empty());

    // Still at the limit: the accept loop must not spin meanwhile.
    let before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = cpu_ticks() - before;
    assert!(
        spent < 30,
        "the process used {spent} ticks of CPU in 1 s while idle at the limit"
    );

    // Connected clients are still served.
    assert_alive(clients.last_mut().unwrap()).await;

    // Room again: the next client gets in.
    drop(clients);
    Resource::NOFILE.set(soft, hard).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = TestClient::connect(&url)
        .await
        .expect("connects once descriptors are free");
    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}
