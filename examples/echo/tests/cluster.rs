//! Three echo processes with `REDIS_URL` set are one server: a broadcast sent to any of them
//! reaches the clients of all three, once.

use nestgate::testing::{ChildServer, TestClient};
use nestgate_redis::testing::TestRedis;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn three_echo_processes_over_redis_broadcast_to_each_other() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let prefix = format!("echo-test-{}", std::process::id());
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let servers: Vec<_> = (0..3)
        .map(|_| ChildServer::start(env!("CARGO_BIN_EXE_echo"), &env).expect("echo starts"))
        .collect();
    let mut clients = Vec::new();
    for server in &servers {
        clients.push(TestClient::connect(&server.ws_url("/")).await.unwrap());
    }

    for (n, sender) in [0, 2, 1].into_iter().enumerate() {
        clients[sender].emit("broadcast", json!(n)).await;
        for client in &mut clients {
            assert_eq!(
                client.recv().await,
                json!({"event": "broadcast", "data": n})
            );
        }
    }
    // Each client got each broadcast once, and echo still answers the sender only.
    clients[1].emit("echo", json!("me")).await;
    assert_eq!(
        clients[1].recv().await,
        json!({"event": "echo", "data": "me"})
    );
    for client in &mut clients {
        assert_eq!(client.try_recv(Duration::from_millis(100)).await, None);
    }
    for server in servers {
        assert!(server.terminate().unwrap().success());
    }
}
