//! Each broadcast reaches each client exactly once: 3 nodes × 300 clients.

mod common;

use common::{Redis, cluster, config, unique_prefix};
use nestgate::App;
use nestgate::prelude::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Rooms;

#[websocket_gateway]
impl Rooms {
    #[on_connection]
    fn connect(&self, socket: Socket) {
        if let Some(rooms) = socket.handshake().query("rooms") {
            socket.join(rooms.split(',').map(str::to_owned).collect::<Vec<_>>());
        }
    }
}

fn app() -> App {
    App::bare().gateway::<Rooms>()
}

const NODES: usize = 3;
const CLIENTS_PER_NODE: usize = 300;
const MESSAGES_PER_NODE: usize = 5;

/// The rooms of client `index`: every client is in `x` or `y`, every third in both.
fn rooms(index: usize) -> &'static str {
    match index % 3 {
        0 => "x,y",
        1 => "x",
        _ => "y",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broadcast_reaches_each_client_exactly_once() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    // 900 clients and their 900 server sockets, plus Redis and the nodes.
    let _ = rlimit::increase_nofile_limit(8192);
    let config = config(&redis, &unique_prefix("exactly-once"));
    let nodes = cluster(&config, NODES, app).await;
    let servers: Vec<_> = nodes.iter().map(|node| node.server("/")).collect();

    let mut readers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for i in 0..CLIENTS_PER_NODE {
            let index = n * CLIENTS_PER_NODE + i;
            let client = node.client(&format!("/?rooms={}", rooms(index))).await;
            readers.push((index, client));
        }
    }
    let total = NODES * CLIENTS_PER_NODE;
    assert_eq!(servers[0].sockets_count().await.unwrap(), total);

    let readers: Vec<_> = readers
        .into_iter()
        .map(|(index, mut client)| {
            tokio::spawn(async move {
                // Every node ends with "end"; each node's messages arrive in the order it sent them.
                let mut seen: HashMap<String, usize> = HashMap::new();
                let mut ends = 0;
                while ends < NODES {
                    let frame = client.recv().await;
                    if frame["event"] == "end" {
                        ends += 1;
                    } else {
                        let key = format!("{}:{}", frame["event"], frame["data"]);
                        *seen.entry(key).or_default() += 1;
                    }
                }
                // Nothing more comes afterwards.
                assert_eq!(client.try_recv(Duration::from_millis(200)).await, None);
                (index, seen)
            })
        })
        .collect();

    // Each node: messages to everyone, to x and y together (members of both get one), to x
    // except y, then the end marker.
    for (n, server) in servers.iter().enumerate() {
        for m in 0..MESSAGES_PER_NODE {
            server.emit("all", &json!([n, m])).unwrap();
        }
        server.to(["x", "y"]).emit("xy", &n).unwrap();
        server.to("x").except("y").emit("x_only", &n).unwrap();
        server.emit("end", &n).unwrap();
    }

    let mut deliveries = 0;
    for reader in readers {
        let (index, seen) = reader.await.expect("the reader does not panic");
        let mut expected: HashMap<String, usize> = HashMap::new();
        for n in 0..NODES {
            for m in 0..MESSAGES_PER_NODE {
                expected.insert(format!("\"all\":{}", json!([n, m])), 1);
            }
            expected.insert(format!("\"xy\":{n}"), 1);
            if rooms(index) == "x" {
                expected.insert(format!("\"x_only\":{n}"), 1);
            }
        }
        assert_eq!(seen, expected, "client {index} ({})", rooms(index));
        deliveries += seen.values().sum::<usize>();
    }
    assert_eq!(
        deliveries,
        total * NODES * (MESSAGES_PER_NODE + 1) + CLIENTS_PER_NODE * NODES
    );
}
