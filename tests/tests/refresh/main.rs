//! Tokens that expire (`HandshakeRequest::expires_at`, `nestgate::refresh`), over real sockets on
//! both protocols: a refresh in time keeps the socket with the new identity, a refused one
//! closes with 4003, no answer closes with 4001 at the expiry, a client may refresh by itself,
//! and a socket without an expiry sees no refresh traffic at all.
//!
//! `socketio.rs` has the Socket.IO cases (a raw client, and the npm `socket.io-client`).
//!
//! Expiries are a few seconds and every wait is generous: the machine may be loaded. Only lower
//! bounds of time are asserted (nothing closes before its expiry), never speed.

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

mod socketio;
