//! The Socket.IO side of the refresh tests: the same server, a raw Engine.IO/Socket.IO client
//! and the npm `socket.io-client`.

use super::{Reasons, app, hook_saw, now_ms};
use nestgate_tests::TestServer;
use nestgate_tests::socketio::RawSocketIo;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Opens a raw Engine.IO session and connects to `/` with `auth`; returns the client and the
/// CONNECT answer.
async fn connect(server: &TestServer, auth: Value) -> (RawSocketIo, String) {
    let mut raw = RawSocketIo::connect(server).await;
    let answer = raw.join("/", Some(auth)).await;
    (raw, answer)
}

/// The ack id and expiry of the server's `42N["nestgate:refresh",{"expiresAt":..}]`.
async fn refresh_request(raw: &mut RawSocketIo) -> (u64, u64) {
    let packet = raw.recv().await.expect("the refresh request");
    let rest = packet.strip_prefix("42").expect("an EVENT");
    let open = rest.find('[').expect("arguments");
    let id: u64 = rest[..open].parse().expect("an ack id");
    let args: Value = serde_json::from_str(&rest[open..]).unwrap();
    assert_eq!(args[0], "nestgate:refresh", "{packet}");
    (id, args[1]["expiresAt"].as_u64().expect("expiresAt"))
}

#[tokio::test]
async fn socket_io_a_refresh_in_time_through_the_ack_keeps_the_socket() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    let (mut client, answer) = connect(&server, json!({"token": "ann.2000"})).await;
    assert!(answer.starts_with("40{\"sid\""), "{answer}");
    let (id, expires) = refresh_request(&mut client).await;
    assert!(expires > now_ms(), "{expires}");
    client
        .send(&format!(r#"43{id}[{{"token":"bob.60000"}}]"#))
        .await;
    // Past the old expiry, the socket answers as bob.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    client.send(r#"421["whoami"]"#).await;
    assert_eq!(client.recv().await.as_deref(), Some(r#"431["bob"]"#));
    // By itself: answered with the new expiry.
    client
        .send(r#"422["nestgate:refresh",{"token":"carl.90000"}]"#)
        .await;
    let ack = client.recv().await.expect("the refresh ack");
    let args: Value = serde_json::from_str(ack.strip_prefix("432").expect("ack 2")).unwrap();
    assert!(
        args[0]["expiresAt"].as_u64().unwrap() >= now_ms() + 80_000,
        "{ack}"
    );
    client.send(r#"423["whoami"]"#).await;
    assert_eq!(client.recv().await.as_deref(), Some(r#"433["carl"]"#));
    assert!(reasons.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn socket_io_no_answer_or_a_refused_one_disconnects_the_namespace() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    let started = Instant::now();
    let (mut silent, _) = connect(&server, json!({"token": "ann.2000"})).await;
    let (mut refused, _) = connect(&server, json!({"token": "ann.2000"})).await;

    let (id, _) = refresh_request(&mut refused).await;
    refused.send(&format!(r#"43{id}["eve.60000"]"#)).await;
    assert_eq!(
        refused.recv().await.as_deref(),
        Some(r#"42["exception",{"status":"error","message":"refresh refused: unknown user eve"}]"#)
    );
    assert_eq!(refused.recv().await.as_deref(), Some("41"));

    refresh_request(&mut silent).await;
    assert_eq!(
        silent.recv().await.as_deref(),
        Some(r#"42["exception",{"status":"error","message":"token expired"}]"#)
    );
    assert_eq!(silent.recv().await.as_deref(), Some("41"));
    assert!(started.elapsed() >= Duration::from_millis(1900));
    hook_saw(&reasons, "token expired").await;
    hook_saw(&reasons, "refresh refused").await;
    // The Engine.IO session lives on: the client may CONNECT again with a fresh token.
    silent.send(r#"40{"token":"ann.60000"}"#).await;
    let again = silent.recv().await.expect("a CONNECT answer");
    assert!(again.starts_with("40{\"sid\""), "{again}");
}

/// The npm `socket.io-client` answering the refresh through its ack callback (the script is
/// `examples/socketio-chat/tests/node/refresh.mjs`, beside the interop test's packages). Skipped
/// loudly without `node` and the packages, unless `CI=true`, where that is a failure.
#[tokio::test]
async fn socket_io_client_npm_answers_through_its_ack_callback() {
    const INSTALL: &str = "npm ci --prefix examples/socketio-chat/tests/node";
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/socketio-chat/tests/node");
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = if !node.is_ok_and(|output| output.status.success()) {
        Some("`node` is not on PATH".to_owned())
    } else if !dir
        .join("node_modules/socket.io-client/package.json")
        .exists()
    {
        Some(format!("{}/node_modules is missing", dir.display()))
    } else {
        None
    };
    if let Some(missing) = missing {
        let on_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            !on_ci,
            "the npm refresh test cannot run on CI: {missing}; `{INSTALL}`"
        );
        eprintln!(
            "\n=== SKIPPED: the npm socket.io-client refresh test: {missing}. Install with `{INSTALL}` (with CI=true this is a failure). ===\n"
        );
        return;
    }
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    let (script, url) = (dir.join("refresh.mjs"), format!("http://{}", server.addr()));
    // The script bounds each of its waits itself; a blocking thread keeps this runtime free.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(url)
            .output()
    })
    .await
    .expect("the node task does not panic")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("node: {stdout}");
    assert!(
        output.status.success() && stdout.lines().any(|line| line == "OK"),
        "the refresh script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    hook_saw(&reasons, "token expired").await;
}
