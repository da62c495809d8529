//! Tokens that expire (`HandshakeRequest::expires_at`, `nestgate::refresh`), over real sockets on
//! both protocols: a refresh in time keeps the socket with the new identity, a refused one
//! closes with 4003, no answer closes with 4001 at the expiry, a client may refresh by itself,
//! and a socket without an expiry sees no refresh traffic at all.
//!
//! Expiries are a few seconds and every wait is generous: the machine may be loaded. Only lower
//! bounds of time are asserted (nothing closes before its expiry), never speed.

use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::App;
use nestgate::extract::Extension;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate::testing::{Closed, TestClient, handshake_request};
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

#[derive(Clone, Debug)]
struct Who(String);

/// Whether the guard last ran for a refresh (`HandshakeRequest::is_refresh`).
#[derive(Clone, Debug)]
struct Refreshed(bool);

/// Tokens are `NAME` (never expires) or `NAME.MILLIS` (expires MILLIS from now); `eve` is
/// refused. Read from `?token=`, a bearer header or the Socket.IO auth payload, in that order.
struct TestJwt;

impl HandshakeGuard for TestJwt {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .query("token")
            .or_else(|| request.bearer_token().map(str::to_owned))
            .or_else(|| {
                let auth = request.auth()?.get("token")?.as_str()?;
                Some(auth.to_owned())
            })
            .ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
        let (name, ttl) = match token.split_once('.') {
            Some((name, ms)) => (name, Some(ms.parse::<u64>().map_err(|_| bad())?)),
            None => (token.as_str(), None),
        };
        if name == "eve" {
            return Err(HandshakeRejection::unauthorized("unknown user eve"));
        }
        if let Some(ms) = ttl {
            request.expires_in(Duration::from_millis(ms));
        }
        request.insert(Who(name.to_owned()));
        let refresh = request.is_refresh();
        request.insert(Refreshed(refresh));
        Ok(())
    }
}

fn bad() -> HandshakeRejection {
    HandshakeRejection::unauthorized("malformed token")
}

#[derive(Clone, Default)]
struct Reasons(Arc<Mutex<Vec<String>>>);

#[websocket_gateway(path = "/", handshake_guards(TestJwt))]
#[derive(Default)]
struct Secure;

#[websocket_gateway]
impl Secure {
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(who): Extension<Who>) -> String {
        who.0
    }

    #[subscribe_message("refreshed")]
    fn refreshed(&self, Extension(refreshed): Extension<Refreshed>) -> bool {
        refreshed.0
    }

    #[subscribe_message("expiry")]
    fn expiry(&self, socket: Socket) -> Option<u64> {
        socket.expires_at().map(ms)
    }

    #[on_disconnect]
    fn gone(&self, socket: Socket, reason: nestgate::DisconnectReason) {
        if let Some(reasons) = socket.server().state::<Reasons>() {
            reasons.0.lock().unwrap().push(reason.to_string());
        }
    }
}

/// No handshake guard: the refresh event is not reserved here.
#[websocket_gateway(path = "/open")]
#[derive(Default)]
struct Open;

#[websocket_gateway]
impl Open {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

fn ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn now_ms() -> u64 {
    ms(SystemTime::now())
}

async fn app(reasons: &Reasons, lead: Option<Duration>) -> TestServer {
    let mut app = App::bare()
        .gateway::<Secure>()
        .gateway::<Open>()
        .provide(reasons.clone())
        .socket_io(SocketIoConfig::default());
    if let Some(lead) = lead {
        app = app.token_refresh(lead);
    }
    serve(app).await
}

async fn connect(server: &TestServer, token: &str) -> TestClient {
    TestClient::connect(&server.url(&format!("/?token={token}")))
        .await
        .expect("a valid token connects")
}

/// Waits (up to 10 s) until the disconnect hook saw `reason`.
async fn hook_saw(reasons: &Reasons, reason: &str) {
    for _ in 0..500 {
        if reasons.0.lock().unwrap().iter().any(|seen| seen == reason) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {reason:?} in {:?}", reasons.0.lock().unwrap());
}

/// The server's refresh request: its ack id and the expiry it names.
fn refresh_request(frame: &Value) -> (u64, u64) {
    assert_eq!(frame["event"], "nestgate:refresh", "{frame}");
    let id = frame["id"].as_u64().expect("the request has an ack id");
    let expires = frame["data"]["expiresAt"].as_u64().expect("expiresAt");
    (id, expires)
}

#[tokio::test]
async fn ws_json_a_refresh_in_time_keeps_the_socket_with_the_new_identity() {
    let reasons = Reasons::default();
    // A 4 s token with a 1 s lead: asked for at 3 s (later than half the life).
    let server = app(&reasons, Some(Duration::from_secs(1))).await;
    let connected = Instant::now();
    let mut client = connect(&server, "ann.4000").await;
    assert_eq!(
        client.request(1, "whoami", Value::Null).await["data"],
        "ann"
    );
    assert_eq!(
        client.request(3, "refreshed", Value::Null).await["data"],
        false
    );
    let expiry = client.request(2, "expiry", Value::Null).await["data"]
        .as_u64()
        .unwrap();
    let (id, named) = refresh_request(&client.recv().await);
    assert!(
        connected.elapsed() >= Duration::from_millis(2900),
        "asked {:?} after connecting, before the lead",
        connected.elapsed()
    );
    assert_eq!(named, expiry, "the request names the socket's expiry");
    client
        .send_json(json!({"ack": id, "data": {"token": "bob.60000"}}))
        .await;
    // The refresh is checked on the server's time: wait for the new identity.
    let mut who = Value::Null;
    for attempt in 10.. {
        who = client.request(attempt, "whoami", Value::Null).await["data"].clone();
        if who == "bob" || attempt > 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(who, "bob", "the handler sees the refreshed identity");
    assert_eq!(
        client.request(299, "refreshed", Value::Null).await["data"],
        true
    );
    let new_expiry = client.request(300, "expiry", Value::Null).await["data"]
        .as_u64()
        .unwrap();
    assert!(new_expiry >= now_ms() + 50_000, "{new_expiry}");
    // Past the old expiry: still connected, and not asked again (the next ask is 59 s away).
    tokio::time::sleep_until((connected + Duration::from_millis(5000)).into()).await;
    assert_eq!(client.try_recv(Duration::from_millis(300)).await, None);
    assert_eq!(
        client.request(301, "whoami", Value::Null).await["data"],
        "bob"
    );
    assert!(reasons.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn ws_json_a_refused_token_closes_with_4003_and_the_guards_message() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    // A 2 s token: asked for at 1 s (half its life; the 30 s lead is longer than it).
    let mut client = connect(&server, "ann.2000").await;
    let (id, _) = refresh_request(&client.recv().await);
    client
        .send_json(json!({"ack": id, "data": {"token": "eve.60000"}}))
        .await;
    let exception = client.recv().await;
    assert_eq!(
        exception,
        json!({"event": "exception", "data": {"status": "error", "message": "refresh refused: unknown user eve"}})
    );
    assert_eq!(
        client.closed().await,
        Closed::Frame(4003, "refresh refused: unknown user eve".into())
    );
    hook_saw(&reasons, "refresh refused").await;
}

#[tokio::test]
async fn ws_json_no_answer_closes_at_the_expiry_with_4001_even_from_a_silent_client() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    let connected = Instant::now();
    // The client sends nothing at all after the handshake, not even an answer.
    let mut client = connect(&server, "ann.2000").await;
    refresh_request(&client.recv().await);
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "token expired"}})
    );
    assert_eq!(
        client.closed().await,
        Closed::Frame(4001, "token expired".into())
    );
    assert!(
        connected.elapsed() >= Duration::from_millis(1900),
        "closed {:?} after connecting, before the expiry",
        connected.elapsed()
    );
    hook_saw(&reasons, "token expired").await;
}

#[tokio::test]
async fn ws_json_a_client_may_refresh_by_itself_and_a_refusal_changes_nothing() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    // The token is sent as a bearer header this time.
    let request = handshake_request(&server.url("/"), &[("authorization", "Bearer ann.600000")]);
    let mut client = TestClient::connect_request(request)
        .await
        .expect("connects");
    let answer = client
        .request(1, "nestgate:refresh", json!({"token": "bob.900000"}))
        .await;
    let expires = answer["data"]["expiresAt"].as_u64().expect("{answer}");
    assert!(expires >= now_ms() + 800_000, "{answer}");
    assert_eq!(
        client.request(2, "whoami", Value::Null).await["data"],
        "bob"
    );

    let refused = client
        .request(3, "nestgate:refresh", json!({"token": "eve.900000"}))
        .await;
    assert_eq!(
        refused,
        json!({"ack": 3, "error": {"status": "error", "message": "refresh refused: unknown user eve"}})
    );
    let missing = client.request(4, "nestgate:refresh", json!({})).await;
    assert_eq!(
        missing["error"]["message"], "refresh refused: missing token",
        "the old bearer token is never reused: {missing}"
    );
    // A bare string is a token too; one without an expiry makes the socket not expire.
    let plain = client.request(5, "nestgate:refresh", json!("carl")).await;
    assert_eq!(plain, json!({"ack": 5, "data": {"expiresAt": null}}));
    assert_eq!(
        client.request(6, "whoami", Value::Null).await["data"],
        "carl"
    );
    assert_eq!(
        client.request(7, "expiry", Value::Null).await["data"],
        Value::Null
    );
    assert!(reasons.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn ws_json_a_socket_without_an_expiry_sees_no_refresh_traffic() {
    let reasons = Reasons::default();
    let server = app(&reasons, Some(Duration::from_millis(100))).await;
    let mut client = connect(&server, "ann").await;
    assert_eq!(
        client.request(1, "expiry", Value::Null).await["data"],
        Value::Null
    );
    assert_eq!(client.try_recv(Duration::from_millis(1500)).await, None);
    assert_eq!(
        client.request(2, "whoami", Value::Null).await["data"],
        "ann"
    );
    // Without handshake guards the event is nobody's: unknown, as before.
    let mut open = server.client("/open").await;
    let answer = open
        .request(1, "nestgate:refresh", json!({"token": "x"}))
        .await;
    assert_eq!(
        answer["error"]["message"], "unknown event 'nestgate:refresh'",
        "{answer}"
    );
}

/// A client speaking raw Engine.IO v4 / Socket.IO v5 over a WebSocket.
struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Raw {
    /// Opens a session and connects to `/` with `auth`; returns the client and the CONNECT answer.
    async fn connect(server: &TestServer, auth: Value) -> (Raw, String) {
        let url = format!("{}/socket.io/?EIO=4&transport=websocket", server.url(""));
        let (ws, _) = connect_async(url).await.expect("the WebSocket opens");
        let mut raw = Raw { ws };
        let open = raw.recv().await.expect("the open packet");
        assert!(open.starts_with("0{"), "{open}");
        raw.send(&format!("40{auth}")).await;
        let answer = raw.recv().await.expect("a CONNECT answer");
        (raw, answer)
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("sends");
    }

    /// The next text frame (pings answered and skipped); `None` once closed.
    async fn recv(&mut self) -> Option<String> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s");
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => self.send("3").await,
                Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The ack id and expiry of the server's `42N["nestgate:refresh",{"expiresAt":..}]`.
    async fn refresh_request(&mut self) -> (u64, u64) {
        let packet = self.recv().await.expect("the refresh request");
        let rest = packet.strip_prefix("42").expect("an EVENT");
        let open = rest.find('[').expect("arguments");
        let id: u64 = rest[..open].parse().expect("an ack id");
        let args: Value = serde_json::from_str(&rest[open..]).unwrap();
        assert_eq!(args[0], "nestgate:refresh", "{packet}");
        (id, args[1]["expiresAt"].as_u64().expect("expiresAt"))
    }
}

#[tokio::test]
async fn socket_io_a_refresh_in_time_through_the_ack_keeps_the_socket() {
    let reasons = Reasons::default();
    let server = app(&reasons, None).await;
    let (mut client, answer) = Raw::connect(&server, json!({"token": "ann.2000"})).await;
    assert!(answer.starts_with("40{\"sid\""), "{answer}");
    let (id, expires) = client.refresh_request().await;
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
    let (mut silent, _) = Raw::connect(&server, json!({"token": "ann.2000"})).await;
    let (mut refused, _) = Raw::connect(&server, json!({"token": "ann.2000"})).await;

    let (id, _) = refused.refresh_request().await;
    refused.send(&format!(r#"43{id}["eve.60000"]"#)).await;
    assert_eq!(
        refused.recv().await.as_deref(),
        Some(r#"42["exception",{"status":"error","message":"refresh refused: unknown user eve"}]"#)
    );
    assert_eq!(refused.recv().await.as_deref(), Some("41"));

    silent.refresh_request().await;
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

/// Claims the reserved event on a path with a handshake guard.
#[websocket_gateway(path = "/clash", handshake_guards(TestJwt))]
#[derive(Default)]
struct Clash;

#[websocket_gateway]
impl Clash {
    #[subscribe_message("nestgate:refresh")]
    fn mine(&self) {}
}

#[tokio::test]
async fn the_refresh_event_is_reserved_on_paths_with_handshake_guards() {
    let err = App::bare()
        .gateway::<Clash>()
        .bind("127.0.0.1:0")
        .await
        .expect_err("the reserved event is refused at startup");
    assert_eq!(
        err.to_string(),
        "event \"nestgate:refresh\" on path \"/clash\" is handled twice: by nestgate's token refresh and by Clash::mine"
    );
}
