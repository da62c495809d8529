//! Rooms, operators, namespaces and server acknowledgements over real sockets.

use futures_util::StreamExt as _;
use nestgate::adapter::Room;
use nestgate::prelude::*;
use nestgate::testing::{Closed, TestClient};
use nestgate::{App, Server};
use nestgate_tests::{TestServer, assert_alive, serve};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Say {
    mode: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    text: String,
}

#[websocket_gateway(path = "/a")]
#[derive(Debug, Default)]
struct RoomsA;

#[websocket_gateway]
impl RoomsA {
    #[on_connection]
    fn connect(&self, socket: Socket) {
        if let Some(rooms) = socket.handshake().query("rooms") {
            socket.join(rooms.split(',').map(str::to_owned).collect::<Vec<_>>());
        }
    }

    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[subscribe_message("whoami")]
    fn whoami(&self, socket: Socket) -> Value {
        json!({"id": socket.id(), "rooms": socket.rooms()})
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(rooms): Data<Vec<String>>) -> Vec<Room> {
        socket.join(rooms);
        socket.rooms()
    }

    #[subscribe_message("leave")]
    fn leave(&self, socket: Socket, Data(rooms): Data<Vec<String>>) -> Vec<Room> {
        socket.leave(rooms);
        socket.rooms()
    }

    #[subscribe_message("say")]
    fn say(&self, socket: Socket, Data(say): Data<Say>) -> Result<(), WsException> {
        let operators = match say.mode.as_str() {
            "to" => socket.to(say.rooms),
            "within" => socket.within(say.rooms),
            "broadcast" => socket.broadcast(),
            "except" => socket.except(say.except.clone()),
            other => return Err(WsException::new(format!("no mode {other}"))),
        };
        operators.except(say.except).emit("said", &say.text)?;
        Ok(())
    }

    #[subscribe_message("ask")]
    async fn ask(&self, socket: Socket, Data(timeout_ms): Data<u64>) -> String {
        let timeout = Duration::from_millis(timeout_ms);
        match socket
            .emit_with_ack_timeout::<_, u32>("question", "how many?", timeout)
            .await
        {
            Ok(answer) => format!("answer {answer}"),
            Err(err) => format!("error: {err}"),
        }
    }
}

#[websocket_gateway(path = "/b")]
#[derive(Debug, Default)]
struct RoomsB;

#[websocket_gateway]
impl RoomsB {
    #[on_connection]
    fn connect(&self, socket: Socket) {
        if let Some(rooms) = socket.handshake().query("rooms") {
            socket.join(rooms.split(',').map(str::to_owned).collect::<Vec<_>>());
        }
    }

    #[subscribe_message("shout_to_a")]
    fn shout(&self, server: Server, Data(room): Data<String>) -> Result<(), WsException> {
        let a = server.of("/a").ok_or("no /a")?;
        a.to(room).emit("shout", "from /b")?;
        Ok(())
    }
}

fn app() -> App {
    App::bare().gateway::<RoomsA>().gateway::<RoomsB>()
}

/// A connected client with its socket id.
async fn client(server: &TestServer, path_and_query: &str) -> (TestClient, String) {
    let mut client = server.client(path_and_query).await;
    let me = client.request(1, "whoami", Value::Null).await;
    let id = me["data"]["id"].as_str().unwrap().to_owned();
    (client, id)
}

fn a(server: &TestServer) -> Server {
    server.handle().server("/a").unwrap()
}

/// Sends a marker to everyone in `/a` and checks it is each client's next frame: whatever the
/// test expected a client not to get would otherwise come first.
async fn nothing_else(server: &TestServer, clients: &mut [&mut TestClient]) {
    a(server).emit("marker", &()).unwrap();
    for client in clients {
        assert_eq!(
            client.recv().await,
            json!({"event": "marker", "data": null})
        );
    }
}

#[tokio::test]
async fn server_operators_target_rooms_and_exceptions() {
    let server = serve(app()).await;
    let (mut a1, _) = client(&server, "/a?rooms=a").await;
    let (mut a2, _) = client(&server, "/a?rooms=a").await;
    let (mut b1, b1_id) = client(&server, "/a?rooms=b").await;
    let (mut ab, ab_id) = client(&server, "/a?rooms=a,b").await;
    let news = |n: u32| json!({"event": "news", "data": n});

    a(&server).to("a").emit("news", &1).unwrap();
    for client in [&mut a1, &mut a2, &mut ab] {
        assert_eq!(client.recv().await, news(1));
    }
    nothing_else(&server, &mut [&mut a1, &mut a2, &mut b1, &mut ab]).await;

    // Several rooms: each socket once.
    a(&server).to(["a", "b"]).emit("news", &2).unwrap();
    for client in [&mut a1, &mut a2, &mut b1, &mut ab] {
        assert_eq!(client.recv().await, news(2));
    }
    nothing_else(&server, &mut [&mut a1, &mut a2, &mut b1, &mut ab]).await;

    a(&server).except("b").emit("news", &3).unwrap();
    for client in [&mut a1, &mut a2] {
        assert_eq!(client.recv().await, news(3));
    }
    nothing_else(&server, &mut [&mut a1, &mut a2, &mut b1, &mut ab]).await;

    // A socket id is a room of its own, for `to` and for `except`.
    a(&server)
        .to("a")
        .except(ab_id.as_str())
        .emit("news", &4)
        .unwrap();
    a(&server).to(b1_id.as_str()).emit("news", &5).unwrap();
    for client in [&mut a1, &mut a2] {
        assert_eq!(client.recv().await, news(4));
    }
    assert_eq!(b1.recv().await, news(5));
    nothing_else(&server, &mut [&mut a1, &mut a2, &mut b1, &mut ab]).await;

    // `local` reaches this process's sockets: all of them with the in-memory adapter.
    a(&server).local().to("b").emit("news", &6).unwrap();
    for client in [&mut b1, &mut ab] {
        assert_eq!(client.recv().await, news(6));
    }
    nothing_else(&server, &mut [&mut a1, &mut a2, &mut b1, &mut ab]).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn socket_operators_leave_out_or_include_the_sender() {
    let server = serve(app()).await;
    let (mut sender, _) = client(&server, "/a?rooms=a").await;
    let (mut member, member_id) = client(&server, "/a?rooms=a").await;
    let (mut other, _) = client(&server, "/a?rooms=b").await;
    let said = |text: &str| json!({"event": "said", "data": text});

    sender
        .emit("say", json!({"mode": "to", "rooms": ["a"], "text": "to"}))
        .await;
    assert_eq!(member.recv().await, said("to"));
    nothing_else(&server, &mut [&mut sender, &mut member, &mut other]).await;

    sender
        .emit(
            "say",
            json!({"mode": "within", "rooms": ["a"], "text": "within"}),
        )
        .await;
    assert_eq!(sender.recv().await, said("within"));
    assert_eq!(member.recv().await, said("within"));
    nothing_else(&server, &mut [&mut sender, &mut member, &mut other]).await;

    sender
        .emit("say", json!({"mode": "broadcast", "text": "broadcast"}))
        .await;
    assert_eq!(member.recv().await, said("broadcast"));
    assert_eq!(other.recv().await, said("broadcast"));
    nothing_else(&server, &mut [&mut sender, &mut member, &mut other]).await;

    sender
        .emit(
            "say",
            json!({"mode": "except", "except": [member_id], "text": "except"}),
        )
        .await;
    assert_eq!(other.recv().await, said("except"));
    nothing_else(&server, &mut [&mut sender, &mut member, &mut other]).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn membership_queries_and_remote_control() {
    let server = serve(app()).await;
    let (mut one, one_id) = client(&server, "/a").await;
    let (mut two, two_id) = client(&server, "/a").await;

    assert_eq!(
        one.request(2, "join", json!(["x", "y"])).await["data"],
        json!(["x", "y"])
    );
    assert_eq!(
        two.request(2, "join", json!(["x"])).await["data"],
        json!(["x"])
    );
    assert_eq!(
        one.request(3, "leave", json!(["y"])).await["data"],
        json!(["x"])
    );

    let mut rooms = a(&server).rooms().await.unwrap();
    rooms.sort();
    assert_eq!(rooms, ["x"], "an emptied room is freed");
    assert_eq!(a(&server).to("x").sockets_count().await.unwrap(), 2);
    assert_eq!(a(&server).to("nobody").sockets_count().await.unwrap(), 0);

    a(&server)
        .to("x")
        .except(two_id.as_str())
        .sockets_join("z")
        .await
        .unwrap();
    let in_z = a(&server).to("z").fetch_sockets().await.unwrap();
    assert_eq!(in_z.len(), 1);
    assert_eq!(in_z[0].id, one_id);
    assert_eq!(in_z[0].path, "/a");
    let mut their_rooms = in_z[0].rooms.clone();
    their_rooms.sort();
    assert_eq!(their_rooms, ["x", "z"]);
    assert!(in_z[0].remote_addr.is_some());
    assert!(in_z[0].headers.iter().any(|(name, _)| name == "host"));

    a(&server).sockets_leave("x").await.unwrap();
    assert_eq!(a(&server).to("x").sockets_count().await.unwrap(), 0);
    assert_eq!(
        one.request(4, "whoami", Value::Null).await["data"]["rooms"],
        json!(["z"])
    );
    assert_eq!(a(&server).fetch_sockets().await.unwrap().len(), 2);

    a(&server).to("z").disconnect_sockets().await.unwrap();
    assert_eq!(
        one.closed().await,
        Closed::Frame(1000, "disconnected by the server".to_owned())
    );
    assert_alive_a(&mut two).await;
    server.shutdown().await.unwrap();
}

async fn assert_alive_a(client: &mut TestClient) {
    assert_alive(client).await;
}

#[tokio::test]
async fn namespaces_have_their_own_rooms() {
    let server = serve(app()).await;
    let (mut in_a, _) = client(&server, "/a?rooms=x").await;
    let mut in_b = server.client("/b?rooms=x").await;

    server
        .handle()
        .server("/b")
        .unwrap()
        .to("x")
        .emit("only_b", &1)
        .unwrap();
    assert_eq!(in_b.recv().await, json!({"event": "only_b", "data": 1}));
    // /b reaches /a's room through `server.of`.
    in_b.emit("shout_to_a", json!("x")).await;
    assert_eq!(
        in_a.recv().await,
        json!({"event": "shout", "data": "from /b"})
    );
    assert_eq!(in_b.try_recv(Duration::from_millis(200)).await, None);
    nothing_else(&server, &mut [&mut in_a]).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_socket_ack_arrives_or_times_out() {
    let server = serve(app()).await;
    let (mut client, _) = client(&server, "/a").await;

    client
        .send_json(json!({"event": "ask", "data": 2000, "id": 7}))
        .await;
    let question = client.recv().await;
    assert_eq!(question["event"], "question");
    assert_eq!(question["data"], "how many?");
    let id = question["id"]
        .as_u64()
        .expect("an emit with ack carries an id");
    client.send_json(json!({"ack": id, "data": 42})).await;
    assert_eq!(client.recv().await, json!({"ack": 7, "data": "answer 42"}));

    client
        .send_json(json!({"event": "ask", "data": 100, "id": 8}))
        .await;
    let question = client.recv().await;
    assert_eq!(
        client.recv().await,
        json!({"ack": 8, "data": "error: the client did not acknowledge in time"})
    );
    // A late answer is ignored quietly.
    client
        .send_json(json!({"ack": question["id"], "data": 1}))
        .await;
    assert_alive(&mut client).await;

    // An answer of the wrong type is reported as such.
    client
        .send_json(json!({"event": "ask", "data": 2000, "id": 9}))
        .await;
    let question = client.recv().await;
    client
        .send_json(json!({"ack": question["id"], "data": "many"}))
        .await;
    let answer = client.recv().await;
    assert!(
        answer["data"]
            .as_str()
            .unwrap()
            .starts_with("error: the client's answer did not match"),
        "{answer}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_broadcast_ack_collects_every_answer_and_reports_the_silent() {
    let server = serve(app()).await;
    let (mut yes, yes_id) = client(&server, "/a?rooms=jury").await;
    let (mut no, no_id) = client(&server, "/a?rooms=jury").await;
    let (mut silent, silent_id) = client(&server, "/a?rooms=jury").await;
    let (mut outsider, _) = client(&server, "/a").await;

    let jury = a(&server).to("jury").timeout(Duration::from_millis(500));
    let votes = tokio::spawn(async move {
        let stream = jury
            .emit_with_ack::<_, bool>("vote", "guilty?")
            .await
            .unwrap();
        stream.collect::<Vec<_>>().await
    });
    for (client, vote) in [(&mut yes, true), (&mut no, false)] {
        let question = client.recv().await;
        assert_eq!(question["event"], "vote");
        client
            .send_json(json!({"ack": question["id"], "data": vote}))
            .await;
    }
    assert_eq!(silent.recv().await["event"], "vote");
    let votes = votes.await.unwrap();
    assert_eq!(votes.len(), 3);
    let result_of = |id: &str| {
        votes
            .iter()
            .find(|v| v.socket == id)
            .map(|v| v.result.clone())
    };
    assert_eq!(result_of(&yes_id), Some(Ok(true)));
    assert_eq!(result_of(&no_id), Some(Ok(false)));
    assert_eq!(
        result_of(&silent_id),
        Some(Err(nestgate::ack::AckError::Timeout))
    );
    // The silent one is last, after the deadline.
    assert_eq!(votes[2].socket, silent_id);
    nothing_else(&server, &mut [&mut outsider]).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn volatile_frames_are_dropped_for_a_full_queue_and_the_client_stays() {
    let server = serve(app().outbound_queue(8)).await;
    let (mut lazy, _) = client(&server, "/a").await;
    let big = "v".repeat(64 * 1024);
    // Far more than the socket buffers and the queue hold, while the client does not read.
    for n in 0..400 {
        a(&server)
            .volatile()
            .emit("big", &json!({"n": n, "pad": big}))
            .unwrap();
    }
    let mut received = Vec::new();
    while let Some(frame) = lazy.try_recv(Duration::from_millis(500)).await {
        received.push(frame["data"]["n"].as_u64().unwrap());
    }
    assert!(
        !received.is_empty() && received.len() < 400,
        "got {} of 400",
        received.len()
    );
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "what arrives keeps its order"
    );
    assert_alive(&mut lazy).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_of_broadcasts_is_closed_with_1013_while_a_fast_one_gets_everything() {
    let server = serve(app().outbound_queue(64)).await;
    let (mut slow, _) = client(&server, "/a?rooms=feed").await;
    let (mut fast, _) = client(&server, "/a?rooms=feed").await;
    const FRAMES: u64 = 2000;
    let reader = tokio::spawn(async move {
        for n in 0..FRAMES {
            let frame = fast.recv().await;
            assert_eq!(
                frame["data"]["n"], n,
                "the fast client gets every frame, in order"
            );
        }
        fast
    });
    let pad = "f".repeat(16 * 1024);
    let feed = a(&server).to("feed");
    for n in 0..FRAMES {
        feed.emit("tick", &json!({"n": n, "pad": pad})).unwrap();
        if n % 16 == 15 {
            // Paced like a real feed, so a reading client keeps up.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let mut fast = reader.await.unwrap();
    assert_eq!(
        slow.closed().await,
        Closed::Frame(1013, "slow consumer".to_owned())
    );
    assert_alive(&mut fast).await;
    server.shutdown().await.unwrap();
}

/// Counts how often it is serialized.
struct Counted(Arc<AtomicUsize>, u32);

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        serializer.serialize_u32(self.1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_in_a_room_each_get_a_hundred_broadcasts_in_order_serialized_once_each()
{
    const CLIENTS: usize = 1000;
    const BROADCASTS: u32 = 100;
    let server = serve(app()).await;
    let url = server.url("/a?rooms=big");
    let mut connecting = Vec::new();
    for _ in 0..CLIENTS {
        let url = url.clone();
        connecting.push(tokio::spawn(async move {
            TestClient::connect(&url).await.unwrap()
        }));
    }
    let mut clients = Vec::new();
    for client in connecting {
        clients.push(client.await.unwrap());
    }
    // The connection hook has run for every client once the server counts them all.
    for _ in 0..500 {
        if a(&server).to("big").sockets_count().await.unwrap() == CLIENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a(&server).to("big").sockets_count().await.unwrap(), CLIENTS);

    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                for n in 0..BROADCASTS {
                    assert_eq!(client.recv().await, json!({"event": "n", "data": n}));
                }
            })
        })
        .collect();
    let serializations = Arc::new(AtomicUsize::new(0));
    let room = a(&server).to("big");
    for n in 0..BROADCASTS {
        room.emit("n", &Counted(serializations.clone(), n)).unwrap();
    }
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(
        serializations.load(Ordering::SeqCst),
        BROADCASTS as usize,
        "one serialization per broadcast"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_clients_come_and_go_and_leave_nothing_behind() {
    let server = serve(app()).await;
    let handle = server.handle().clone();
    let idle = handle.active_connections();
    for batch in 0..10 {
        let mut connecting = Vec::new();
        for i in 0..1000 {
            let url = server.url(&format!("/a?rooms=lobby,room-{batch}-{i}"));
            connecting.push(tokio::spawn(async move {
                TestClient::connect(&url).await.unwrap()
            }));
        }
        let mut clients = Vec::new();
        for client in connecting {
            clients.push(client.await.unwrap());
        }
        // Half close politely, half vanish.
        for (i, mut client) in clients.into_iter().enumerate() {
            if i % 2 == 0 {
                client.close().await;
            }
        }
        for _ in 0..1000 {
            if a(&server).local_socket_count() == 0 && handle.active_connections() == idle {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            a(&server).local_socket_count(),
            0,
            "batch {batch}: sockets left behind"
        );
    }
    assert_eq!(
        a(&server).rooms().await.unwrap(),
        Vec::<Room>::new(),
        "rooms left behind"
    );
    assert_eq!(
        handle.active_connections(),
        idle,
        "connection tasks left behind"
    );
    server.shutdown().await.unwrap();
}
