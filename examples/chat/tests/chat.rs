//! Starts the chat example's binary and talks to it over real sockets, as two clients would.

use nestgate::testing::{ChildServer, TestClient};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// A client of the chat, which has connection-state recovery on: each connection starts with
/// `nestgate:connected` (read here: the session to come back with), and each stored message
/// carries its `offset` beside `event` and `data` (kept here, the last one, and taken out of
/// the frame, so that the tests compare events and data alone).
struct Chat {
    client: TestClient,
    session: String,
    offset: String,
}

impl Chat {
    /// A new connection: not recovered.
    async fn connect(url: &str) -> Chat {
        let (chat, connected) = Chat::open(url).await;
        assert_eq!(connected["recovered"], false, "{connected}");
        chat
    }

    /// Connects to `url` and reads `nestgate:connected`; returns its data too.
    async fn open(url: &str) -> (Chat, Value) {
        let mut client = TestClient::connect(url).await.unwrap();
        let frame = client.recv().await;
        assert_eq!(frame["event"], "nestgate:connected", "{frame}");
        let data = frame["data"].clone();
        let field = |name: &str| {
            data[name]
                .as_str()
                .unwrap_or_else(|| panic!("nestgate:connected has a `{name}`: {data}"))
                .to_owned()
        };
        let chat = Chat {
            client,
            session: field("session"),
            offset: field("offset"),
        };
        (chat, data)
    }

    /// Comes back after `lost` (`?session=&offset=`, as `@nestgate/client` does); returns the
    /// data of `nestgate:connected` too.
    async fn come_back(url: &str, lost: Lost) -> (Chat, Value) {
        let url = format!("{url}?session={}&offset={}", lost.session, lost.offset);
        Chat::open(&url).await
    }

    /// Loses the connection, as a network that goes away does: the TCP connection closes with
    /// no close frame (the server keeps the session).
    fn lose(self) -> Lost {
        drop(self.client);
        Lost {
            session: self.session,
            offset: self.offset,
        }
    }

    async fn emit(&mut self, event: &str, data: Value) {
        self.client.emit(event, data).await;
    }

    /// The next frame, its `offset` (if stored) taken out.
    async fn recv(&mut self) -> Value {
        let mut frame = self.client.recv().await;
        if let Some(offset) = frame
            .as_object_mut()
            .and_then(|frame| frame.remove("offset"))
        {
            self.offset = offset.as_str().expect("an offset is a string").to_owned();
        }
        frame
    }

    async fn close(&mut self) {
        self.client.close().await;
    }
}

/// What a client whose connection was lost comes back with.
struct Lost {
    session: String,
    offset: String,
}

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

/// Joins as `name` and returns the socket's id, checking the frames the joiner gets: its
/// welcome, the new count of people online, and its own `joined` in `general`. Counts sent
/// before the welcome (others joining) are skipped.
async fn join(client: &mut Chat, name: &str, online: usize) -> String {
    client.emit("join", json!({ "name": name })).await;
    let welcome = recv_skipping_online(client).await;
    assert_eq!(welcome["event"], "welcome", "{welcome}");
    let id = welcome["data"]["id"]
        .as_str()
        .expect("welcome has an id")
        .to_owned();
    assert_eq!(
        welcome,
        json!({"event": "welcome", "data": {"id": id, "name": name.trim(), "online": online, "rooms": ["general"]}})
    );
    assert_eq!(client.recv().await, online_frame(online));
    assert_eq!(
        client.recv().await,
        who("joined", &id, name.trim(), "general")
    );
    id
}

/// `joined` or `left`.
fn who(event: &str, id: &str, name: &str, room: &str) -> Value {
    json!({"event": event, "data": {"id": id, "name": name, "room": room}})
}

/// The count of people online, as everyone gets it.
fn online_frame(count: usize) -> Value {
    json!({"event": "online", "data": {"count": count}})
}

/// The next frame that is not an `online` count.
async fn recv_skipping_online(client: &mut Chat) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["event"] != "online" {
            return frame;
        }
    }
}

/// Asserts that `frame` is a chat message from `name` in `room` saying `text`.
#[track_caller]
fn assert_message(frame: &Value, name: &str, room: &str, text: &str) {
    assert_eq!(frame["event"], "message", "{frame}");
    assert_eq!(frame["data"]["name"], name, "{frame}");
    assert_eq!(frame["data"]["room"], room, "{frame}");
    assert_eq!(frame["data"]["text"], text, "{frame}");
}

#[tokio::test]
async fn two_clients_join_talk_and_leave() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let mut alice = Chat::connect(&server.ws_url("/chat")).await;
    let mut bob = Chat::connect(&server.ws_url("/chat")).await;

    // Writing before joining is refused, and the connection stays usable.
    bob.emit("message", json!({"room": "general", "text": "hello?"}))
        .await;
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

    // Alice joins: she is welcomed first; everyone (bob too, though he has not joined) gets the
    // count of people online; only room `general` (alice) hears that she joined.
    let alice_id = join(&mut alice, "  alice ", 1).await;
    assert_eq!(bob.recv().await, online_frame(1));

    // Joining twice is refused.
    alice.emit("join", json!({"name": "alice2"})).await;
    assert_exception(&alice.recv().await, "already joined as alice");

    // Bob joins; alice, in `general` too, hears it.
    let bob_id = join(&mut bob, "bob", 2).await;
    assert_ne!(alice_id, bob_id);
    assert_eq!(alice.recv().await, online_frame(2));
    assert_eq!(alice.recv().await, who("joined", &bob_id, "bob", "general"));

    // A message reaches both, the sender included, stamped with the server's clock.
    let before = unix_millis();
    alice
        .emit("message", json!({"room": "general", "text": "hi bob"}))
        .await;
    for client in [&mut alice, &mut bob] {
        let frame = client.recv().await;
        assert_message(&frame, "alice", "general", "hi bob");
        assert_eq!(frame["data"]["id"], alice_id.as_str());
        let at = frame["data"]["at"]
            .as_u64()
            .expect("`at` is a number of milliseconds");
        assert!(
            at >= before - 1000 && at <= unix_millis() + 1000,
            "`at` is now: {at}"
        );
    }

    // Empty and overlong messages are refused.
    bob.emit("message", json!({"room": "general", "text": " \n "}))
        .await;
    assert_exception(&bob.recv().await, "a message has 1 to 2000 characters");
    bob.emit(
        "message",
        json!({"room": "general", "text": "x".repeat(2001)}),
    )
    .await;
    assert_exception(&bob.recv().await, "a message has 1 to 2000 characters");
    bob.emit(
        "message",
        json!({"room": "general", "text": "é".repeat(2000)}),
    )
    .await;
    assert_eq!(
        bob.recv().await["data"]["text"],
        "é".repeat(2000),
        "2000 characters fit"
    );
    assert_eq!(alice.recv().await["data"]["name"], "bob");

    // Alice leaves: bob is told, in `general`, and gets the new count.
    alice.close().await;
    assert_eq!(bob.recv().await, who("left", &alice_id, "alice", "general"));
    assert_eq!(bob.recv().await, online_frame(1));

    // A newcomer is counted without alice.
    let mut carol = Chat::connect(&server.ws_url("/chat")).await;
    join(&mut carol, "carol", 2).await;

    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "the example exits cleanly on SIGTERM: {status}"
    );
}

#[tokio::test]
async fn rooms_keep_their_messages_to_their_members() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let url = server.ws_url("/chat");
    let mut alice = Chat::connect(&url).await;
    let mut bob = Chat::connect(&url).await;
    let mut carol = Chat::connect(&url).await;

    // No room exists yet; rooms cannot be joined before a name is given.
    alice.emit("rooms", Value::Null).await;
    assert_eq!(
        alice.recv().await,
        json!({"event": "rooms", "data": {"rooms": []}})
    );
    alice.emit("join_room", json!({"room": "rust"})).await;
    assert_exception(&alice.recv().await, "join first");

    let alice_id = join(&mut alice, "alice", 1).await;
    let bob_id = join(&mut bob, "bob", 2).await;
    let carol_id = join(&mut carol, "carol", 3).await;
    // What alice and bob heard of the later joins.
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        who("joined", &bob_id, "bob", "general")
    );
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        who("joined", &carol_id, "carol", "general")
    );
    assert_eq!(
        recv_skipping_online(&mut bob).await,
        who("joined", &carol_id, "carol", "general")
    );

    // Room names: 1 to 32 characters among a-z, 0-9, - and _.
    for bad in ["", "Rust", "a b", "ü", "#rust", &"a".repeat(33)] {
        alice.emit("join_room", json!({"room": bad})).await;
        assert_exception(
            &recv_skipping_online(&mut alice).await,
            "a room name has 1 to 32 characters among a-z, 0-9, - and _",
        );
    }

    // Alice joins `rust`: she gets her rooms, then the room (she alone) hears it.
    alice.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        json!({"event": "my_rooms", "data": {"rooms": ["general", "rust"]}})
    );
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        who("joined", &alice_id, "alice", "rust")
    );

    // Joining again changes nothing and tells nobody.
    alice.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        json!({"event": "my_rooms", "data": {"rooms": ["general", "rust"]}})
    );

    // The rooms and their sizes.
    bob.emit("rooms", Value::Null).await;
    assert_eq!(
        recv_skipping_online(&mut bob).await,
        json!({"event": "rooms", "data": {"rooms": [
            {"name": "general", "size": 3},
            {"name": "rust", "size": 1},
        ]}})
    );

    // Only members write to a room.
    bob.emit("message", json!({"room": "rust", "text": "let me in"}))
        .await;
    assert_exception(&recv_skipping_online(&mut bob).await, "join the room first");

    // Alice's message in `rust` reaches alice alone: bob's and carol's next message is the one
    // she sent to `general` afterwards (frames from one sender arrive in order).
    for (room, text) in [("rust", "secret rust talk"), ("general", "sync point")] {
        alice
            .emit("message", json!({"room": room, "text": text}))
            .await;
    }
    assert_message(
        &recv_skipping_online(&mut alice).await,
        "alice",
        "rust",
        "secret rust talk",
    );
    assert_message(
        &recv_skipping_online(&mut alice).await,
        "alice",
        "general",
        "sync point",
    );
    for client in [&mut bob, &mut carol] {
        assert_message(
            &recv_skipping_online(client).await,
            "alice",
            "general",
            "sync point",
        );
    }

    // Bob joins `rust` too, and hears the next one; carol still does not.
    bob.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(
        recv_skipping_online(&mut bob).await,
        json!({"event": "my_rooms", "data": {"rooms": ["general", "rust"]}})
    );
    let bob_joined_rust = who("joined", &bob_id, "bob", "rust");
    assert_eq!(recv_skipping_online(&mut bob).await, bob_joined_rust);
    assert_eq!(recv_skipping_online(&mut alice).await, bob_joined_rust);
    for (room, text) in [("rust", "welcome to rust"), ("general", "sync again")] {
        alice
            .emit("message", json!({"room": room, "text": text}))
            .await;
    }
    for client in [&mut alice, &mut bob] {
        let frame = recv_skipping_online(client).await;
        assert_message(&frame, "alice", "rust", "welcome to rust");
    }
    for client in [&mut alice, &mut bob, &mut carol] {
        let frame = recv_skipping_online(client).await;
        assert_message(&frame, "alice", "general", "sync again");
    }

    // Bob leaves `rust`: he gets his rooms, alice hears it; leaving again tells nobody.
    bob.emit("leave_room", json!({"room": "rust"})).await;
    let bob_rooms = json!({"event": "my_rooms", "data": {"rooms": ["general"]}});
    assert_eq!(recv_skipping_online(&mut bob).await, bob_rooms);
    assert_eq!(
        recv_skipping_online(&mut alice).await,
        who("left", &bob_id, "bob", "rust")
    );
    bob.emit("leave_room", json!({"room": "rust"})).await;
    assert_eq!(recv_skipping_online(&mut bob).await, bob_rooms);

    // Carol joins `rust`; then alice, in `general` and `rust`, disconnects: each of her rooms
    // is told, so carol hears it twice and bob, in `general` only, once.
    carol.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(recv_skipping_online(&mut carol).await["event"], "my_rooms");
    let carol_joined_rust = who("joined", &carol_id, "carol", "rust");
    assert_eq!(recv_skipping_online(&mut carol).await, carol_joined_rust);
    assert_eq!(recv_skipping_online(&mut alice).await, carol_joined_rust);
    alice.close().await;
    let alice_left_general = who("left", &alice_id, "alice", "general");
    assert_eq!(recv_skipping_online(&mut carol).await, alice_left_general);
    assert_eq!(
        recv_skipping_online(&mut carol).await,
        who("left", &alice_id, "alice", "rust")
    );
    assert_eq!(carol.recv().await, online_frame(2));
    assert_eq!(recv_skipping_online(&mut bob).await, alice_left_general);
    assert_eq!(bob.recv().await, online_frame(2));

    // The rooms now: `rust` has carol alone.
    bob.emit("rooms", Value::Null).await;
    assert_eq!(
        bob.recv().await,
        json!({"event": "rooms", "data": {"rooms": [
            {"name": "general", "size": 2},
            {"name": "rust", "size": 1},
        ]}})
    );
}

/// A socket whose connection was lost (no close frame) comes back with its session: the same
/// socket, with its name and rooms, and what it missed. Its rooms hear that it left, then that
/// it is back; it hears neither, and the count goes down and up again.
#[tokio::test]
async fn a_lost_connection_comes_back_as_the_same_socket_with_what_it_missed() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let url = server.ws_url("/chat");
    let mut alice = Chat::connect(&url).await;
    let mut bob = Chat::connect(&url).await;
    join(&mut alice, "alice", 1).await;
    let bob_id = join(&mut bob, "bob", 2).await;
    assert_eq!(alice.recv().await, online_frame(2));
    assert_eq!(alice.recv().await, who("joined", &bob_id, "bob", "general"));
    bob.emit("join_room", json!({"room": "rust"})).await;
    assert_eq!(recv_skipping_online(&mut bob).await["event"], "my_rooms");
    assert_eq!(bob.recv().await, who("joined", &bob_id, "bob", "rust"));

    // Bob's connection is lost: alice, in `general`, hears that he left, and the count; then
    // she writes while he is away.
    let lost = bob.lose();
    assert_eq!(alice.recv().await, who("left", &bob_id, "bob", "general"));
    assert_eq!(alice.recv().await, online_frame(1));
    alice
        .emit(
            "message",
            json!({"room": "general", "text": "where is bob?"}),
        )
        .await;
    assert_message(&alice.recv().await, "alice", "general", "where is bob?");

    // He comes back, recovered, with his id: first what he missed (alice's message), then the
    // count with him again; not his own leaving, nor the count without him.
    let (mut bob, connected) = Chat::come_back(&url, lost).await;
    assert_eq!(connected["recovered"], true, "{connected}");
    assert_eq!(connected["id"], bob_id.as_str(), "{connected}");
    assert_message(&bob.recv().await, "alice", "general", "where is bob?");
    assert_eq!(bob.recv().await, online_frame(2));
    // Alice hears that he is back in `general`, and the count.
    assert_eq!(alice.recv().await, who("joined", &bob_id, "bob", "general"));
    assert_eq!(alice.recv().await, online_frame(2));

    // His name and rooms are back: joining again is refused, `rust` takes his message at once.
    bob.emit("join", json!({"name": "bob"})).await;
    assert_exception(&bob.recv().await, "already joined as bob");
    bob.emit("message", json!({"room": "rust", "text": "still in rust"}))
        .await;
    assert_message(&bob.recv().await, "bob", "rust", "still in rust");
    bob.emit("rooms", Value::Null).await;
    assert_eq!(
        bob.recv().await,
        json!({"event": "rooms", "data": {"rooms": [
            {"name": "general", "size": 2},
            {"name": "rust", "size": 1},
        ]}})
    );
}

/// An HTTP/1.0 GET of `path`: the response's head and body.
fn http_get(server: &ChildServer, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("the server accepts");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("a non-zero timeout is valid");
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read to its end");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response has a head and a body");
    (head.to_owned(), body.to_owned())
}

/// Asserts that `head` is a 200's, and that its `Content-Type` is `content_type` (or starts so).
#[track_caller]
fn assert_ok(head: &str, content_type: &str) {
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-type: {content_type}")),
        "{head}"
    );
}

#[test]
fn get_root_serves_the_page() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let (head, body) = http_get(&server, "/");
    assert_ok(&head, "text/html");
    assert!(
        body.contains("<title>nestgate chat</title>"),
        "the chat page"
    );
    // An unclosed module script is never run: the page would sit at "connecting…" for good.
    assert!(
        body.trim_end().ends_with("</script>\n</body>\n</html>"),
        "the page is whole"
    );
    for id in [
        "name",
        "join",
        "text",
        "send",
        "messages",
        "my-rooms",
        "all-rooms",
        "room",
        "join-room",
        "current-room",
    ] {
        assert!(body.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    assert!(body.contains("/chat"), "the page connects to /chat");
    assert!(
        body.contains(r#"from "/client/index.js""#),
        "the page imports the client the server serves"
    );
}

fn unix_millis() -> u64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(elapsed.as_millis()).unwrap()
}

/// A socket is in at most 20 rooms (`general` included): the 20th `join_room` is refused with
/// an exception and changes nothing; leaving a room makes room for another.
#[tokio::test]
async fn a_socket_is_in_at_most_twenty_rooms() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    let mut alice = Chat::connect(&server.ws_url("/chat")).await;
    let alice_id = join(&mut alice, "alice", 1).await;
    for n in 1..20 {
        let room = format!("r{n}");
        alice.emit("join_room", json!({ "room": room })).await;
        let rooms = recv_skipping_online(&mut alice).await;
        assert_eq!(rooms["event"], "my_rooms", "{rooms}");
        assert_eq!(rooms["data"]["rooms"].as_array().map(Vec::len), Some(n + 1));
        assert_eq!(
            recv_skipping_online(&mut alice).await,
            who("joined", &alice_id, "alice", &room)
        );
    }
    alice.emit("join_room", json!({"room": "one-more"})).await;
    assert_exception(
        &recv_skipping_online(&mut alice).await,
        "a socket can be in at most 20 rooms",
    );
    // Joining a room it is in already is no new room.
    alice.emit("join_room", json!({"room": "r1"})).await;
    assert_eq!(recv_skipping_online(&mut alice).await["event"], "my_rooms");
    alice.emit("leave_room", json!({"room": "r1"})).await;
    assert_eq!(recv_skipping_online(&mut alice).await["event"], "my_rooms");
    alice.emit("join_room", json!({"room": "one-more"})).await;
    let rooms = recv_skipping_online(&mut alice).await;
    assert_eq!(
        rooms["data"]["rooms"].as_array().map(Vec::len),
        Some(20),
        "{rooms}"
    );
    assert_eq!(rooms["data"]["rooms"][19], "one-more", "{rooms}");
}

/// The relative modules a JavaScript module imports (`from "./x.js"`, `import "./x.js"`).
fn relative_imports(module: &str) -> Vec<String> {
    let mut imports = Vec::new();
    for marker in ["from \"./", "import \"./"] {
        for (start, _) in module.match_indices(marker) {
            let rest = &module[start + marker.len()..];
            let name = rest.split('"').next().unwrap_or_default();
            imports.push(name.to_owned());
        }
    }
    imports
}

#[test]
fn the_client_is_served_as_javascript_with_every_module_it_imports() {
    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    // Follow the imports from index.js, as the browser does, fetching each module once.
    let mut todo = vec!["index.js".to_owned()];
    let mut served: Vec<(String, String)> = Vec::new();
    while let Some(file) = todo.pop() {
        if served.iter().any(|(name, _)| *name == file) {
            continue;
        }
        let (head, body) = http_get(&server, &format!("/client/{file}"));
        assert_ok(&head, "text/javascript; charset=utf-8");
        todo.extend(relative_imports(&body));
        served.push((file, body));
    }
    let (_, index) = &served[0];
    assert!(
        index.contains("export { connect"),
        "index.js exports connect"
    );
    assert!(
        served.iter().any(|(name, _)| name == "socket.js"),
        "index.js imports socket.js, where connect is"
    );

    // Only those: no type declarations, nothing outside the client.
    for path in ["/client/index.d.ts", "/client/nope.js", "/client/"] {
        let (head, _) = http_get(&server, path);
        assert!(
            head.starts_with("HTTP/1.0 404") || head.starts_with("HTTP/1.1 404"),
            "{path}: {head}"
        );
    }
}
