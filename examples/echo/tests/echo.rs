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

/// `RECOVERY=1`: every connection starts with `nestgate:connected`; the `echo` reply is stored
/// (it carries an `offset`), the volatile broadcast is not (no `offset`, nothing replayed), and
/// a lost connection comes back as the same socket.
#[tokio::test]
async fn with_recovery_the_events_are_unchanged_and_a_lost_connection_comes_back() {
    let server = ChildServer::start(env!("CARGO_BIN_EXE_echo"), &[("RECOVERY", "1")])
        .expect("the echo example starts");
    let url = server.ws_url("/");
    let (mut a, first) = connected(&url).await;
    assert_eq!(first["recovered"], false, "{first}");
    // Registered: from now on broadcasts reach it.
    let (mut b, _) = connected(&url).await;

    a.emit("echo", json!([1, 2])).await;
    let reply = a.recv().await;
    assert_eq!(
        (&reply["event"], &reply["data"]),
        (&json!("echo"), &json!([1, 2]))
    );
    let offset = reply["offset"]
        .as_str()
        .expect("a stored reply's offset")
        .to_owned();
    b.emit("broadcast", json!("hi")).await;
    assert_eq!(a.recv().await, json!({"event": "broadcast", "data": "hi"}));
    assert_eq!(b.recv().await, json!({"event": "broadcast", "data": "hi"}));

    // The connection is lost (no close frame); a broadcast meanwhile is volatile, not stored.
    drop(a);
    b.emit("broadcast", json!("while away")).await;
    assert_eq!(b.recv().await["data"], "while away");
    // Where the client left off: after the reply it got.
    let back = format!(
        "{url}?session={}&offset={offset}",
        first["session"].as_str().expect("a session"),
    );
    let (mut a, again) = recovered(&back).await;
    assert_eq!(again["id"], first["id"], "the same socket: {again}");
    assert_eq!(
        a.try_recv(std::time::Duration::from_millis(300)).await,
        None,
        "nothing replayed"
    );
    b.emit("broadcast", json!("back")).await;
    assert_eq!(
        a.recv().await,
        json!({"event": "broadcast", "data": "back"})
    );
}

/// Connects and reads `nestgate:connected`; returns its data too.
async fn connected(url: &str) -> (TestClient, serde_json::Value) {
    let mut client = TestClient::connect(url).await.unwrap();
    let frame = client.recv().await;
    assert_eq!(frame["event"], "nestgate:connected", "{frame}");
    let data = frame["data"].clone();
    (client, data)
}

/// Connects with a lost session until it is recovered: the server keeps the session once it
/// has seen the connection end, a moment after the client dropped it.
async fn recovered(url: &str) -> (TestClient, serde_json::Value) {
    for _ in 0..50 {
        let (client, data) = connected(url).await;
        if data["recovered"] == true {
            return (client, data);
        }
        assert_eq!(data["reason"], "unknown_session", "{data}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the session was not recovered within 5 s");
}
