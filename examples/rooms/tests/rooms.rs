//! Starts the rooms example's binary and exercises each of its events over real sockets: who
//! receives what, for every operator.

use nestgate::testing::{ChildServer, Closed, TestClient};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a client waits to be sure that nothing comes.
const QUIET: Duration = Duration::from_millis(300);

/// Connects to `/rooms` and returns the client with its id, from the `hello` frame.
async fn connect(server: &ChildServer) -> (TestClient, String) {
    let mut client = TestClient::connect(&server.ws_url("/rooms")).await.unwrap();
    let hello = client.recv().await;
    assert_eq!(hello["event"], "hello", "{hello}");
    let id = hello["data"]["id"]
        .as_str()
        .expect("hello has an id")
        .to_owned();
    (client, id)
}

/// Sends `event` with an ack `id` and returns the reply's data, checking that the reply is the
/// very next frame and not an error.
async fn ask(client: &mut TestClient, id: u64, event: &str, data: Value) -> Value {
    client
        .send_json(json!({"event": event, "data": data, "id": id}))
        .await;
    let reply = client.recv().await;
    assert_eq!(
        reply["ack"], id,
        "expected the reply to {event}, got {reply}"
    );
    assert!(reply.get("error").is_none(), "{event} failed: {reply}");
    reply["data"].clone()
}

/// A `said` frame.
fn said(via: &str, from: &str, room: Option<&str>, text: &str) -> Value {
    let mut data = json!({"via": via, "from": from, "text": text});
    if let Some(room) = room {
        data["room"] = json!(room);
    }
    json!({"event": "said", "data": data})
}

/// Asserts that nothing arrives for a moment.
async fn assert_quiet(client: &mut TestClient, who: &str) {
    if let Some(frame) = client.try_recv(QUIET).await {
        panic!("{who} should have received nothing, got {frame}");
    }
}

/// Sends `GET {target}` over HTTP/1.0 and returns the status code and body.
fn http_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response has a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

#[tokio::test]
async fn every_operator_reaches_whom_it_says() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_rooms"), &[]).expect("the rooms example starts");
    let (mut a, a_id) = connect(&server).await;
    let (mut b, b_id) = connect(&server).await;
    let (mut c, c_id) = connect(&server).await;
    let mut admin = TestClient::connect(&server.ws_url("/admin")).await.unwrap();

    // join / leave: a in red and blue, b in red, c in blue (and briefly in yellow).
    assert_eq!(
        ask(&mut a, 1, "join", json!({"rooms": ["red", "blue"]})).await,
        json!({"rooms": ["red", "blue"]})
    );
    assert_eq!(
        ask(&mut b, 1, "join", json!({"rooms": ["red"]})).await,
        json!({"rooms": ["red"]})
    );
    assert_eq!(
        ask(&mut c, 1, "join", json!({"rooms": ["blue", "yellow"]})).await,
        json!({"rooms": ["blue", "yellow"]})
    );
    assert_eq!(
        ask(
            &mut c,
            2,
            "leave",
            json!({"rooms": ["yellow", "never-joined"]})
        )
        .await,
        json!({"rooms": ["blue"]})
    );
    let refused = {
        c.send_json(json!({"event": "join", "data": {"rooms": [""]}, "id": 3}))
            .await;
        c.recv().await
    };
    assert_eq!(refused["ack"], 3);
    assert_eq!(refused["error"]["message"], "a room name cannot be empty");

    // Room lists and sizes.
    assert_eq!(
        ask(&mut a, 2, "rooms", Value::Null).await,
        json!({"all": ["blue", "red"], "mine": ["red", "blue"]})
    );
    for (room, size) in [("red", 2), ("blue", 2), ("yellow", 0)] {
        assert_eq!(
            ask(&mut a, 3, "size", json!({ "room": room })).await,
            json!({"room": room, "size": size})
        );
    }

    // to: red's members but the sender (b); c, not in red, gets nothing.
    a.emit("to", json!({"room": "red", "text": "to red"})).await;
    assert_eq!(b.recv().await, said("to", &a_id, Some("red"), "to red"));
    // to a socket id: that socket alone, a private message.
    a.emit("to", json!({"room": c_id, "text": "psst"})).await;
    assert_eq!(c.recv().await, said("to", &a_id, Some(&c_id), "psst"));

    // within: blue's members, the sender included (a and c), not b.
    a.emit("within", json!({"room": "blue", "text": "within blue"}))
        .await;
    let within = said("within", &a_id, Some("blue"), "within blue");
    assert_eq!(a.recv().await, within);
    assert_eq!(c.recv().await, within);

    // except: everyone but the sender and blue's members: b alone.
    a.emit("except", json!({"room": "blue", "text": "not blue"}))
        .await;
    assert_eq!(
        b.recv().await,
        said("except", &a_id, Some("blue"), "not blue")
    );

    // broadcast: everyone but the sender.
    a.emit("broadcast", json!({"text": "all but me"})).await;
    let broadcast = said("broadcast", &a_id, None, "all but me");
    assert_eq!(b.recv().await, broadcast);
    assert_eq!(c.recv().await, broadcast);

    // local and volatile: everyone, the sender included (one process, queues not full).
    for via in ["local", "volatile"] {
        a.emit(via, json!({"text": via})).await;
        let frame = said(via, &a_id, None, via);
        for client in [&mut a, &mut b, &mut c] {
            assert_eq!(client.recv().await, frame);
        }
    }
    // Nothing else arrived: in particular, not `to red` for c, nor `within blue` or `not blue`
    // for the sockets left out (each client's frames arrive in order, and the last emits
    // reached all three).
    assert_quiet(&mut a, "a").await;

    // poll: c asks red (a and b); a answers, b does not; c gets both outcomes, the late one
    // last (after 1 s: a must answer within it, even on a busy machine).
    c.send_json(json!({
        "event": "poll",
        "data": {"room": "red", "question": "lunch?", "timeout_ms": 1000},
        "id": 10,
    }))
    .await;
    let question = a.recv().await;
    assert_eq!(question["event"], "question", "{question}");
    assert_eq!(question["data"], "lunch?");
    let ack_id = question["id"].as_u64().expect("a question carries an id");
    a.send_json(json!({"ack": ack_id, "data": "yes"})).await;
    let question = b.recv().await;
    assert_eq!(question["event"], "question", "{question}");
    let late_id = question["id"].clone();
    let reply = c.recv().await;
    assert_eq!(
        reply,
        json!({"ack": 10, "data": [
            {"socket": a_id, "answer": "yes"},
            {"socket": b_id, "error": "the client did not acknowledge in time"},
        ]})
    );
    // An answer after the timeout is dropped; b's connection is fine.
    b.send_json(json!({"ack": late_id, "data": "too late"}))
        .await;
    assert_eq!(
        ask(&mut b, 2, "size", json!({"room": "red"})).await,
        json!({"room": "red", "size": 2})
    );

    // confirm: the server asks the sender itself and replies with its answer...
    a.send_json(json!({"event": "confirm", "data": {"question": "sure?"}, "id": 11}))
        .await;
    let question = a.recv().await;
    assert_eq!(question["event"], "confirm", "{question}");
    assert_eq!(question["data"], "sure?");
    a.send_json(json!({"ack": question["id"], "data": true}))
        .await;
    assert_eq!(a.recv().await, json!({"ack": 11, "data": {"answer": true}}));
    // ... or, when the client does not answer in time, with the reason.
    a.send_json(json!({
        "event": "confirm",
        "data": {"question": "still there?", "timeout_ms": 200},
        "id": 12,
    }))
    .await;
    assert_eq!(a.recv().await["event"], "confirm");
    let reply = a.recv().await;
    assert_eq!(reply["ack"], 12, "{reply}");
    assert_eq!(
        reply["error"]["message"], "the client did not acknowledge in time",
        "{reply}"
    );

    // who: fetch_sockets, in a room or everywhere.
    let mut red = vec![
        (a_id.clone(), json!(["red", "blue"])),
        (b_id.clone(), json!(["red"])),
    ];
    red.sort_by(|x, y| x.0.cmp(&y.0));
    let who_red = ask(&mut c, 13, "who", json!({"room": "red"})).await;
    let who_red: Vec<(String, Value)> = who_red
        .as_array()
        .expect("who replies a list")
        .iter()
        .map(|member| {
            assert_eq!(member["uri"], "/rooms", "{member}");
            (
                member["id"].as_str().unwrap().to_owned(),
                member["rooms"].clone(),
            )
        })
        .collect();
    assert_eq!(who_red, red);
    let everyone = ask(&mut c, 14, "who", Value::Null).await;
    assert_eq!(everyone.as_array().map(Vec::len), Some(3), "{everyone}");

    // sockets_join / sockets_leave: blue's members (a, c) join green, then green's leave blue.
    assert_eq!(
        ask(
            &mut b,
            3,
            "sockets_join",
            json!({"room": "blue", "join": "green"})
        )
        .await,
        json!({"room": "green", "size": 2})
    );
    assert_eq!(
        ask(&mut a, 4, "rooms", Value::Null).await,
        json!({"all": ["blue", "green", "red"], "mine": ["red", "blue", "green"]})
    );
    assert_eq!(
        ask(
            &mut b,
            4,
            "sockets_leave",
            json!({"room": "green", "leave": "blue"})
        )
        .await,
        json!({"room": "blue", "size": 0})
    );
    assert_eq!(
        ask(&mut c, 15, "rooms", Value::Null).await,
        json!({"all": ["green", "red"], "mine": ["green"]})
    );

    // server.of: /rooms reaches /admin...
    assert_eq!(
        ask(&mut a, 5, "notify_admins", json!({"text": "help"})).await,
        json!({"admins": 1})
    );
    assert_eq!(
        admin.recv().await,
        json!({"event": "notice", "data": {"from": a_id, "text": "help"}})
    );
    // ... and /admin reaches a room of /rooms.
    assert_eq!(
        ask(
            &mut admin,
            1,
            "announce",
            json!({"room": "red", "text": "from admin"})
        )
        .await,
        json!({"sockets": 2})
    );
    let announcement = json!({"event": "announcement", "data": {"from": "admin", "room": "red", "text": "from admin"}});
    assert_eq!(a.recv().await, announcement);
    assert_eq!(b.recv().await, announcement);

    // AppHandle::server: an HTTP route emits to a room.
    let addr = server.addr();
    let (status, body) = tokio::task::spawn_blocking(move || {
        http_get(addr, "/announce?room=green&text=hello%20from%20http")
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "announced to 2 sockets in green\n");
    let announcement = json!({"event": "announcement", "data": {"from": "http", "room": "green", "text": "hello from http"}});
    assert_eq!(a.recv().await, announcement);
    assert_eq!(c.recv().await, announcement);
    let (status, _) = tokio::task::spawn_blocking(move || http_get(addr, "/announce?room=green"))
        .await
        .unwrap();
    assert_eq!(status, 400, "the text is required");

    // disconnect_sockets: c kicks green's members but itself: a. b, not in green, stays.
    assert_eq!(
        ask(&mut c, 16, "kick", json!({"room": "green"})).await,
        json!({"kicked": 1})
    );
    assert_eq!(
        a.closed().await,
        Closed::Frame(1000, "disconnected by the server".to_owned())
    );
    assert_eq!(
        ask(&mut b, 5, "who", Value::Null)
            .await
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Nothing was sent to c or b that this test did not read.
    assert_quiet(&mut b, "b").await;
    assert_quiet(&mut c, "c").await;

    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "the example exits cleanly on SIGTERM: {status}"
    );
}
