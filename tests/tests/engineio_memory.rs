//! What an Engine.IO client can make the server hold, measured with a counting allocator
//! (dhat in testing mode: live heap bytes of the whole process, server and test client).
//!
//! - A polling POST body trickled one byte per write is copied, not kept as hyper's chunks.
//! - A Socket.IO broadcast to polling sessions that never collect is shared, not copied.
//! - A WebSocket client that stops reading is dropped, and its memory comes back.
//!
//! The tests take turns: dhat counts one process, so one runs at a time.

mod engineio_client;

use engineio_client::*;
use futures_util::SinkExt as _;
use nestgate::App;
use nestgate::engineio::EngineConfig;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// One measured test at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Live heap bytes now.
fn live() -> i64 {
    dhat::HeapStats::get().curr_bytes as i64
}

const MB: i64 = 1_000_000;

#[tokio::test]
async fn a_trickled_post_body_pins_its_bytes_not_a_read_buffer_per_byte() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let (server, _engine) = echo_server(EngineConfig::default()).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.set_nodelay(true).unwrap();
    let head = format!(
        "POST {POLLING}&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100000\r\n\r\n4"
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = live();
    // One byte per write, a millisecond apart, so that the server reads them one by one.
    let writes = 4_000;
    for _ in 0..writes {
        trickle.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = live() - before;
    println!("{writes} one-byte writes of a POST body: live heap +{grown} B");
    // Kept as hyper's chunks, each byte held a read buffer (about 4 KB): 16 MB here.
    assert!(grown < 2 * MB, "+{grown} B for {writes} bytes of body");
}

#[websocket_gateway(path = "/")]
#[derive(Default)]
struct Lobby;

#[websocket_gateway]
impl Lobby {
    /// Never answers: the messages behind it wait.
    #[subscribe_message("stuck")]
    async fn stuck(&self) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn a_broadcast_to_polling_sessions_that_never_collect_is_shared() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = nestgate_tests::serve(
        App::bare()
            .gateway::<Lobby>()
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let addr = server.addr();
    let polling = "/socket.io/?EIO=4&transport=polling";
    let mut sids = Vec::new();
    for _ in 0..100 {
        let open = request(addr, &format!("GET {polling} HTTP/1.1"), b"").await;
        let sid = sid_of(&open.body);
        let connect = request(addr, &format!("POST {polling}&sid={sid} HTTP/1.1"), b"40").await;
        assert_eq!(connect.status, 200);
        sids.push(sid);
    }
    let lobby = server.handle().server("/").expect("the / namespace");
    eventually("every session joined", async || {
        lobby.local_socket_count() == 100
    })
    .await;
    // A first broadcast, collected: every queue is empty again and warmed up.
    lobby.emit("warm", "up").unwrap();
    for sid in &sids {
        let answer = request(addr, &format!("GET {polling}&sid={sid} HTTP/1.1"), b"").await;
        assert!(answer.body.contains(r#"["warm","up"]"#), "{answer:?}");
    }
    let text = "x".repeat(500_000);
    let before = live();
    lobby.emit("said", &text).unwrap();
    let grown = live() - before;
    println!("one 500 KB broadcast to 100 polling sessions: live heap +{grown} B");
    // Copied per session, it was 100 × 500 KB = 50 MB. Shared: the frame and its translation.
    assert!(grown < 2 * MB, "+{grown} B");
    drop(text);
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_dropped_and_its_memory_comes_back() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let (server, engine) = echo_server(EngineConfig::default()).await;
    let addr = server.addr();
    // Warm up: one session opened and closed.
    let (mut ws, _) = connect_async(format!("ws://{addr}/engine.io/?EIO=4&transport=websocket"))
        .await
        .unwrap();
    ws.send(Message::text("1")).await.unwrap();
    drop(ws);
    eventually("the warm-up session is gone", async || {
        engine.sessions() == 0
    })
    .await;
    let before = live();

    let (mut ws, _) = connect_async(format!("ws://{addr}/engine.io/?EIO=4&transport=websocket"))
        .await
        .unwrap();
    // Watch for the session's end from the server's side.
    let closed_at = {
        let engine = engine.clone();
        tokio::spawn(async move {
            while engine.sessions() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            while engine.sessions() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Instant::now()
        })
    };
    // Echoes of 100 KB, never read: the session is closed as a slow client once 4 MB wait.
    let echo = format!("4{}", "x".repeat(100_000));
    let mut sent = 0;
    let failed_at = loop {
        let send = tokio::time::timeout(Duration::from_secs(30), ws.send(Message::text(&echo)));
        match send.await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(_)) => break Instant::now(),
            Err(_) => panic!("a send blocked for 30 s: the server neither reads nor drops us"),
        }
        assert!(
            sent < 5_000,
            "5,000 echoes sent and the connection is still open"
        );
    };
    let closed_at = closed_at.await.unwrap();
    let after_close = failed_at.saturating_duration_since(closed_at);
    println!("{sent} echoes sent; the connection ended {after_close:?} after the session");
    assert!(
        after_close < Duration::from_secs(3),
        "the connection outlived its session by {after_close:?} (grace 2 s)"
    );
    assert_eq!(engine.sessions(), 0);
    drop(ws);
    let mut grown = 0;
    eventually("the memory comes back", async || {
        grown = live() - before;
        grown < MB
    })
    .await;
    println!("live heap after the slow client: +{grown} B");
}

/// What one idle session holds on the server: abandoned polling handshakes (with a small head
/// and with one near `max_handshake_bytes`), and idle WebSocket sessions, of a Socket.IO app.
#[tokio::test]
async fn what_an_idle_session_holds() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = nestgate_tests::serve(
        App::bare()
            .gateway::<Lobby>()
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let addr = server.addr();
    let polling = "/socket.io/?EIO=4&transport=polling";
    // Warm up (lazy statics, first-use growth).
    request(addr, &format!("GET {polling} HTTP/1.1"), b"").await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let per_session = async |count: i64, head: &str| {
        let before = live();
        for _ in 0..count {
            let open = request(addr, head, b"").await;
            assert_eq!(open.status, 200, "{open:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        (live() - before) / count
    };
    let small = per_session(500, &format!("GET {polling} HTTP/1.1")).await;
    println!("an abandoned polling handshake (small head): {small} B");
    // 2.1 KB before issue 14's second round, 1.3 KB since (the head packed, no heartbeat task).
    assert!(small < 2_500, "{small} B per abandoned handshake");
    let filler = "a".repeat(15 * 1024);
    let big = per_session(
        200,
        &format!("GET {polling} HTTP/1.1\r\nX-Filler: {filler}"),
    )
    .await;
    println!("an abandoned polling handshake (15 KiB head): {big} B");
    assert!(big < 2_500 + 16 * 1024, "{big} B per abandoned handshake");

    // Polling sessions CONNECTed to `/`, between two polls (no GET waiting: one that waits
    // adds its HTTP connection).
    let before = live();
    let mut sids = Vec::new();
    for _ in 0..200 {
        sids.push(engineio_client::socketio_polling_session(addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let polling_idle = (live() - before) / 200;
    println!("a Socket.IO polling session between polls: {polling_idle} B");
    // 4.1 KB before issue 14's second round, 2.8 KB since.
    assert!(polling_idle < 4_000, "{polling_idle} B per polling session");

    // Idle WebSocket sessions, CONNECTed to `/`, from a client that holds almost nothing.
    let before = live();
    let mut sockets = Vec::new();
    for _ in 0..200 {
        let mut ws = websocket(addr, "/socket.io/?EIO=4&transport=websocket").await;
        read_frame(&mut ws).await.expect("the open packet");
        ws.write_all(&frame(1, b"40")).await.unwrap();
        read_frame(&mut ws).await.expect("the CONNECT answer");
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = (live() - before) / 200;
    println!("an idle Socket.IO WebSocket session: {idle} B");
    // 10.0 KB before issue 14's second round, 7.6 KB since (server and client stream).
    assert!(idle < 8_500, "{idle} B per idle WebSocket session");
}

/// Writes `message` 40 times from a task of its own (which blocks once the server stops
/// reading), and gives the server 2 s to take what it will; the writer is returned still
/// running, or done.
async fn flood(mut ws: TcpStream, message: Vec<u8>) -> tokio::task::JoinHandle<TcpStream> {
    let writer = tokio::spawn(async move {
        for _ in 0..40 {
            if ws.write_all(&message).await.is_err() {
                break;
            }
        }
        ws
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    writer
}

/// The client's messages waiting for an application that does not read them are bounded in
/// bytes (`max_buffered_bytes`), not only in count: past it, the server stops reading.
#[tokio::test]
async fn messages_waiting_for_the_application_are_bounded_in_bytes() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    // An application that takes no message.
    let engine = nestgate::engineio::EngineIo::new(EngineConfig::default(), |socket| async move {
        socket.sender().closed().await;
        drop(socket);
    });
    let server = nestgate_tests::serve(App::bare().merge(engine.router("/engine.io/"))).await;
    let mut ws = websocket(server.addr(), "/engine.io/?EIO=4&transport=websocket").await;
    read_frame(&mut ws).await.expect("the open packet");
    let before = live();
    // 40 messages of 500 KB (20 MB), written by a task that blocks once the server stops
    // reading; the frame is built once (the client's own memory stays one frame).
    let message = frame(1, format!("4{}", "x".repeat(500_000)).as_bytes());
    let writer = flood(ws, message).await;
    let grown = live() - before;
    println!("20 MB sent to an application that does not read: live heap +{grown} B");
    // At most 4 MB wait (plus the message being read and tungstenite's buffers); with only a
    // count (256 messages), all 20 MB would.
    assert!(grown < 7 * MB, "+{grown} B");
    writer.abort();
}

/// A Socket.IO client's messages waiting for a namespace socket that takes none (its one
/// handler never ends) are bounded in bytes too: the WebSocket reader holds at most
/// `max_buffered_bytes` behind the message that waits, then stops reading.
#[tokio::test]
async fn socket_io_messages_waiting_for_a_busy_socket_are_bounded_in_bytes() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = nestgate_tests::serve(
        App::bare()
            .gateway::<Lobby>()
            .max_in_flight(1)
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let mut ws = websocket(server.addr(), "/socket.io/?EIO=4&transport=websocket").await;
    read_frame(&mut ws).await.expect("the open packet");
    ws.write_all(&frame(1, b"40")).await.unwrap();
    read_frame(&mut ws).await.expect("the CONNECT answer");
    let before = live();
    // 40 events of 500 KB (20 MB): one runs (and never ends), one waits in the socket's
    // queue (`max_in_flight` 1), the rest in the reader's backlog up to 4 MB; then the server
    // stops reading and the writer blocks.
    let message = frame(
        1,
        format!(r#"42["stuck","{}"]"#, "x".repeat(500_000)).as_bytes(),
    );
    let writer = flood(ws, message).await;
    let grown = live() - before;
    println!("20 MB of events for a socket that takes none: live heap +{grown} B");
    // 4 MB of backlog, two messages held by the socket, the one being read, tungstenite's
    // buffers: with only a count (256 messages), all 20 MB would be held.
    assert!(grown < 8 * MB, "+{grown} B");
    assert!(!writer.is_finished(), "the server stopped reading");
    writer.abort();
}
