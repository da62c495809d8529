//! The bounds of the Socket.IO layer over real sockets (issue 12): binary attachments capped
//! in bytes and in time, the connect timeout of a polling session that never CONNECTs, and
//! volatile frames to a session whose queue is full (dropped; the session stays open).

mod engineio_client;

use engineio_client::{eventually, request, sid_of, socketio_get, socketio_polling_session};
use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::App;
use nestgate::engineio::EngineConfig;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

#[websocket_gateway(path = "/")]
#[derive(Default)]
struct Main;

#[websocket_gateway]
impl Main {
    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }
}

async fn app(config: SocketIoConfig) -> TestServer {
    serve(App::bare().gateway::<Main>().socket_io(config)).await
}

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A Socket.IO client on `/`, connected (its CONNECT answered).
async fn connected(server: &TestServer) -> Ws {
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", server.url(""));
    let (mut ws, _) = connect_async(url).await.expect("opens");
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with("0{"), "{open:?}");
    ws.send(Message::text("40")).await.unwrap();
    loop {
        let frame = ws.next().await.unwrap().unwrap();
        match frame.to_text().unwrap() {
            "2" => ws.send(Message::text("3")).await.unwrap(),
            connect => {
                assert!(connect.starts_with("40{"), "{connect:?}");
                return ws;
            }
        }
    }
}

/// Reads until the server ends the session (pings answered), at most `within`; whether it did.
async fn ended_within(ws: &mut Ws, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        let Ok(message) = tokio::time::timeout(within, ws.next()).await else {
            return false;
        };
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                let _ = ws.send(Message::text("3")).await;
            }
            Some(Ok(Message::Text(text))) if text.as_str() == "1" => {}
            Some(Ok(Message::Close(_)) | Err(_)) | None => return true,
            Some(Ok(other)) => panic!("unexpected {other:?}"),
        }
    }
    false
}

#[tokio::test]
async fn binary_attachments_over_max_payload_together_close_the_session() {
    let engine = EngineConfig::default().max_payload(1_000_000);
    let server = app(SocketIoConfig::default().engine(engine)).await;
    let mut ws = connected(&server).await;
    ws.send(Message::text(
        r#"452-["echo",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#,
    ))
    .await
    .unwrap();
    // Each is under maxPayload; both are not.
    ws.send(Message::binary(vec![1u8; 600_000])).await.unwrap();
    let _ = ws.send(Message::binary(vec![2u8; 600_000])).await;
    assert!(ended_within(&mut ws, Duration::from_secs(10)).await);

    // Under the limit together, they are answered.
    let mut ws = connected(&server).await;
    ws.send(Message::text(
        r#"451-1["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    ws.send(Message::binary(vec![1u8; 600_000])).await.unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    assert_eq!(
        ack.to_text().unwrap(),
        r#"461-1[{"_placeholder":true,"num":0}]"#
    );
}

#[tokio::test]
async fn attachments_that_never_come_close_the_session_within_the_ping_timeout() {
    let engine =
        EngineConfig::default().heartbeat(Duration::from_millis(300), Duration::from_millis(300));
    let server = app(SocketIoConfig::default().engine(engine)).await;
    let mut ws = connected(&server).await;
    ws.send(Message::text(
        r#"452-["echo",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#,
    ))
    .await
    .unwrap();
    ws.send(Message::binary(vec![1u8; 10])).await.unwrap();
    // The second attachment never comes; pings are answered, so only the attachments'
    // deadline (the ping timeout, 300 ms) can end the session.
    assert!(
        ended_within(&mut ws, Duration::from_secs(5)).await,
        "a half-sent binary packet is not kept while pongs arrive"
    );
}

#[tokio::test]
async fn a_polling_session_that_never_connects_is_closed_after_the_connect_timeout() {
    let server = app(SocketIoConfig::default().connect_timeout(Duration::from_millis(300))).await;
    let addr = server.addr();
    let polling = "/socket.io/?EIO=4&transport=polling";
    let open = request(addr, &format!("GET {polling} HTTP/1.1"), b"").await;
    assert_eq!(open.status, 200);
    let sid = sid_of(&open.body);
    let started = Instant::now();
    // A GET waiting meanwhile gets the close packet; the next one learns the sid is gone.
    eventually("the session is closed", async || {
        let answer = request(addr, &format!("GET {polling}&sid={sid} HTTP/1.1"), b"").await;
        answer.status == 400
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );
}

/// The `n` of each `42["tick",{"n":…}]` packet in a polling payload.
fn ticks(payload: &str) -> Vec<u64> {
    payload
        .split('\x1e')
        .map(|packet| {
            let args: Value = serde_json::from_str(packet.strip_prefix("42").expect("an EVENT"))
                .unwrap_or_else(|_| panic!("{packet:?}"));
            assert_eq!(args[0], "tick", "{packet:?}");
            args[1]["n"].as_u64().expect("n")
        })
        .collect()
}

#[tokio::test]
async fn a_volatile_flood_to_a_full_session_is_dropped_and_a_plain_one_closes_it() {
    let mut engine = EngineConfig::default();
    engine.max_buffered = 16;
    let server = app(SocketIoConfig::default().engine(engine)).await;
    let addr = server.addr();
    let sid = socketio_polling_session(addr).await;
    let main = server.handle().server("/").unwrap();
    // A polling client that does not GET collects nothing: 100 packets for a queue of 16.
    for n in 0..100 {
        main.volatile().emit("tick", &json!({"n": n})).unwrap();
    }
    let answer = socketio_get(addr, &sid).await;
    assert_eq!(answer.status, 200, "the session is still open: {answer:?}");
    let received = ticks(&answer.body);
    assert!(
        !received.is_empty() && received.len() <= 16,
        "what fits arrives, the rest is dropped: got {received:?}"
    );
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "what arrives keeps its order: {received:?}"
    );
    // Still connected: a later frame arrives once it reads.
    main.emit("tick", &json!({"n": 1000})).unwrap();
    assert_eq!(ticks(&socketio_get(addr, &sid).await.body), [1000]);
    // The same flood, not volatile, closes the session as a slow client (as before).
    for n in 0..100 {
        main.emit("tick", &json!({"n": n})).unwrap();
    }
    assert_eq!(
        socketio_get(addr, &sid).await.status,
        400,
        "the session is gone (its queue dropped)"
    );
}

#[tokio::test]
async fn volatile_frames_past_max_buffered_bytes_are_dropped_too() {
    // 4 KiB of queue (`max_payload` is its floor) and 1 KiB frames: 4 fit, at most.
    let engine = EngineConfig::default()
        .max_payload(4 * 1024)
        .max_buffered_bytes(4 * 1024);
    let server = app(SocketIoConfig::default().engine(engine)).await;
    let addr = server.addr();
    let sid = socketio_polling_session(addr).await;
    let main = server.handle().server("/").unwrap();
    let pad = "b".repeat(1000);
    for n in 0..50 {
        main.volatile()
            .emit("tick", &json!({"n": n, "pad": pad}))
            .unwrap();
    }
    let answer = socketio_get(addr, &sid).await;
    assert_eq!(answer.status, 200, "the session is still open: {answer:?}");
    let received = ticks(&answer.body);
    assert!(
        !received.is_empty() && received.len() <= 4,
        "got {received:?}"
    );
    main.emit("tick", &json!({"n": 1000})).unwrap();
    assert_eq!(ticks(&socketio_get(addr, &sid).await.body), [1000]);
}
