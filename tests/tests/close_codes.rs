//! Every close the server initiates reaches the client as a close frame, even while the client
//! is still sending: the server drains what arrives instead of answering it with a TCP reset
//! (which would make the client lose the close frame and see 1006).
//!
//! The clients here never read while they send, as a client blocked on one large write does.

use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate_tests::{assert_alive, serve, upgrade_request};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};

const MIB: usize = 1024 * 1024;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Plain;

#[websocket_gateway]
impl Plain {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }
}

/// Rejects every connection, a little after it opened.
#[websocket_gateway(path = "/reject")]
#[derive(Debug, Default)]
struct Rejecting;

#[websocket_gateway]
impl Rejecting {
    #[on_connection]
    async fn connect(&self) -> Result<(), WsException> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Err(WsException::new("not today"))
    }
}

fn app() -> App {
    // Generous lingering so that a loaded machine cannot make these tests flaky; the defaults
    // are checked by the oversized-message test.
    App::bare()
        .gateway::<Plain>()
        .gateway::<Rejecting>()
        .lingering_close(Duration::from_secs(20), 64 * MIB)
}

#[tokio::test]
async fn oversized_messages_of_any_size_get_1009_not_a_reset() {
    // The default limit (1 MiB) and the default lingering.
    let server = serve(App::bare().gateway::<Plain>()).await;
    let mut neighbour = server.client("/").await;
    for size in [3 * MIB / 2, 4 * MIB, 16 * MIB] {
        let mut big = server.client("/").await;
        let text = format!(r#"{{"event":"echo","data":"{}"}}"#, "x".repeat(size));
        // The write only completes if the server reads the whole message.
        big.send_text(&text).await;
        assert_eq!(
            big.closed().await,
            Closed::Frame(1009, "message too large".to_owned()),
            "a {size}-byte message"
        );
    }
    // The same for a message sent as 64 KiB fragments.
    let mut fragmented = server.client("/").await;
    let chunk = vec![b'x'; 64 * 1024];
    let first = Frame::message(chunk.clone(), OpCode::Data(OpData::Text), false);
    fragmented.send(Message::Frame(first)).await;
    for _ in 0..63 {
        let next = Frame::message(chunk.clone(), OpCode::Data(OpData::Continue), false);
        fragmented.send(Message::Frame(next)).await;
    }
    assert_eq!(
        fragmented.closed().await,
        Closed::Frame(1009, "message too large".to_owned())
    );
    assert_alive(&mut neighbour).await;
    server.shutdown().await.unwrap();
}

/// What a raw client that uploads one large frame slowly, without reading, saw.
#[derive(Debug, PartialEq)]
struct Upload {
    /// The close code the server sent, if it arrived.
    close: Option<u16>,
    /// The connection ended with the server's FIN, not a reset.
    clean_end: bool,
}

/// Upgrades to `path`, then writes one text frame of `chunks` × 10 KiB, a chunk every 50 ms,
/// without reading; then reads everything the server sent until the connection ends.
async fn upload_slowly(addr: SocketAddr, path: &str, chunks: usize) -> Upload {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(upgrade_request(path).as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "no upgrade answer");
        received.push(byte[0]);
    }
    assert!(received.starts_with(b"HTTP/1.1 101"), "not upgraded");
    let len = (chunks * 10 * 1024) as u64;
    // FIN + text, masked with a zero key (allowed: the payload is sent as it is), 64-bit length.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    tcp.write_all(&header).await.unwrap();
    let chunk = vec![b' '; 10 * 1024];
    for _ in 0..chunks {
        if tcp.write_all(&chunk).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut frames = Vec::new();
    let clean_end = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => return true,
                Ok(n) => frames.extend_from_slice(&buf[..n]),
                Err(_) => return false,
            }
        }
    })
    .await
    .expect("the server ended the connection");
    Upload {
        close: close_code(&frames),
        clean_end,
    }
}

/// The code of the first close frame in a stream of server frames.
fn close_code(mut frames: &[u8]) -> Option<u16> {
    while frames.len() >= 2 {
        let opcode = frames[0] & 0x0f;
        let (len, start) = match frames[1] & 0x7f {
            126 => (u16::from_be_bytes([frames[2], frames[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frames[2..10].try_into().ok()?) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        let payload = frames.get(start..start + len)?;
        if opcode == 0x8 {
            return Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
        frames = &frames[start + len..];
    }
    None
}

const DELIVERED: Upload = Upload {
    close: None,
    clean_end: true,
};

#[tokio::test]
async fn a_client_still_uploading_when_the_server_shuts_down_gets_1001() {
    let server = serve(app()).await;
    let addr = server.addr();
    // 100 chunks: 5 s of upload, longer than the close handshake's grace period (2 s).
    let upload = tokio::spawn(async move { upload_slowly(addr, "/", 100).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.shutdown().await.unwrap();
    let upload = upload.await.unwrap();
    assert_eq!(
        upload,
        Upload {
            close: Some(1001),
            ..DELIVERED
        }
    );
}

#[tokio::test]
async fn a_client_still_uploading_when_its_connection_is_rejected_gets_1008() {
    let server = serve(app()).await;
    let upload = upload_slowly(server.addr(), "/reject", 100).await;
    assert_eq!(
        upload,
        Upload {
            close: Some(1008),
            ..DELIVERED
        }
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_uploading_too_slowly_for_the_heartbeat_gets_1008() {
    // A frame that never completes is no sign of life: the heartbeat closes the client while it
    // is still sending.
    let server =
        serve(app().heartbeat(Duration::from_millis(200), Duration::from_millis(200))).await;
    let upload = upload_slowly(server.addr(), "/", 100).await;
    assert_eq!(
        upload,
        Upload {
            close: Some(1008),
            ..DELIVERED
        }
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_flooding_client_that_never_reads_gets_1013() {
    // 400 echoes of 64 KiB (25 MiB) without reading; the queue holds 16 frames.
    let server = serve(app().outbound_queue(16)).await;
    let mut flooder = server.client("/").await;
    let data = "x".repeat(64 * 1024);
    for _ in 0..400 {
        flooder.emit("echo", json!(data)).await;
    }
    assert_eq!(
        flooder.closed().await,
        Closed::Frame(1013, "slow consumer".to_owned())
    );
    server.shutdown().await.unwrap();
}
