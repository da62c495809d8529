//! The real npm `socket.io-client` v4 against the socketio-chat example: auth, acks, rooms shared
//! with a ws-json client, binary attachments, and reconnecting after the server restarts. The
//! script `tests/node/interop.mjs` drives the clients; this test owns the server.
//!
//! Needs `node` and `npm ci --prefix examples/socketio-chat/tests/node`. Without them the test
//! is skipped with a loud line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::{ChildServer, Prerequisites};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "npm ci --prefix examples/socketio-chat/tests/node";

/// A free loopback port (the server restarts on it, so it cannot be 0).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    listener.local_addr().expect("has an address").port()
}

/// Starts the example on `port`, retrying while the previous process's socket lingers.
fn start(port: u16) -> ChildServer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ChildServer::start(
            env!("CARGO_BIN_EXE_socketio-chat"),
            &[("PORT", &port.to_string())],
        ) {
            Ok(server) => return server,
            Err(err) if Instant::now() < deadline => {
                eprintln!("retrying the start on port {port}: {err}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!("the socketio-chat example does not start on {port}: {err}"),
        }
    }
}

#[test]
fn the_npm_socket_io_client_talks_to_nestgate() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let ready = Prerequisites::new("the socket.io interop test", INSTALL)
        .node()
        .npm_package(&script_dir, "socket.io-client")
        .ready();
    if !ready {
        return;
    }
    let port = free_port();
    let mut server = Some(start(port));
    let mut node = Command::new("node")
        .arg(script_dir.join("interop.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = node.stdout.take().expect("stdout is piped above");
    let mut saw_ok = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("reads the script's output");
        println!("node: {line}");
        match line.as_str() {
            "RESTART" => {
                let old = server.take().expect("a server is running");
                old.terminate().expect("the server stops");
                server = Some(start(port));
            }
            "OK" => saw_ok = true,
            _ => {}
        }
    }
    let status = node.wait().expect("node ends");
    assert!(
        status.success() && saw_ok,
        "the interop script failed: {status}"
    );
}
