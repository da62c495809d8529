//! Starts the chat example's binary and talks to it over real sockets, as two clients would.

use nestgate::testing::{ChildServer, TestClient};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// Asserts that `frame` is an exception frame carrying `message`.
#[track_caller]
fn assert_exception(frame: &Value, message: &str) {
    assert_eq!(
        frame["event"], "exception",
        "expected an exception, got {frame}"
    );
    assert_eq!(frame["data"]["status"], "error", "{frame}");
    assert_eq!(frame["data"]["message"], message, "{frame}");
}

#[tokio::test]
async fn two_clients_join_talk_and_leave() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let mut alice = TestClient::connect(&server.ws_url("/chat")).await.unwrap();
    let mut bob = TestClient::connect(&server.ws_url("/chat")).await.unwrap();

    // Writing before joining is refused, and the connection stays usable.
    bob.emit("message", json!({"text": "hello?"})).await;
    assert_exception(&bob.recv().await, "join first");

    // Names are trimmed and hold 1 to 32 characters.
    alice.emit("join", json!({"name": "   "})).await;
    assert_exception(&alice.recv().await, "a name has 1 to 32 characters");
    alice.emit("join", json!({"name": "a".repeat(33)})).await;
    assert_exception(&alice.recv().await, "a name has 1 to 32 characters");
    alice.emit("join", json!({"nom": "alice"})).await;
    assert_eq!(
        alice.recv().await["event"],
        "exception",
        "a payload without `name` is refused"
    );

    // Alice joins: she is welcomed first, then everyone (bob too, though he has not joined) hears.
    alice.emit("join", json!({"name": "  alice "})).await;
    let welcome = alice.recv().await;
    assert_eq!(welcome["event"], "welcome", "{welcome}");
    let alice_id = welcome["data"]["id"]
        .as_str()
        .expect("welcome has an id")
        .to_owned();
    assert_eq!(
        welcome,
        json!({"event": "welcome", "data": {"id": alice_id, "name": "alice", "online": 1}})
    );
    let joined = json!({"event": "joined", "data": {"id": alice_id, "name": "alice"}});
    assert_eq!(alice.recv().await, joined);
    assert_eq!(bob.recv().await, joined);

    // Joining twice is refused.
    alice.emit("join", json!({"name": "alice2"})).await;
    assert_exception(&alice.recv().await, "already joined as alice");

    // Bob joins.
    bob.emit("join", json!({"name": "bob"})).await;
    let welcome = bob.recv().await;
    let bob_id = welcome["data"]["id"]
        .as_str()
        .expect("welcome has an id")
        .to_owned();
    assert_ne!(alice_id, bob_id);
    assert_eq!(
        welcome,
        json!({"event": "welcome", "data": {"id": bob_id, "name": "bob", "online": 2}})
    );
    let joined = json!({"event": "joined", "data": {"id": bob_id, "name": "bob"}});
    assert_eq!(bob.recv().await, joined);
    assert_eq!(alice.recv().await, joined);

    // A message reaches both, the sender included, stamped with the server's clock.
    let before = unix_millis();
    alice.emit("message", json!({"text": "hi bob"})).await;
    for client in [&mut alice, &mut bob] {
        let frame = client.recv().await;
        assert_eq!(frame["event"], "message", "{frame}");
        let data = &frame["data"];
        assert_eq!(data["id"], alice_id.as_str());
        assert_eq!(data["name"], "alice");
        assert_eq!(data["text"], "hi bob");
        let at = data["at"]
            .as_u64()
            .expect("`at` is a number of milliseconds");
        assert!(
            at >= before - 1000 && at <= unix_millis() + 1000,
            "`at` is now: {at}"
        );
    }

    // Empty and overlong messages are refused.
    bob.emit("message", json!({"text": " \n "})).await;
    assert_exception(&bob.recv().await, "a message has 1 to 2000 characters");
    bob.emit("message", json!({"text": "x".repeat(2001)})).await;
    assert_exception(&bob.recv().await, "a message has 1 to 2000 characters");
    bob.emit("message", json!({"text": "é".repeat(2000)})).await;
    assert_eq!(
        bob.recv().await["data"]["text"],
        "é".repeat(2000),
        "2000 characters fit"
    );
    assert_eq!(alice.recv().await["data"]["name"], "bob");

    // Alice leaves: bob is told.
    alice.close().await;
    assert_eq!(
        bob.recv().await,
        json!({"event": "left", "data": {"id": alice_id, "name": "alice"}})
    );

    // A newcomer is counted without alice.
    let mut carol = TestClient::connect(&server.ws_url("/chat")).await.unwrap();
    carol.emit("join", json!({"name": "carol"})).await;
    assert_eq!(carol.recv().await["data"]["online"], 2);

    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "the example exits cleanly on SIGTERM: {status}"
    );
}

#[test]
fn get_root_serves_the_page() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();

    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response has a head and a body");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
    assert!(
        body.contains("<title>nestgate chat</title>"),
        "the chat page"
    );
    for id in ["name", "join", "text", "send", "messages"] {
        assert!(body.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    assert!(body.contains("/chat"), "the page connects to /chat");
}

fn unix_millis() -> u64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(elapsed.as_millis()).unwrap()
}
