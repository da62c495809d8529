//! The Socket.IO engine over real sockets, speaking raw Engine.IO/Socket.IO frames: namespaces,
//! guards on the CONNECT payload, acks both ways, errors answering acks, rooms shared with
//! ws-json clients, and bad input closing only its own session.

use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::App;
use nestgate::extract::{Args, Extension};
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate_tests::HttpStatus as _;
use nestgate_tests::socketio::RawSocketIo as Raw;
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug)]
struct Who(String);

/// Requires `auth.token == "secret"`.
struct TokenGuard;

impl HandshakeGuard for TokenGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        match request
            .auth()
            .and_then(|auth| auth.get("token"))
            .and_then(Value::as_str)
        {
            Some("secret") => {
                request.insert(Who("token holder".into()));
                Ok(())
            }
            Some(_) => Err(HandshakeRejection::forbidden("bad token")),
            None => Err(HandshakeRejection::unauthorized("token required")),
        }
    }
}

#[websocket_gateway(path = "/")]
#[derive(Default)]
struct Main;

#[websocket_gateway]
impl Main {
    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }

    #[subscribe_message("args")]
    fn args(&self, args: Args) -> Args {
        args
    }

    #[subscribe_message("fail")]
    fn fail(&self) -> Result<(), WsException> {
        Err(WsException::new("nope"))
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) {
        socket.join(room);
    }

    #[subscribe_message("say")]
    fn say(
        &self,
        server: Server,
        Data((room, text)): Data<(String, String)>,
    ) -> Result<(), WsException> {
        server.to(room).emit("said", &text)?;
        Ok(())
    }

    #[subscribe_message("ask_back")]
    async fn ask_back(&self, socket: Socket) -> Result<Value, WsException> {
        socket
            .emit_with_ack::<_, Value>("question", "ready?")
            .await
            .map_err(|err| WsException::new(err.to_string()))
    }
}

#[websocket_gateway(path = "/private", handshake_guards(TokenGuard))]
#[derive(Default)]
struct Private;

#[websocket_gateway]
impl Private {
    #[subscribe_message("who")]
    fn who(&self, Extension(who): Extension<Who>) -> String {
        who.0
    }
}

/// A dynamic gateway: one namespace per tenant, made when its first client connects.
#[websocket_gateway(path = "/tenant/{id}")]
#[derive(Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    #[subscribe_message("shout")]
    fn shout(&self, server: Server, Data(text): Data<String>) -> Result<String, WsException> {
        server.emit("shouted", &text)?;
        Ok(server.path().to_owned())
    }
}

#[derive(Clone, Default)]
struct Reasons(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

/// Records why each of its sockets went away.
#[websocket_gateway(path = "/watched")]
#[derive(Default)]
struct Watched;

#[websocket_gateway]
impl Watched {
    #[subscribe_message("leave")]
    fn leave(&self, socket: Socket) {
        socket.disconnect();
    }

    #[on_disconnect]
    fn gone(&self, socket: Socket, reason: nestgate::DisconnectReason) {
        if let Some(reasons) = socket.server().state::<Reasons>() {
            reasons.0.lock().unwrap().push(reason.to_string());
        }
    }
}

/// `namespace` is NestJS's name for `path`; without a slash it means `/admin`.
#[websocket_gateway(namespace = "admin")]
#[derive(Default)]
struct Admin;

#[websocket_gateway]
impl Admin {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

async fn app() -> TestServer {
    serve(
        App::bare()
            .gateway::<Main>()
            .gateway::<Private>()
            .gateway::<Tenant>()
            .gateway::<Admin>()
            .socket_io(SocketIoConfig::default().connect_timeout(Duration::from_millis(500))),
    )
    .await
}

#[tokio::test]
async fn events_and_acks_go_through_the_same_handlers() {
    let server = app().await;
    let mut client = Raw::connect(&server).await;
    let connected = client.join("/", None).await;
    assert!(connected.starts_with(r#"40{"sid":""#), "{connected}");
    client.send(r#"421["echo",{"a":1}]"#).await;
    assert_eq!(client.recv().await.unwrap(), r#"431[{"a":1}]"#);
    client.send(r#"422["args",1,"2",[3]]"#).await;
    assert_eq!(client.recv().await.unwrap(), r#"432[1,"2",[3]]"#);
    // An error answers the ack: the client does not wait for a timeout.
    client.send(r#"423["fail"]"#).await;
    assert_eq!(
        client.recv().await.unwrap(),
        r#"433[{"status":"error","message":"nope"}]"#
    );
    // Without an ack id, an error is an `exception` event, as NestJS sends it.
    client.send(r#"42["fail"]"#).await;
    let exception = client.recv().await.unwrap();
    assert!(exception.starts_with(r#"42["exception",{"#), "{exception}");
}

#[tokio::test]
async fn the_server_asks_and_the_client_answers() {
    let server = app().await;
    let mut client = Raw::connect(&server).await;
    client.join("/", None).await;
    client.send(r#"427["ask_back"]"#).await;
    let question = client.recv().await.unwrap();
    let (id, rest) = question
        .strip_prefix("42")
        .and_then(|q| q.split_once('['))
        .expect("an event with an ack id");
    assert_eq!(rest, r#""question","ready?"]"#);
    client.send(&format!(r#"43{id}["yes"]"#)).await;
    assert_eq!(client.recv().await.unwrap(), r#"437["yes"]"#);
}

#[tokio::test]
async fn guards_see_the_connect_payload_per_namespace() {
    let server = app().await;
    let mut client = Raw::connect(&server).await;
    assert_eq!(
        client.join("/private", None).await,
        r#"44/private,{"data":{"status":401},"message":"token required"}"#
    );
    assert_eq!(
        client
            .join("/private", Some(json!({"token": "wrong"})))
            .await,
        r#"44/private,{"data":{"status":403},"message":"bad token"}"#
    );
    let ok = client
        .join("/private", Some(json!({"token": "secret"})))
        .await;
    assert!(ok.starts_with("40/private,{\"sid\":"), "{ok}");
    client.send(r#"42/private,1["who"]"#).await;
    assert_eq!(
        client.recv().await.unwrap(),
        r#"43/private,1["token holder"]"#
    );
    assert_eq!(
        client.join("/nowhere", None).await,
        r#"44/nowhere,{"message":"Invalid namespace"}"#
    );
}

#[tokio::test]
async fn a_room_broadcast_reaches_ws_json_and_socket_io_clients_alike() {
    let server = app().await;
    let mut sio = Raw::connect(&server).await;
    sio.join("/", None).await;
    sio.send(r#"421["join","lobby"]"#).await;
    assert_eq!(sio.recv().await.unwrap(), "431[]");
    let mut json_client = server.client("/").await;
    json_client.request(1, "join", json!("lobby")).await;
    json_client.emit("say", json!(["lobby", "hello"])).await;
    assert_eq!(sio.recv().await.unwrap(), r#"42["said","hello"]"#);
    assert_eq!(
        json_client.recv().await,
        json!({"event": "said", "data": "hello"})
    );
    sio.send(r#"42["say","lobby","back"]"#).await;
    assert_eq!(
        json_client.recv().await,
        json!({"event": "said", "data": "back"})
    );
}

#[tokio::test]
async fn bad_input_closes_only_its_own_session() {
    let server = app().await;
    let mut healthy = Raw::connect(&server).await;
    healthy.join("/", None).await;
    for bad in [
        "4abc",
        "42{}",
        r#"42abc["echo"]"#,
        "4",
        "9",
        "451-[\"echo\"]",
    ] {
        let mut client = Raw::connect(&server).await;
        client.join("/", None).await;
        client.send(bad).await;
        if bad.starts_with("451-") {
            // A text packet where a binary attachment was announced.
            client.send(r#"42["echo"]"#).await;
        }
        assert!(client.closed().await, "{bad:?} closes that session");
    }
    healthy.send(r#"421["echo",5]"#).await;
    assert_eq!(healthy.recv().await.unwrap(), "431[5]");
}

#[tokio::test]
async fn a_session_that_never_connects_is_closed_and_oversized_payloads_are_refused() {
    let server = app().await;
    let mut idle = Raw::connect(&server).await;
    assert!(idle.closed().await, "closed after the connect timeout");

    let mut big = Raw::connect(&server).await;
    big.join("/", None).await;
    let huge = format!(r#"42["echo","{}"]"#, "x".repeat(1_100_000));
    let _ = big.try_send(huge).await;
    assert!(
        big.closed().await,
        "a message over maxPayload closes the session"
    );

    let url = format!(
        "http://{}/socket.io/?EIO=4&transport=polling",
        server.addr()
    );
    let status = server
        .http_status(&format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.addr()
        ))
        .await;
    assert_eq!(status, 200, "{url}");
    let status = server
        .http_status(&format!(
            "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.addr()
        ))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn dynamic_namespaces_are_made_per_path_and_kept_apart() {
    let server = app().await;
    let mut a = Raw::connect(&server).await;
    let mut b = Raw::connect(&server).await;
    let mut other = Raw::connect(&server).await;
    assert!(a.join("/tenant/1", None).await.starts_with("40/tenant/1,"));
    assert!(b.join("/tenant/1", None).await.starts_with("40/tenant/1,"));
    assert!(
        other
            .join("/tenant/2", None)
            .await
            .starts_with("40/tenant/2,")
    );
    // A ws-json client on the same dynamic path shares the namespace.
    let mut json_client = server.client("/tenant/1").await;
    a.send(r#"42/tenant/1,1["shout","hi"]"#).await;
    assert_eq!(a.recv().await.unwrap(), r#"42/tenant/1,["shouted","hi"]"#);
    assert_eq!(a.recv().await.unwrap(), r#"43/tenant/1,1["/tenant/1"]"#);
    assert_eq!(b.recv().await.unwrap(), r#"42/tenant/1,["shouted","hi"]"#);
    assert_eq!(
        json_client.recv().await,
        json!({"event": "shouted", "data": "hi"})
    );
    other.send(r#"42/tenant/2,5["shout","only here"]"#).await;
    assert_eq!(
        other.recv().await.unwrap(),
        r#"42/tenant/2,["shouted","only here"]"#
    );
    assert_eq!(other.recv().await.unwrap(), r#"43/tenant/2,5["/tenant/2"]"#);
    // A path that does not match the pattern is no namespace.
    assert_eq!(
        a.join("/tenant", None).await,
        r#"44/tenant,{"message":"Invalid namespace"}"#
    );
    assert_eq!(
        server
            .http_status(&nestgate_tests::upgrade_request("/tenant/1/x"))
            .await,
        404
    );
    let admin = a.join("/admin", None).await;
    assert!(admin.starts_with("40/admin,"), "{admin}");
}

#[tokio::test]
async fn disconnect_reasons_reach_the_hook() {
    let reasons = Reasons::default();
    let engine = nestgate::engineio::EngineConfig::default()
        .heartbeat(Duration::from_millis(200), Duration::from_millis(200));
    let server = serve(
        App::bare()
            .gateway::<Watched>()
            .provide(reasons.clone())
            .socket_io(SocketIoConfig::default().engine(engine)),
    )
    .await;
    let expect = |reason: &'static str| {
        let reasons = reasons.clone();
        async move {
            for _ in 0..100 {
                if reasons.0.lock().unwrap().iter().any(|r| r == reason) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no {reason:?} in {:?}", reasons.0.lock().unwrap());
        }
    };
    // A namespace DISCONNECT from the client.
    let mut client = Raw::connect(&server).await;
    client.join("/watched", None).await;
    client.send("41/watched,").await;
    expect("client close").await;
    // The WebSocket dropped without a word.
    let mut client = Raw::connect(&server).await;
    client.join("/watched", None).await;
    drop(client);
    expect("transport error").await;
    // Pings left unanswered.
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", server.url(""));
    let (mut silent, _) = connect_async(url).await.expect("opens");
    silent.next().await;
    silent.send(Message::text("40/watched,")).await.unwrap();
    expect("heartbeat timeout").await;
    drop(silent);
}

/// What the server closes reaches the client: a socket it disconnects gets its namespace's
/// DISCONNECT (and the session stays usable: the client may connect again), and a shutdown
/// closes the whole session, so that clients reconnect by themselves.
#[tokio::test]
async fn the_server_s_own_closes_reach_the_client() {
    let reasons = Reasons::default();
    let server = serve(
        App::bare()
            .gateway::<Watched>()
            .provide(reasons.clone())
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let mut client = Raw::connect(&server).await;
    assert!(
        client
            .join("/watched", None)
            .await
            .starts_with("40/watched,")
    );
    client.send(r#"42/watched,["leave"]"#).await;
    assert_eq!(client.recv().await.as_deref(), Some("41/watched,"));
    assert!(
        client
            .join("/watched", None)
            .await
            .starts_with("40/watched,")
    );
    assert!(
        reasons
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|reason| reason == "kicked")
    );
    server.shutdown().await.expect("shuts down");
    assert!(client.closed().await, "the session ends with the server");
}
