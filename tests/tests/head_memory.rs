//! What a request head pins, measured with a counting allocator (dhat in testing mode): an
//! unfinished head, an idle WebSocket whose head was as large as `App::max_header_size`
//! allows, and one with an ordinary head (the idle connection's budget). Server and clients share this process; the clients are raw TCP streams, which
//! allocate nothing per byte, so the growth is the server's.

use nestgate::App;
use nestgate::prelude::*;
use nestgate_tests::serve;
use std::time::Duration;

/// One measured test at a time: dhat counts the whole process.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Idle;

#[websocket_gateway]
impl Idle {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

const CLIENTS: usize = 50;

fn live_bytes() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

/// Waits until live bytes stop changing (tasks settling), and returns them.
async fn settled() -> u64 {
    let mut last = live_bytes();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = live_bytes();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_pins_about_its_size_and_no_more_than_max_header_size() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = serve(App::bare().gateway::<Idle>()).await;
    let host = server.addr().to_string();
    // Just under the 16 KiB default, as a cookie.
    let cookie = format!("Cookie: s={}\r\n", "c".repeat(15 * 1024));
    let head = upgrade_head(&host, &cookie);
    let baseline = settled().await;
    let mut streams = Vec::new();
    for _ in 0..CLIENTS {
        streams.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    let silent = (settled().await.saturating_sub(baseline)) / CLIENTS as u64;
    println!("a connection that sent nothing pins {silent} B");

    // Unfinished heads: all but the final blank line.
    let unfinished = head.trim_end_matches("\r\n");
    for stream in &mut streams {
        stream.write_all(unfinished.as_bytes()).await.unwrap();
    }
    let partial = (settled().await.saturating_sub(baseline)) / CLIENTS as u64;
    println!("an unfinished {} B head pins {partial} B", unfinished.len());

    // Finished: each becomes an idle WebSocket.
    for stream in &mut streams {
        stream.write_all(b"\r\n\r\n").await.unwrap();
        switched(stream).await;
    }
    let idle = (settled().await.saturating_sub(baseline)) / CLIENTS as u64;
    println!(
        "an idle WebSocket after a {} B head pins {idle} B",
        head.len()
    );

    // hyper's read buffer holds the unfinished head; the socket keeps a copy of its headers.
    assert!(partial < 40 * 1024, "{partial} B per unfinished head");
    assert!(idle < 40 * 1024, "{idle} B per idle WebSocket");
    drop(streams);
    server.shutdown().await.unwrap();
}

/// An idle ws-json connection is a memory budget (docs/BENCHMARKS.md): its heap, measured here
/// with a five-header upgrade, was 7.5 KB before issue 14's work and is about 5.6 KB now (its
/// task, the read buffer, the socket, the packed head). The bound catches a regression of a
/// few hundred bytes, such as a future that keeps its arguments twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_stays_within_its_memory_budget() {
    let _turn = TURN.lock().await;
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = serve(App::bare().gateway::<Idle>()).await;
    let host = server.addr().to_string();
    let head = upgrade_head(&host, "");
    // Warm up (lazy statics, the first connection's growth of shared tables).
    let mut streams = Vec::with_capacity(2 * CLIENTS);
    for _ in 0..CLIENTS {
        streams.push(upgraded(server.addr(), &head).await);
    }
    let baseline = settled().await;
    for _ in 0..CLIENTS {
        streams.push(upgraded(server.addr(), &head).await);
    }
    let idle = (settled().await.saturating_sub(baseline)) / CLIENTS as u64;
    // The client's side in this process: its stream's registration with the IO driver.
    println!("an idle WebSocket (server and client stream) holds {idle} B");
    assert!(idle < 6_500, "{idle} B per idle WebSocket");
    drop(streams);
    server.shutdown().await.unwrap();
}

/// A raw client that has been answered 101.
async fn upgraded(addr: std::net::SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    switched(&mut stream).await;
    stream
}

/// A WebSocket upgrade request for `/`, with `extra` header lines (each ending in CRLF).
fn upgrade_head(host: &str, extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// Reads the server's answer and checks it is 101.
async fn switched(stream: &mut TcpStream) {
    let mut response = [0; 256];
    let n = stream.read(&mut response).await.unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 101"));
}
