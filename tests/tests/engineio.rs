//! The bounds of an Engine.IO session over real sockets (issue 12): how many sessions, how
//! long and how large a polling POST, how many bytes may wait for a client, pongs nobody asked
//! for, the upgrade's timeout, frame sizes, and the close frame of every close the server
//! starts on a WebSocket. docs/LIMITS.md lists each bound with the test here that hits it.

mod engineio_client;

use engineio_client::*;
use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::engineio::{CloseReason, EngineConfig};
use nestgate_tests::HttpStatus as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn sessions_past_the_per_address_cap_are_refused_until_one_closes() {
    let (server, engine) = echo_server(EngineConfig::default().max_sessions_per_ip(Some(10))).await;
    let addr = server.addr();
    let mut sids = Vec::new();
    for _ in 0..10 {
        sids.push(handshake(addr).await);
    }
    let refused = request(addr, &format!("GET {POLLING} HTTP/1.1"), b"").await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let body: serde_json::Value = serde_json::from_str(&refused.body).expect("a JSON body");
    assert_eq!(body["code"], 4, "engine.io's FORBIDDEN code: {body}");
    assert_eq!(engine.sessions(), 10);
    // A WebSocket handshake is refused as engine.io refuses one: 400, no upgrade.
    let status = server
        .http_status(&nestgate_tests::upgrade_request(
            "/engine.io/?EIO=4&transport=websocket",
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(engine.sessions(), 10);

    // The client closes one: its place comes back once the session is gone.
    assert_eq!(post(addr, &sids[0], "1").await.status, 200);
    eventually("a new handshake is accepted", async || {
        request(addr, &format!("GET {POLLING} HTTP/1.1"), b"")
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(engine.sessions(), 10);
}

#[tokio::test]
async fn the_global_cap_and_the_handshake_size_are_enforced_before_a_session_exists() {
    let config = EngineConfig::default()
        .max_sessions(3)
        .max_handshake_bytes(8 * 1024);
    let (server, engine) = echo_server(config).await;
    let addr = server.addr();
    let big = |bytes: usize| format!("GET {POLLING} HTTP/1.1\r\nX-Filler: {}", "a".repeat(bytes));
    assert_eq!(request(addr, &big(9 * 1024), b"").await.status, 431);
    assert_eq!(engine.sessions(), 0, "no session for a refused handshake");
    assert_eq!(request(addr, &big(7 * 1024), b"").await.status, 200);
    handshake(addr).await;
    handshake(addr).await;
    let refused = request(addr, &format!("GET {POLLING} HTTP/1.1"), b"").await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(engine.sessions(), 3);
}

#[tokio::test]
async fn a_stalled_post_body_times_out_and_a_second_post_at_once_is_refused() {
    let config = EngineConfig::default().post_timeout(Duration::from_millis(300));
    let (server, engine) = echo_server(config).await;
    let addr = server.addr();

    // A body that stops after one byte: 408, then the connection ends.
    let sid = handshake(addr).await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {POLLING}&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\n4"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut stalled).await;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(get(addr, &sid).await.status, 400, "the session is closed");

    // Two POSTs at once on one sid: the second is refused and the session closed. The first
    // asks for `100 Continue`, which the server sends once it reads the body: it is then
    // under way for sure.
    // (On a server with the default `post_timeout`: the first POST must outlast the second.)
    let (patient, patient_engine) = echo_server(EngineConfig::default()).await;
    let addr = patient.addr();
    let sid = handshake(addr).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {POLLING}&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    first.write_all(head.as_bytes()).await.unwrap();
    let mut continue_line = [0; 25];
    first.read_exact(&mut continue_line).await.unwrap();
    assert_eq!(&continue_line, b"HTTP/1.1 100 Continue\r\n\r\n");
    let second = post(addr, &sid, "4hello").await;
    assert_eq!(second.status, 400, "{second:?}");
    assert!(second.body.contains("overlap"), "{second:?}");
    assert_eq!(get(addr, &sid).await.status, 400, "the session is closed");
    drop(first);

    // A body over maxPayload is 413 (declared or sent).
    let sid = handshake(addr).await;
    let huge = "4".repeat(1_000_001);
    assert_eq!(post(addr, &sid, &huge).await.status, 413);
    eventually("every session is gone", async || {
        engine.sessions() == 0 && patient_engine.sessions() == 0
    })
    .await;
    drop(server);
}

#[tokio::test]
async fn an_aborted_post_closes_the_session() {
    let (server, engine, reasons) = echo_server_with_reasons(EngineConfig::default()).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let mut aborted = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {POLLING}&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    aborted.write_all(head.as_bytes()).await.unwrap();
    // The server reads the body (it said `100 Continue`); the client goes away after 4 bytes.
    let mut continue_line = [0; 25];
    aborted.read_exact(&mut continue_line).await.unwrap();
    aborted.write_all(b"4abc").await.unwrap();
    drop(aborted);
    eventually("the session is closed", async || engine.sessions() == 0).await;
    eventually("its reason is known", async || {
        !reasons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        reasons.lock().unwrap()[..],
        [CloseReason::TransportClose],
        "a client that went away, not a body too large"
    );
}

#[tokio::test]
async fn unsolicited_pongs_do_not_keep_a_session_nobody_collects_from() {
    // A ping every 100 ms, a second to answer it (generous for the client that does answer).
    let config =
        EngineConfig::default().heartbeat(Duration::from_millis(100), Duration::from_secs(1));
    let (server, engine, reasons) = echo_server_with_reasons(config).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let started = std::time::Instant::now();
    // Pongs every 50 ms, and never a GET to collect the pings they claim to answer.
    loop {
        let answer = post(addr, &sid, "3").await;
        if answer.status != 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the session is still alive after 5 s of pongs nobody asked for"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(addr, &sid).await.status, 400);
    assert_eq!(engine.sessions(), 0);
    eventually("its reason is known", async || {
        !reasons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(reasons.lock().unwrap()[..], [CloseReason::PingTimeout]);

    // A client that collects its pings and answers them stays.
    let sid = handshake(addr).await;
    for _ in 0..5 {
        let ping = get(addr, &sid).await;
        assert_eq!((ping.status, ping.body.as_str()), (200, "2"));
        assert_eq!(post(addr, &sid, "3").await.status, 200);
    }
}

#[tokio::test]
async fn a_session_holding_more_bytes_than_max_buffered_bytes_is_closed() {
    let config = EngineConfig::default().max_buffered_bytes(1_000_000);
    let (server, engine, reasons) = echo_server_with_reasons(config).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let echo = format!("4{}", "x".repeat(600_000));
    assert_eq!(post(addr, &sid, &echo).await.status, 200);
    // The first echo waits (600 KB); the second takes the queue past 1 MB.
    let second = post(addr, &sid, &echo).await;
    assert!(matches!(second.status, 200 | 400), "{second:?}");
    eventually("the slow session is closed", async || {
        engine.sessions() == 0
    })
    .await;
    assert_eq!(get(addr, &sid).await.status, 400, "and its queue dropped");
    eventually("its reason is known", async || {
        !reasons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(reasons.lock().unwrap()[..], [CloseReason::SlowClient]);
}

#[tokio::test]
async fn an_upgrade_that_never_probes_is_closed_and_the_session_can_upgrade_again() {
    let config = EngineConfig::default().upgrade_timeout(Duration::from_millis(200));
    let (server, _engine) = echo_server(config).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let path = format!("/engine.io/?EIO=4&transport=websocket&sid={sid}");
    let mut silent = websocket(addr, &path).await;
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut silent).await, None, "closed without a code");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed by the upgrade timeout, {:?}",
        started.elapsed()
    );

    // The session is still on polling, and a second upgrade completes.
    let url = format!("ws://{addr}{path}");
    let (mut ws, _) = connect_async(url).await.expect("opens");
    ws.send(Message::text("2probe")).await.unwrap();
    let probe = ws.next().await.unwrap().unwrap();
    assert_eq!(probe.to_text().unwrap(), "3probe");
    ws.send(Message::text("5")).await.unwrap();
    ws.send(Message::text("4hello")).await.unwrap();
    let echo = ws.next().await.unwrap().unwrap();
    assert_eq!(echo.to_text().unwrap(), "4hello");
}

#[tokio::test]
async fn an_upgrade_ends_with_its_session() {
    let (server, _engine) = echo_server(EngineConfig::default()).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    let path = format!("/engine.io/?EIO=4&transport=websocket&sid={sid}");
    let mut probing = websocket(addr, &path).await;
    assert_eq!(post(addr, &sid, "1").await.status, 200);
    assert_eq!(close_code(&mut probing).await, None);
}

/// A WebSocket session opened by hand: the open packet read.
async fn ws_session(addr: std::net::SocketAddr) -> TcpStream {
    let mut ws = websocket(addr, "/engine.io/?EIO=4&transport=websocket").await;
    let (opcode, open) = read_frame(&mut ws).await.expect("the open packet");
    assert_eq!((opcode, open[0]), (1, b'0'));
    ws
}

#[tokio::test]
async fn a_frame_declaring_more_than_max_payload_is_closed_at_its_header() {
    let config = EngineConfig::default().max_payload(100_000);
    let (server, engine) = echo_server(config).await;
    let mut ws = ws_session(server.addr()).await;
    let mut header = vec![0x82];
    header_length(&mut header, 100_001);
    header.extend_from_slice(&[1, 2, 3, 4]);
    ws.write_all(&header).await.unwrap();
    // No payload follows: the header alone is enough.
    assert_eq!(close_code(&mut ws).await, Some(1009));
    eventually("the session is gone", async || engine.sessions() == 0).await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let (server, engine) = echo_server(EngineConfig::default()).await;
    let mut ws = ws_session(server.addr()).await;
    ws.write_all(&frame(1, &[b'4', 0xff, 0xfe])).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1007));
    eventually("the session is gone", async || engine.sessions() == 0).await;
}

#[tokio::test]
async fn every_close_the_server_starts_sends_its_code() {
    let config =
        EngineConfig::default().heartbeat(Duration::from_millis(100), Duration::from_millis(100));
    let (server, _engine) = echo_server(config).await;
    // Pings left unanswered: 1008.
    let mut silent = ws_session(server.addr()).await;
    assert_eq!(close_code(&mut silent).await, Some(1008));
    let (server, _engine) = echo_server(EngineConfig::default()).await;
    let addr = server.addr();
    // A message over maxPayload (in two fragments, each under the frame limit): 1009.
    let mut big = ws_session(addr).await;
    let half = vec![b'x'; 600_000];
    let mut first = frame(1, &half);
    first[0] = 0x01; // Text, not final.
    big.write_all(&first).await.unwrap();
    big.write_all(&frame(0, &half)).await.unwrap();
    assert_eq!(close_code(&mut big).await, Some(1009));
    // Not Engine.IO: 1002.
    let mut bad = ws_session(addr).await;
    bad.write_all(&frame(1, b"abc")).await.unwrap();
    assert_eq!(close_code(&mut bad).await, Some(1002));

    // The application closes the session: what it sent, the close packet, then 1000.
    let engine =
        nestgate::engineio::EngineIo::new(EngineConfig::default(), |mut socket| async move {
            if socket.recv().await.is_some() {
                let _ = socket.send(nestgate::engineio::EngineMessage::text("bye"));
                socket.close();
            }
        });
    let server =
        nestgate_tests::serve(nestgate::App::bare().merge(engine.router("/engine.io/"))).await;
    let mut closed = ws_session(server.addr()).await;
    closed.write_all(&frame(1, b"4hi")).await.unwrap();
    assert_eq!(read_frame(&mut closed).await, Some((1, b"4bye".to_vec())));
    assert_eq!(read_frame(&mut closed).await, Some((1, b"1".to_vec())));
    assert_eq!(close_code(&mut closed).await, Some(1000));
}

#[tokio::test]
async fn a_session_holding_more_packets_than_max_buffered_is_closed() {
    let mut config = EngineConfig::default();
    config.max_buffered = 10;
    let (server, engine, reasons) = echo_server_with_reasons(config).await;
    let addr = server.addr();
    let sid = handshake(addr).await;
    assert_eq!(post(addr, &sid, &["4a"; 10].join("\x1e")).await.status, 200);
    assert_eq!(
        get(addr, &sid).await.body,
        ["4a"; 10].join("\x1e"),
        "10 fit"
    );
    let _ = post(addr, &sid, &["4a"; 11].join("\x1e")).await;
    eventually("the slow session is closed", async || {
        engine.sessions() == 0
    })
    .await;
    eventually("its reason is known", async || {
        !reasons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(reasons.lock().unwrap()[..], [CloseReason::SlowClient]);
}

#[tokio::test]
async fn a_write_stuck_longer_than_the_ping_timeout_drops_the_transport() {
    let config = EngineConfig::default()
        .heartbeat(Duration::from_secs(60), Duration::from_millis(500))
        .max_payload(4_000_000);
    let (server, engine, reasons) = echo_server_with_reasons(config).await;
    let mut ws = ws_session(server.addr()).await;
    // 5 echoes of 3 MB, never read: more than the socket buffers take, less than the 16 MB
    // the session may queue. The writer blocks, and gives up after the ping timeout.
    let message = frame(1, format!("4{}", "x".repeat(3_000_000)).as_bytes());
    let writer = tokio::spawn(async move {
        for _ in 0..5 {
            if ws.write_all(&message).await.is_err() {
                break;
            }
        }
        ws
    });
    eventually("the session is closed", async || engine.sessions() == 0).await;
    eventually("its reason is known", async || {
        !reasons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(reasons.lock().unwrap()[..], [CloseReason::TransportClose]);
    writer.abort();
}

/// The Engine.IO types' old names (`Payload`, `SendError`) still compile, as deprecated
/// aliases of `EngineMessage` and `EngineSendError`.
#[test]
#[allow(deprecated)]
fn the_old_names_of_engine_io_types_still_compile() {
    use nestgate::engineio::{EngineMessage, EngineSendError, Payload, SendError};
    let old: Payload = Payload::text("hi");
    assert!(matches!(&old, Payload::Text(text) if text.as_str() == "hi"));
    let new: EngineMessage = old;
    assert_eq!(new.len(), 2);
    let error: SendError = EngineSendError::Closed;
    assert!(matches!(error, SendError::Closed));
}
