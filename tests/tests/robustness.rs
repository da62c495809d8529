//! Bad input and bad clients never disturb their neighbours (DESIGN §7).

use futures_util::StreamExt as _;
use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate_tests::{assert_alive, serve};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

#[derive(Clone, Default)]
struct Finished(Arc<AtomicUsize>);

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Robust;

#[websocket_gateway]
impl Robust {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }

    #[subscribe_message("panic")]
    async fn panic(&self) -> u32 {
        panic!("a bug in a handler");
    }

    #[subscribe_message("slow")]
    async fn slow(
        &self,
        socket: Socket,
        finished: nestgate::extract::State<Finished>,
    ) -> &'static str {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The client is gone by now: emitting fails quietly, nothing panics.
        assert!(socket.emit("late", "anyone?").is_err() || !socket.connected());
        finished.0.0.fetch_add(1, Ordering::SeqCst);
        "done"
    }

    #[subscribe_message("flood")]
    fn flood(&self, socket: Socket, Data(count): Data<usize>) {
        for n in 0..count {
            if socket.emit("flood", &n).is_err() {
                break;
            }
        }
    }
}

fn app() -> App {
    App::bare().provide(Finished::default()).gateway::<Robust>()
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_error_and_nothing_else_is_disturbed() {
    let server = serve(app()).await;
    let mut client = server.client("/").await;
    let mut neighbour = server.client("/").await;
    client.emit("panic", json!(1)).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "Internal server error",
            "cause": {"pattern": "panic", "data": 1}}})
    );
    let ack = client.request(9, "panic", Value::Null).await;
    assert_eq!(
        ack,
        json!({"ack": 9, "error": {"status": "error", "message": "Internal server error"}})
    );
    assert_alive(&mut client).await;
    assert_alive(&mut neighbour).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_idle_tcp_connection_is_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt as _;
    let server = serve(app().handshake_timeout(Duration::from_millis(200))).await;
    let mut idle = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    // The server answers 408 or just closes; either way the connection ends, and soon.
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the idle connection was still open after 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "closed too early: {:?}",
        started.elapsed()
    );
    let mut client = server.client("/").await;
    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deeply_nested_data_is_refused_without_harm() {
    let server = serve(app()).await;
    let mut client = server.client("/").await;
    let depth = 100_000;
    let data = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    client
        .send_text(&format!(r#"{{"event":"echo","data":{data},"id":1}}"#))
        .await;
    let answer = client.recv().await;
    assert_eq!(answer["ack"], 1);
    let error = &answer["error"]["errors"][0];
    assert_eq!(error["rule"], "depth", "{answer}");
    let field = error["field"].as_str().unwrap();
    assert!(
        field.starts_with("[0][0]") && field.ends_with('…'),
        "{field}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.ends_with("… is nested too deeply"), "{message}");
    assert!(message.len() < 120, "{message}");
    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_oversized_frame_closes_that_client_with_1009_only() {
    let server = serve(app().max_message_size(64 * 1024)).await;
    let mut big = server.client("/").await;
    let mut neighbour = server.client("/").await;

    // Just under the limit is fine.
    let fits = "x".repeat(60 * 1024);
    big.emit("echo", json!(fits)).await;
    assert_eq!(big.recv().await, json!(fits));

    let too_big = json!({"event": "echo", "data": "x".repeat(100 * 1024)}).to_string();
    big.send_text(&too_big).await;
    assert_eq!(
        big.closed().await,
        Closed::Frame(1009, "message too large".to_owned())
    );
    assert_alive(&mut neighbour).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_abrupt_disconnect_mid_handler_leaves_the_server_serving() {
    let server = serve(app()).await;
    let mut neighbour = server.client("/").await;
    let finished = server
        .handle()
        .server("/")
        .unwrap()
        .state::<Finished>()
        .unwrap();

    let mut client = server.client("/").await;
    client.emit("slow", Value::Null).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Drop the TCP connection without a close frame.
    drop(client);

    // The handler still ran to its end, and the socket is gone from the table.
    for _ in 0..100 {
        if finished.0.load(Ordering::SeqCst) == 1
            && server.handle().server("/").unwrap().local_socket_count() == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(finished.0.load(Ordering::SeqCst), 1);
    assert_eq!(server.handle().server("/").unwrap().local_socket_count(), 1);
    assert_alive(&mut neighbour).await;

    // A raw TCP client that sends half a frame and vanishes does no harm either.
    let mut raw = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    raw.write_all(nestgate_tests::upgrade_request("/").as_bytes())
        .await
        .unwrap();
    raw.write_all(&[0x81, 0xfe, 0x01]).await.unwrap();
    drop(raw);
    assert_alive(&mut neighbour).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_1013_and_its_neighbour_gets_everything() {
    let server = serve(app().outbound_queue(16)).await;
    let mut slow = server.client("/").await;
    let mut fast = server.client("/").await;

    // The slow client asks for far more than its queue holds and does not read meanwhile.
    slow.emit("flood", json!(100_000)).await;
    let closed = slow.closed().await;
    assert_eq!(closed, Closed::Frame(1013, "slow consumer".to_owned()));

    fast.emit("flood", json!(10)).await;
    for n in 0..10 {
        assert_eq!(fast.recv().await, json!({"event": "flood", "data": n}));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_times_one_hundred_round_trips_lose_and_duplicate_nothing() {
    let server = serve(app()).await;
    let url = server.url("/");
    let clients: Vec<_> = (0..200u64)
        .map(|client| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut ws = nestgate::testing::TestClient::connect(&url).await.unwrap();
                // Pipeline all hundred requests, then read the hundred answers.
                for n in 0..100u64 {
                    let id = client * 1000 + n;
                    ws.send_json(
                        json!({"event": "echo", "data": {"client": client, "n": n}, "id": id}),
                    )
                    .await;
                }
                let mut seen = HashSet::new();
                for _ in 0..100 {
                    let answer = ws.recv().await;
                    let id = answer["ack"].as_u64().unwrap();
                    assert_eq!(answer["data"], json!({"client": client, "n": id % 1000}));
                    assert!(seen.insert(id), "duplicate answer {id}");
                }
                assert_eq!(
                    ws.try_recv(Duration::from_millis(100)).await,
                    None,
                    "an extra frame"
                );
                seen.len()
            })
        })
        .collect();
    let mut total = 0;
    for client in clients {
        total += client.await.unwrap();
    }
    assert_eq!(total, 20_000);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_long_unknown_event_name_is_repeated_truncated() {
    let server = serve(app()).await;
    let mut client = server.client("/").await;
    let name = "n".repeat(100 * 1024);
    client.send_json(json!({"event": name, "data": 1})).await;
    let frame = client.inner().next().await.unwrap().unwrap();
    let text = frame.to_text().unwrap().to_owned();
    assert!(text.len() < 1024, "{} bytes", text.len());
    let frame: Value = serde_json::from_str(&text).unwrap();
    let shown = format!("{}…", "n".repeat(64));
    assert_eq!(
        frame["data"]["message"],
        json!(format!("unknown event '{shown}'"))
    );
    assert_eq!(frame["data"]["cause"], json!({"pattern": shown, "data": 1}));
    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
    let server = serve(app()).await;
    let mut client = server.client("/").await;
    let mut neighbour = server.client("/").await;
    let invalid = Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        OpCode::Data(OpData::Text),
        true,
    );
    client
        .send(tokio_tungstenite::tungstenite::Message::Frame(invalid))
        .await;
    assert_eq!(
        client.closed().await,
        Closed::Frame(1007, "invalid UTF-8".to_owned())
    );
    assert_alive(&mut neighbour).await;
    server.shutdown().await.unwrap();
}
