//! `App::max_messages_per_second` on Socket.IO sessions, over real sockets (the security
//! review's W2 for socket.io clients): one flooder of a fan-out event evicts no reader; a
//! client paused by the limit is not closed for a ping timeout; a polling flooder's POST is
//! held (the brake of polling) within `post_timeout`; `without_message_rate_limit` turns the
//! Socket.IO limit off too.

mod engineio_client;

use engineio_client::{socketio_get, socketio_polling_session, socketio_post};
use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::App;
use nestgate::engineio::EngineConfig;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate_tests::{TestServer, serve};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Fanout;

#[websocket_gateway]
impl Fanout {
    /// Fan-out of a client's message, not volatile: a recipient that cannot keep up is closed.
    #[subscribe_message("broadcast")]
    fn broadcast(&self, server: Server, Data(data): Data<Value>) -> Result<(), WsException> {
        server.emit("broadcast", &data)?;
        Ok(())
    }

    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }
}

fn app() -> App {
    App::bare().gateway::<Fanout>()
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw Socket.IO client over a WebSocket, connected to the main namespace.
async fn connect(server: &TestServer) -> Ws {
    let url = server.url("/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = connect_async(url).await.expect("the WebSocket opens");
    assert!(recv(&mut ws).await.expect("open").starts_with("0{"));
    ws.send(Message::text("40")).await.unwrap();
    assert!(recv(&mut ws).await.expect("connect").starts_with("40{"));
    ws
}

/// The next text frame (pings answered and skipped); `None` once the session is closed.
async fn recv(ws: &mut Ws) -> Option<String> {
    recv_within(ws, Duration::from_secs(5))
        .await
        .expect("a frame within the wait")
}

/// As [`recv`], waiting at most `wait`: `Err` when nothing came.
async fn recv_within(ws: &mut Ws, wait: Duration) -> Result<Option<String>, ()> {
    loop {
        let message = tokio::time::timeout(wait, ws.next())
            .await
            .map_err(|_| ())?;
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.map_err(|_| ())?;
            }
            Some(Ok(Message::Text(text))) if text.as_str() == "1" => return Ok(None),
            Some(Ok(Message::Text(text))) => return Ok(Some(text.as_str().to_owned())),
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(None),
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_io_flooder_evicts_no_reader_under_the_default_limit() {
    // The default: 100 messages per second, bursts of 200, per Engine.IO session.
    let server = serve(app().socket_io(SocketIoConfig::default())).await;
    let mut readers = Vec::new();
    for _ in 0..5 {
        readers.push(connect(&server).await);
    }
    let started = Instant::now();
    let mut flooder = connect(&server).await;
    let flood = tokio::spawn(async move {
        let packet = format!(r#"42["broadcast","{}"]"#, "x".repeat(1000));
        for _ in 0..10_000 {
            if flooder.send(Message::text(packet.clone())).await.is_err() {
                break;
            }
        }
        flooder
    });
    let window = Duration::from_secs(3);
    let counting: Vec<_> = readers
        .into_iter()
        .map(|mut reader| {
            tokio::spawn(async move {
                let mut received = 0usize;
                let deadline = started + window;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match recv_within(&mut reader, left).await {
                        Ok(Some(packet)) => {
                            assert!(packet.starts_with(r#"42["broadcast","#), "{packet}");
                            received += 1;
                        }
                        Ok(None) => panic!("a reader was closed after {received} broadcasts"),
                        Err(()) => break,
                    }
                }
                (received, reader)
            })
        })
        .collect();
    let mut counts = Vec::new();
    for counting in counting {
        let (received, mut reader) = counting.await.expect("no reader was disconnected");
        // Still connected: an ack is answered (behind the broadcasts still queued for it).
        reader
            .send(Message::text(r#"421["echo","alive"]"#))
            .await
            .unwrap();
        loop {
            let packet = recv(&mut reader)
                .await
                .expect("the reader is still connected");
            if packet == r#"431["alive"]"# {
                break;
            }
        }
        counts.push(received);
    }
    let elapsed = started.elapsed();
    nestgate_tests::assert_at_the_default_rate(&counts, elapsed);
    println!("each Socket.IO reader received {counts:?} broadcasts in {elapsed:.2?}");
    flood.abort();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_paused_by_the_limit_is_not_closed_for_a_ping_timeout() {
    // A ping every 300 ms, 200 ms to answer it; 700 acks at 100/s (bursts of 200) take about
    // 5 s: ten times `ping_interval + ping_timeout`, with the client's pongs queued behind its
    // own messages, which the server reads at the limit's pace.
    let engine =
        EngineConfig::default().heartbeat(Duration::from_millis(300), Duration::from_millis(200));
    let server = serve(app().socket_io(SocketIoConfig::default().engine(engine))).await;
    let (sink, mut stream) = connect(&server).await.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    const SENT: usize = 700;
    let started = Instant::now();
    let writer = {
        let sink = sink.clone();
        tokio::spawn(async move {
            for n in 0..SENT {
                let packet = format!(r#"42{n}["echo",{n}]"#);
                sink.lock().await.send(Message::text(packet)).await.unwrap();
            }
        })
    };
    let (mut answers, mut pings) = (0, 0);
    while answers < SENT {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the flood is answered within 30 s");
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                pings += 1;
                // Queued behind whatever the writer has sent so far.
                sink.lock().await.send(Message::text("3")).await.unwrap();
            }
            Some(Ok(Message::Text(text))) => {
                assert_eq!(text.as_str(), format!("43{answers}[{answers}]"));
                answers += 1;
            }
            Some(Ok(_)) => {}
            other => panic!("closed after {answers} answers and {pings} pings: {other:?}"),
        }
    }
    writer.await.unwrap();
    let elapsed = started.elapsed();
    println!("{SENT} acks answered in {elapsed:.2?}, {pings} pings answered meanwhile");
    // The limit held the client back for many heartbeats (a lower bound: a loaded machine
    // only makes it longer), and the session was pinged all along.
    assert!(
        elapsed >= Duration::from_secs(3),
        "{elapsed:?}: not limited"
    );
    assert!(pings >= 5, "{pings} pings in {elapsed:?}");
    server.shutdown().await.unwrap();
}

/// `count` EVENTs with acks in one polling payload.
fn flood(count: usize) -> String {
    let packets: Vec<String> = (0..count)
        .map(|n| format!(r#"42{n}["echo",{n}]"#))
        .collect();
    packets.join("\u{1e}")
}

#[tokio::test]
async fn a_polling_flooder_is_held_back_by_its_post_within_post_timeout() {
    let server = serve(app().socket_io(SocketIoConfig::default())).await;
    let addr = server.addr();
    // 700 messages in one POST: the burst (200) and the messages waiting for the application
    // (256) go at once, the rest at 100/s: the POST is answered after about 2.4 s.
    let sid = socketio_polling_session(addr).await;
    let started = Instant::now();
    let answer = socketio_post(addr, &sid, &flood(700)).await;
    let held = started.elapsed();
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    assert!(
        held >= Duration::from_millis(1500),
        "{held:?}: not held back"
    );
    // Every message was taken: the session is alive and answers all 700 acks.
    let mut answers = 0;
    while answers < 700 {
        let got = socketio_get(addr, &sid).await;
        assert_eq!(got.status, 200, "{got:?}");
        answers += got
            .body
            .split('\u{1e}')
            .filter(|p| p.starts_with("43"))
            .count();
    }
    println!("a POST of 700 messages was held {held:.2?}");

    // With a 1 s `post_timeout`, a POST the limit cannot take in time is refused like a body
    // that did not arrive in time: 408 at the deadline, session closed.
    let engine = EngineConfig::default().post_timeout(Duration::from_secs(1));
    let short = serve(app().socket_io(SocketIoConfig::default().engine(engine))).await;
    let addr = short.addr();
    let sid = socketio_polling_session(addr).await;
    let started = Instant::now();
    let answer = socketio_post(addr, &sid, &flood(2_000)).await;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let after = socketio_get(addr, &sid).await;
    assert_eq!(after.status, 400, "the session is closed: {after:?}");
}

#[tokio::test]
async fn without_message_rate_limit_turns_the_socket_io_limit_off_too() {
    for (app, limited) in [(app(), true), (app().without_message_rate_limit(), false)] {
        let server = serve(app.socket_io(SocketIoConfig::default())).await;
        let mut client = connect(&server).await;
        let started = Instant::now();
        // 1,000 acks, pipelined: about 8 s at the default limit.
        for n in 0..1_000 {
            client
                .send(Message::text(format!(r#"42{n}["echo",{n}]"#)))
                .await
                .unwrap();
        }
        for n in 0..1_000 {
            let got = recv_within(&mut client, Duration::from_secs(20)).await;
            assert_eq!(got, Ok(Some(format!("43{n}[{n}]"))));
            if limited && n == 400 {
                // Enough to tell: the default limit admits about 200 + 100/s.
                break;
            }
        }
        let elapsed = started.elapsed();
        if limited {
            assert!(
                elapsed >= Duration::from_millis(1500),
                "{elapsed:?}: not limited"
            );
        } else {
            assert!(
                elapsed < Duration::from_secs(6),
                "{elapsed:?}: still limited"
            );
        }
        server.shutdown().await.unwrap();
    }
}
