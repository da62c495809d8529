//! A raw Engine.IO v4 client for the limit tests: HTTP/1.1 requests written by hand (each on
//! its own connection, `Connection: close`), and WebSocket frames written and read by hand,
//! so that a test can send what no well-behaved client would.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use nestgate::App;
use nestgate::engineio::{CloseReason, EngineConfig, EngineIo};
use nestgate_tests::{TestServer, serve};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The query of every request to the engine.
pub(crate) const POLLING: &str = "/engine.io/?EIO=4&transport=polling";

/// Why each session of an [`echo_server`] ended, in order.
pub(crate) type Reasons = Arc<Mutex<Vec<CloseReason>>>;

/// A raw Engine.IO endpoint at `/engine.io/` that echoes every message to its sender.
pub(crate) async fn echo_server(config: EngineConfig) -> (TestServer, EngineIo) {
    let (server, engine, _) = echo_server_with_reasons(config).await;
    (server, engine)
}

/// An [`echo_server`] that records why its sessions ended.
pub(crate) async fn echo_server_with_reasons(
    config: EngineConfig,
) -> (TestServer, EngineIo, Reasons) {
    let reasons = Reasons::default();
    let recorded = reasons.clone();
    let engine = EngineIo::new(config, move |mut socket| {
        let reasons = recorded.clone();
        async move {
            while let Some(message) = socket.recv().await {
                if socket.send(message).is_err() {
                    break;
                }
            }
            // `recv` ends once the session is closed, so its reason is known.
            if let Some(reason) = socket.close_reason() {
                reasons.lock().unwrap().push(reason);
            }
        }
    });
    let server = serve(App::bare().merge(engine.router("/engine.io/"))).await;
    (server, engine, reasons)
}

/// An HTTP response: its status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Sends one request (`head` without its final blank line) and reads the whole response.
pub(crate) async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let head = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    stream.write_all(body).await.expect("writes");
    read_answer(&mut stream).await
}

/// Reads a response until the server closes the connection (at most 10 s).
pub(crate) async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes within 10 s")
        .expect("reads");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    Answer {
        status,
        body: body.to_owned(),
    }
}

/// Opens a polling session; its sid.
pub(crate) async fn handshake(addr: SocketAddr) -> String {
    let answer = request(addr, &format!("GET {POLLING} HTTP/1.1"), b"").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    sid_of(&answer.body)
}

/// The sid of an open packet.
pub(crate) fn sid_of(open: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).expect("JSON");
    json["sid"].as_str().expect("a sid").to_owned()
}

pub(crate) async fn get(addr: SocketAddr, sid: &str) -> Answer {
    request(addr, &format!("GET {POLLING}&sid={sid} HTTP/1.1"), b"").await
}

pub(crate) async fn post(addr: SocketAddr, sid: &str, body: &str) -> Answer {
    request(
        addr,
        &format!("POST {POLLING}&sid={sid} HTTP/1.1"),
        body.as_bytes(),
    )
    .await
}

/// The query of every Socket.IO polling request (Engine.IO at `/socket.io/`).
pub(crate) const SOCKETIO_POLLING: &str = "/socket.io/?EIO=4&transport=polling";

/// A Socket.IO polling session connected to the main namespace (its CONNECT answer collected);
/// its sid.
pub(crate) async fn socketio_polling_session(addr: SocketAddr) -> String {
    let open = request(addr, &format!("GET {SOCKETIO_POLLING} HTTP/1.1"), b"").await;
    assert_eq!(open.status, 200, "{open:?}");
    let sid = sid_of(&open.body);
    let connect = socketio_post(addr, &sid, "40").await;
    assert_eq!(connect.status, 200, "{connect:?}");
    let connected = socketio_get(addr, &sid).await;
    assert_eq!(connected.status, 200, "{connected:?}");
    assert!(connected.body.starts_with("40{"), "{connected:?}");
    sid
}

/// One polling GET of Socket.IO session `sid`.
pub(crate) async fn socketio_get(addr: SocketAddr, sid: &str) -> Answer {
    request(
        addr,
        &format!("GET {SOCKETIO_POLLING}&sid={sid} HTTP/1.1"),
        b"",
    )
    .await
}

/// One polling POST of `body` to Socket.IO session `sid`.
pub(crate) async fn socketio_post(addr: SocketAddr, sid: &str, body: &str) -> Answer {
    let head = format!("POST {SOCKETIO_POLLING}&sid={sid} HTTP/1.1");
    request(addr, &head, body.as_bytes()).await
}

/// A WebSocket opened by hand on `path` (101 checked); the rest is frames.
pub(crate) async fn websocket(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        stream.read_exact(&mut byte).await.expect("reads the 101");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// A masked client frame (`opcode` 1: text, 2: binary, 8: close).
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    header_length(&mut out, payload.len() as u64);
    let mask = [1, 2, 3, 4];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The length field of a masked frame header.
pub(crate) fn header_length(out: &mut Vec<u8>, len: u64) {
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A server frame: its opcode and payload; `None` at EOF (or a reset).
pub(crate) async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0; 2];
    stream.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut len = [0; 2];
            stream.read_exact(&mut len).await.ok()?;
            u64::from(u16::from_be_bytes(len))
        }
        127 => {
            let mut len = [0; 8];
            stream.read_exact(&mut len).await.ok()?;
            u64::from_be_bytes(len)
        }
        len => u64::from(len),
    };
    let mut payload = vec![0; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// Reads frames (at most 10 s) until a close frame; its code. `None`: the connection ended
/// without one.
pub(crate) async fn close_code(stream: &mut TcpStream) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some((opcode, payload)) = read_frame(stream).await {
            if opcode == 8 {
                return payload
                    .get(..2)
                    .map(|code| u16::from_be_bytes([code[0], code[1]]));
            }
        }
        None
    })
    .await
    .expect("the server closes within 10 s")
}

/// Waits (at most 10 s) until `check` holds.
pub(crate) async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}
