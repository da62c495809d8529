//! Three chat processes over one Redis are one chat: the same room, the same messages, the same
//! online count, whichever process each client reaches.

use nestgate::testing::{ChildServer, TestClient};
use nestgate_redis::testing::TestRedis;
use serde_json::{Value, json};

/// The data of the next frame with this event, skipping others (online counts, notices).
async fn next(client: &mut TestClient, event: &str) -> Value {
    next_by(client, event, "").await
}

/// The data of the next frame with this event about someone other than `not`.
async fn next_by(client: &mut TestClient, event: &str, not: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["event"] == event && frame["data"]["name"] != not {
            return frame["data"].clone();
        }
    }
}

#[tokio::test]
async fn the_chat_on_two_of_three_processes_shows_the_same_room() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let prefix = format!("cluster-test-{}", std::process::id());
    let env = [
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let nodes: Vec<_> = (0..3)
        .map(|_| ChildServer::start(env!("CARGO_BIN_EXE_cluster"), &env).expect("a node starts"))
        .collect();

    let mut alice = TestClient::connect(&nodes[0].ws_url("/chat"))
        .await
        .unwrap();
    alice.emit("join", json!({"name": "alice"})).await;
    let welcome = next(&mut alice, "welcome").await;
    assert_eq!(welcome["online"], 1);
    assert_eq!(welcome["rooms"], json!(["general"]));

    let mut bob = TestClient::connect(&nodes[1].ws_url("/chat"))
        .await
        .unwrap();
    bob.emit("join", json!({"name": "bob"})).await;
    assert_eq!(next(&mut bob, "welcome").await["online"], 2);
    // Alice, on another process, hears of bob.
    assert_eq!(next_by(&mut alice, "joined", "alice").await["name"], "bob");

    // A room joined on two processes, and a message in it.
    alice.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(
        next(&mut alice, "my_rooms").await["rooms"],
        json!(["general", "rust"])
    );
    bob.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(next_by(&mut alice, "joined", "alice").await["room"], "rust");
    bob.emit("message", json!({"room": "rust", "text": "hello from 2"}))
        .await;
    let message = next(&mut alice, "message").await;
    assert_eq!(
        (message["name"].as_str(), message["text"].as_str()),
        (Some("bob"), Some("hello from 2"))
    );
    assert_eq!(next(&mut bob, "message").await["text"], "hello from 2");

    // The room list and sizes, asked on the third process, count both.
    let mut carol = TestClient::connect(&nodes[2].ws_url("/chat"))
        .await
        .unwrap();
    carol.emit("rooms", Value::Null).await;
    assert_eq!(
        next(&mut carol, "rooms").await["rooms"],
        json!([{"name": "general", "size": 2}, {"name": "rust", "size": 2}])
    );

    // Bob leaves: alice, elsewhere, is told, and the count drops.
    bob.close().await;
    assert_eq!(next(&mut alice, "left").await["name"], "bob");
    assert_eq!(next(&mut alice, "online").await["count"], 1);

    for node in nodes {
        assert!(node.terminate().unwrap().success());
    }
}
