//! Every operator across three nodes over a real Redis, acknowledgements, server-side events,
//! the emitter, and nodes that leave or die.

mod common;

use common::{Node, Redis, cluster, config, unique_prefix, wait_until};
use futures_util::StreamExt as _;
use nestgate::App;
use nestgate::adapter::AdapterError;
use nestgate::prelude::*;
use nestgate::testing::{Closed, TestClient};
use nestgate_redis::{Emitter, NodeReply};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Rooms;

#[websocket_gateway]
impl Rooms {
    /// `?rooms=a,b` joins rooms on connection.
    #[on_connection]
    fn connect(&self, socket: Socket) {
        if let Some(rooms) = socket.handshake().query("rooms") {
            socket.join(rooms.split(',').map(str::to_owned).collect::<Vec<_>>());
        }
    }

    #[subscribe_message("whoami")]
    fn whoami(&self, socket: Socket) -> Value {
        json!({"id": socket.id()})
    }

    /// `socket.to(room)`: every member on every node but the sender.
    #[subscribe_message("say")]
    fn say(&self, socket: Socket, Data(room): Data<String>) -> Result<(), WsException> {
        socket.to(room).emit("said", "hello")?;
        Ok(())
    }
}

fn app() -> App {
    App::bare().gateway::<Rooms>()
}

/// A client on `node` in `rooms`, with its socket id.
async fn client(node: &Node, rooms: &str) -> (TestClient, String) {
    let mut client = node.client(&format!("/?rooms={rooms}")).await;
    let me = client.request(1, "whoami", Value::Null).await;
    let id = me["data"]["id"].as_str().expect("an id").to_owned();
    (client, id)
}

/// Asserts that the client gets `{"event": event, "data": data}` next.
async fn expect(client: &mut TestClient, event: &str, data: Value) {
    assert_eq!(client.recv().await, json!({"event": event, "data": data}));
}

/// Asserts that the client gets nothing for a while.
async fn expect_nothing(client: &mut TestClient) {
    if let Some(frame) = client.try_recv(Duration::from_millis(150)).await {
        panic!("expected nothing, got {frame}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_works_across_three_nodes() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("operators"));
    let nodes = cluster(&config, 3, app).await;
    let servers: Vec<_> = nodes.iter().map(|node| node.server("/")).collect();

    // Node 0: a in room "red"; node 1: b in "red" and "blue"; node 2: c in "blue".
    let (mut a, a_id) = client(&nodes[0], "red").await;
    let (mut b, b_id) = client(&nodes[1], "red,blue").await;
    let (mut c, c_id) = client(&nodes[2], "blue").await;

    // Broadcast to everyone, from any node.
    servers[2].emit("all", &1).unwrap();
    for client in [&mut a, &mut b, &mut c] {
        expect(client, "all", json!(1)).await;
    }
    // Rooms, several rooms (b is in both, and gets it once), except.
    servers[0].to("red").emit("red", &2).unwrap();
    expect(&mut a, "red", json!(2)).await;
    expect(&mut b, "red", json!(2)).await;
    servers[0].to(["red", "blue"]).emit("both", &3).unwrap();
    for client in [&mut a, &mut b, &mut c] {
        expect(client, "both", json!(3)).await;
    }
    servers[1].except("blue").emit("not_blue", &4).unwrap();
    expect(&mut a, "not_blue", json!(4)).await;
    servers[2].to(b_id.as_str()).emit("to_b", &5).unwrap();
    expect(&mut b, "to_b", json!(5)).await;
    // socket.to(room) leaves the sender out, on its own node and elsewhere.
    c.emit("say", json!("blue")).await;
    expect(&mut b, "said", json!("hello")).await;
    // local() stays on the node that emitted.
    servers[1].local().emit("local", &6).unwrap();
    expect(&mut b, "local", json!(6)).await;
    expect_nothing(&mut a).await;
    expect_nothing(&mut c).await;

    // fetch_sockets: every socket, with id, rooms and handshake, from any node.
    let sockets = servers[0].fetch_sockets().await.unwrap();
    let ids: HashSet<_> = sockets.iter().map(|socket| socket.id.clone()).collect();
    assert_eq!(
        ids,
        HashSet::from([a_id.clone(), b_id.clone(), c_id.clone()])
    );
    let remote_b = sockets.iter().find(|socket| socket.id == b_id).unwrap();
    assert_eq!(remote_b.rooms, vec!["red", "blue"]);
    assert_eq!(remote_b.uri, "/?rooms=red,blue");
    assert!(
        remote_b
            .headers
            .iter()
            .any(|(name, _)| name == "sec-websocket-key")
    );
    assert!(remote_b.remote_addr.is_some());
    let blue = servers[0].to("blue").fetch_sockets().await.unwrap();
    let blue: HashSet<_> = blue.into_iter().map(|socket| socket.id).collect();
    assert_eq!(blue, HashSet::from([b_id.clone(), c_id.clone()]));
    assert_eq!(servers[0].local().fetch_sockets().await.unwrap().len(), 1);

    // Room sizes and the room list.
    assert_eq!(servers[2].sockets_count().await.unwrap(), 3);
    assert_eq!(servers[2].to("red").sockets_count().await.unwrap(), 2);
    assert_eq!(
        servers[2]
            .to("red")
            .except("blue")
            .sockets_count()
            .await
            .unwrap(),
        1
    );
    let mut rooms = servers[1].rooms().await.unwrap();
    rooms.sort();
    assert_eq!(rooms, vec!["blue", "red"]);

    // sockets_join / sockets_leave, across nodes: "blue" joins "green", from node 0.
    servers[0].to("blue").sockets_join("green").await.unwrap();
    assert_eq!(servers[1].to("green").sockets_count().await.unwrap(), 2);
    servers[0].to("green").emit("green", &7).unwrap();
    expect(&mut b, "green", json!(7)).await;
    expect(&mut c, "green", json!(7)).await;
    servers[2]
        .to(c_id.as_str())
        .sockets_leave("green")
        .await
        .unwrap();
    assert_eq!(servers[0].to("green").sockets_count().await.unwrap(), 1);

    // emit_with_ack across nodes: every client's answer, wherever it is connected.
    let acks = servers[0]
        .to(["red", "blue"])
        .timeout(Duration::from_secs(3))
        .emit_with_ack::<_, String>("question", "name?")
        .await
        .unwrap();
    let answering = tokio::spawn(async move {
        for (client, name) in [(&mut a, "a"), (&mut b, "b"), (&mut c, "c")] {
            let frame = client.recv().await;
            assert_eq!(frame["event"], "question");
            let id = frame["id"].as_u64().expect("an ack id");
            client.send_json(json!({"ack": id, "data": name})).await;
        }
        (a, b, c)
    });
    let answers: Vec<_> = acks.collect().await;
    let (mut a, mut b, mut c) = answering.await.unwrap();
    let mut answers: Vec<_> = answers
        .into_iter()
        .map(|answer| (answer.socket, answer.result.unwrap()))
        .collect();
    answers.sort();
    let mut expected = vec![
        (a_id.clone(), "a".to_owned()),
        (b_id.clone(), "b".to_owned()),
        (c_id.clone(), "c".to_owned()),
    ];
    expected.sort();
    assert_eq!(answers, expected);

    // A client that does not answer is reported as a timeout by its own node.
    let acks = servers[1]
        .to(c_id.as_str())
        .timeout(Duration::from_millis(300))
        .emit_with_ack::<_, String>("question", "silent?")
        .await
        .unwrap();
    let answers: Vec<_> = acks.collect().await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].socket, c_id);
    assert_eq!(answers[0].result, Err(nestgate::ack::AckError::Timeout));
    let _ = c.recv().await;

    // disconnect_sockets, from another node: c closes with 1000; a and b stay.
    servers[0]
        .to("blue")
        .except(b_id.as_str())
        .disconnect_sockets()
        .await
        .unwrap();
    assert_eq!(
        c.closed().await,
        Closed::Frame(1000, "disconnected by the server".to_owned())
    );
    wait_until("c is gone", || servers[2].local_socket_count() == 0).await;
    assert_eq!(servers[0].sockets_count().await.unwrap(), 2);
    servers[2].emit("still", &8).unwrap();
    expect(&mut a, "still", json!(8)).await;
    expect(&mut b, "still", json!(8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_events_reach_the_other_nodes_and_answer() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("server-side"));
    let nodes = cluster(&config, 3, app).await;
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for (index, node) in nodes.iter().enumerate() {
        let seen = seen.clone();
        node.cluster.on("double", move |n: u64| {
            let _ = seen.send(index);
            async move { n * 2 }
        });
    }
    // Without ack: the two other nodes run their handler, the sender does not.
    nodes[0].cluster.server_side_emit("double", &1).unwrap();
    let mut ran = vec![seen_rx.recv().await.unwrap(), seen_rx.recv().await.unwrap()];
    ran.sort();
    assert_eq!(ran, vec![1, 2]);

    // With ack: one answer per other node.
    let replies = nodes[1]
        .cluster
        .server_side_emit_with_ack::<_, u64>("double", &21)
        .await
        .unwrap();
    let mut from: Vec<_> = replies.iter().map(|reply| reply.node.clone()).collect();
    from.sort();
    let mut expected = vec![
        nodes[0].cluster.node_id().to_owned(),
        nodes[2].cluster.node_id().to_owned(),
    ];
    expected.sort();
    assert_eq!(from, expected);
    assert!(replies.iter().all(|reply| reply.result == Ok(42)));

    // An event nobody handles is answered with an error, not a hang.
    let replies: Vec<NodeReply<Value>> = nodes[2]
        .cluster
        .server_side_emit_with_ack("nobody", &())
        .await
        .unwrap();
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(|reply| reply.result.is_err()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitter_without_sockets_reaches_every_node() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("emitter"));
    let nodes = cluster(&config, 3, app).await;
    let (mut a, _) = client(&nodes[0], "news").await;
    let (mut b, b_id) = client(&nodes[1], "news").await;
    let (mut c, _) = client(&nodes[2], "other").await;

    let emitter = Emitter::connect(config.clone()).await.unwrap();
    emitter
        .of("/")
        .to("news")
        .emit("headline", "hi")
        .await
        .unwrap();
    expect(&mut a, "headline", json!("hi")).await;
    expect(&mut b, "headline", json!("hi")).await;
    emitter
        .of("/")
        .except("news")
        .emit("others", &1)
        .await
        .unwrap();
    expect(&mut c, "others", json!(1)).await;
    expect_nothing(&mut a).await;

    // Membership changes and disconnections.
    emitter
        .of("/")
        .to("other")
        .sockets_join("news")
        .await
        .unwrap();
    wait_until_count(&nodes[0], "news", 3).await;
    emitter
        .of("/")
        .to(b_id.as_str())
        .disconnect_sockets()
        .await
        .unwrap();
    assert!(matches!(b.closed().await, Closed::Frame(1000, _)));

    // Server-side events from the emitter reach every node's handler.
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for node in &nodes {
        let seen = seen.clone();
        node.cluster.on("reload", move |(): ()| {
            let _ = seen.send(());
            async {}
        });
    }
    emitter.server_side_emit("reload", &()).await.unwrap();
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
            .await
            .unwrap()
            .unwrap();
    }
    // The emitter is not a node: nobody waits for it.
    assert!(nodes.iter().all(|node| node.cluster.nodes().len() == 2));
}

async fn wait_until_count(node: &Node, room: &str, count: usize) {
    for _ in 0..250 {
        if node.server("/").to(room).sockets_count().await.unwrap() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("room {room} never had {count} sockets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_dead_node_times_out_and_a_node_that_leaves_is_not_waited_for() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let prefix = unique_prefix("dead-node");
    // Requests give up before a silent node expires.
    let config = config(&redis, &prefix)
        .request_timeout(Duration::from_millis(500))
        .heartbeat_timeout(Duration::from_secs(2));
    let nodes = cluster(&config, 2, app).await;

    // A node that announced itself and then died: it never answers.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let heartbeat = "{\"heartbeat\":{\"node\":\"ghost\"}}\n";
    let () = redis::cmd("PUBLISH")
        .arg(format!("{prefix}#all"))
        .arg(heartbeat)
        .query_async(&mut conn)
        .await
        .unwrap();
    wait_until("the ghost is known", || nodes[0].cluster.nodes().len() == 2).await;
    let started = std::time::Instant::now();
    let result = nodes[0].server("/").fetch_sockets().await;
    assert!(
        matches!(result, Err(AdapterError::Timeout(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(nodes[0].cluster.stats().request_timeouts, 1);
    // An acknowledged broadcast does not wait for it forever either: the stream ends at the ack
    // timeout plus the request timeout.
    let started = std::time::Instant::now();
    let acks = nodes[0]
        .server("/")
        .timeout(Duration::from_millis(200))
        .emit_with_ack::<_, Value>("question", "anyone?")
        .await
        .unwrap();
    assert_eq!(acks.collect::<Vec<_>>().await.len(), 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Once its heartbeats are overdue it is forgotten, and requests complete again.
    wait_until("the ghost expires", || nodes[0].cluster.nodes().len() == 1).await;
    assert_eq!(nodes[0].server("/").sockets_count().await.unwrap(), 0);

    // A node that closes says goodbye: the others stop counting it at once.
    nodes[1].cluster.close().await;
    wait_until("node 1 is gone", || nodes[0].cluster.nodes().is_empty()).await;
    assert_eq!(nodes[0].server("/").sockets_count().await.unwrap(), 0);
}
