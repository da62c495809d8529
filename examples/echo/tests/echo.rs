//! Starts the echo example's binary and talks to it over a real socket.

use nestgate::testing::{ChildServer, TestClient};
use serde_json::json;

#[tokio::test]
async fn echo_replies_and_broadcast_reaches_everyone() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_echo"), &[]).expect("the echo example starts");
    let mut a = TestClient::connect(&server.ws_url("/")).await.unwrap();
    let mut b = TestClient::connect(&server.ws_url("/")).await.unwrap();
    // The upgrade's answer reaches a client before its socket joins the broadcast set (after the
    // connection hooks); an answered message proves it has.
    b.request(1, "echo", json!(null)).await;

    a.emit("echo", json!({"n": [1, 2, 3]})).await;
    assert_eq!(
        a.recv().await,
        json!({"event": "echo", "data": {"n": [1, 2, 3]}})
    );

    a.emit("broadcast", json!("hi")).await;
    assert_eq!(a.recv().await, json!({"event": "broadcast", "data": "hi"}));
    assert_eq!(b.recv().await, json!({"event": "broadcast", "data": "hi"}));

    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "the example exits cleanly on SIGTERM: {status}"
    );
}
