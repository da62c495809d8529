//! Three echo processes with `REDIS_URL` set are one server: a broadcast sent to any of them
//! reaches the clients of all three, once, whether they speak ws-json or Socket.IO.

use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::testing::{ChildServer, TestClient};
use nestgate_redis::testing::TestRedis;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The next Socket.IO packet other than an Engine.IO ping (which it answers).
async fn next_packet<S>(ws: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a packet within 10 s")
            .expect("the connection is open")
            .expect("a frame");
        if let Message::Text(text) = next {
            if text.as_str() == "2" {
                let _ = ws.send(Message::text("3")).await;
                continue;
            }
            return text.to_string();
        }
    }
}

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

    // A Socket.IO client on another process gets ws-json clients' broadcasts too.
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        servers[2].addr()
    );
    let (mut socketio, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(
        next_packet(&mut socketio).await.starts_with('0'),
        "the Engine.IO open packet"
    );
    socketio.send(Message::text("40")).await.unwrap();
    assert!(
        next_packet(&mut socketio).await.starts_with("40"),
        "connected to namespace /"
    );
    clients[0]
        .emit("broadcast", json!("to both protocols"))
        .await;
    assert_eq!(
        next_packet(&mut socketio).await,
        r#"42["broadcast","to both protocols"]"#
    );
    for client in &mut clients {
        assert_eq!(
            client.recv().await,
            json!({"event": "broadcast", "data": "to both protocols"})
        );
    }
    drop(socketio);

    for server in servers {
        assert!(server.terminate().unwrap().success());
    }
}
