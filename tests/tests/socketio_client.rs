//! `nestgate::testing::SocketIoClient` against the real server, over the WebSocket and the polling
//! transport: the auth payload read by a
//! handshake guard, a refused CONNECT, emit, emit with ack, rooms, an ack the server asks for,
//! and a kick.

use nestgate::App;
use nestgate::extract::Extension;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate::testing::{ConnectError, SocketIoClient, Transport};
use nestgate_tests::serve;
use serde_json::json;
use std::time::Duration;

#[derive(Clone)]
struct Bidder(String);

/// Lets in a CONNECT whose `auth` payload has a `token`.
struct AuthPayload;

impl HandshakeGuard for AuthPayload {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .auth()
            .and_then(|auth| auth["token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
        request.insert(Bidder(token));
        Ok(())
    }
}

#[websocket_gateway(path = "/auction", handshake_guards(AuthPayload))]
#[derive(Default)]
struct Auction;

#[websocket_gateway]
impl Auction {
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(auction): Data<String>) -> String {
        socket.join(auction.clone());
        format!("joined {auction}")
    }

    #[subscribe_message("bid")]
    fn bid(
        &self,
        socket: Socket,
        Extension(Bidder(name)): Extension<Bidder>,
        Data(amount): Data<u64>,
    ) -> &'static str {
        let _ = socket
            .to("a1")
            .emit("bid_placed", &json!({"bidder": name, "amount": amount}));
        "accepted"
    }

    #[subscribe_message("confirm_me")]
    async fn confirm_me(&self, socket: Socket) -> WsResponse<String> {
        let said = match socket.emit_with_ack::<_, String>("confirm", "sure?").await {
            Ok(answer) => format!("you said {answer}"),
            Err(err) => format!("no answer: {err}"),
        };
        WsResponse::new("confirmed", said)
    }

    #[subscribe_message("leave_me")]
    fn leave_me(&self, socket: Socket) {
        socket.disconnect();
    }
}

fn app() -> App {
    App::bare()
        .gateway::<Auction>()
        .socket_io(SocketIoConfig::default())
}

#[tokio::test]
async fn the_auth_payload_reaches_the_guard_and_a_missing_one_is_refused() {
    for transport in [Transport::WebSocket, Transport::Polling] {
        the_auth_payload_reaches_the_guard_and_a_missing_one_is_refused_over(transport).await;
    }
}

async fn the_auth_payload_reaches_the_guard_and_a_missing_one_is_refused_over(
    transport: Transport,
) {
    let server = serve(app()).await;
    let url = server.url("/auction");
    match SocketIoClient::connect_with(&url, None, transport).await {
        Err(ConnectError::Refused(error)) => {
            assert_eq!(error["message"], "missing token", "{error}");
            assert_eq!(error["data"]["status"], 401, "{error}");
        }
        other => panic!("expected connect_error, got {other:?}"),
    }
    let client = SocketIoClient::connect_with(&url, Some(json!({"token": "ann"})), transport)
        .await
        .expect("the token lets ann in");
    assert_eq!(client.namespace(), "/auction");
    assert!(!client.sid().is_empty());
    client.disconnect().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn emit_with_ack_rooms_and_kept_events() {
    for transport in [Transport::WebSocket, Transport::Polling] {
        emit_with_ack_rooms_and_kept_events_over(transport).await;
    }
}

async fn emit_with_ack_rooms_and_kept_events_over(transport: Transport) {
    let server = serve(app()).await;
    let url = server.url("/auction");
    let mut ann = SocketIoClient::connect_with(&url, Some(json!({"token": "ann"})), transport)
        .await
        .unwrap();
    let mut bob = SocketIoClient::connect_with(&url, Some(json!({"token": "bob"})), transport)
        .await
        .unwrap();
    assert_eq!(
        ann.emit_with_ack("join", json!("a1")).await,
        [json!("joined a1")]
    );
    assert_eq!(
        bob.emit_with_ack("join", json!("a1")).await,
        [json!("joined a1")]
    );

    // `socket.to(room)` reaches the room but the sender, as socket.io's: bob's bid reaches ann.
    assert_eq!(
        bob.emit_with_ack("bid", json!(100)).await,
        [json!("accepted")]
    );
    let placed = ann.recv().await;
    assert_eq!(placed.event, "bid_placed");
    assert_eq!(placed.data(), &json!({"bidder": "bob", "amount": 100}));
    // Bob's next bid is emitted without an ack; ann's ack waits behind bob's broadcast, which
    // arrives first and is kept for `recv`.
    bob.emit("bid", json!(110)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        ann.emit_with_ack("bid", json!(120)).await,
        [json!("accepted")]
    );
    assert_eq!(ann.recv().await.data()["amount"], 110);
    assert_eq!(
        bob.recv().await.data(),
        &json!({"bidder": "ann", "amount": 120})
    );
    assert_eq!(bob.try_recv(Duration::from_millis(200)).await, None);
    assert_eq!(ann.try_recv(Duration::from_millis(200)).await, None);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_client_answers_an_ack_the_server_asked_for_and_sees_a_kick() {
    for transport in [Transport::WebSocket, Transport::Polling] {
        the_client_answers_an_ack_the_server_asked_for_and_sees_a_kick_over(transport).await;
    }
}

async fn the_client_answers_an_ack_the_server_asked_for_and_sees_a_kick_over(transport: Transport) {
    let server = serve(app()).await;
    let url = server.url("/auction");
    let mut ann = SocketIoClient::connect_with(&url, Some(json!({"token": "ann"})), transport)
        .await
        .unwrap();
    ann.emit("confirm_me", json!(null)).await;
    let ask = ann.recv().await;
    assert_eq!(
        (ask.event.as_str(), ask.data()),
        ("confirm", &json!("sure?"))
    );
    let id = ask.ack_id.expect("the server asked for an ack");
    ann.ack(id, vec![json!("yes")]).await;
    let reply = ann.recv().await;
    assert_eq!(
        (reply.event.as_str(), reply.data()),
        ("confirmed", &json!("you said yes"))
    );

    ann.emit("leave_me", json!(null)).await;
    assert!(
        ann.disconnected().await,
        "the server's disconnect reached the client"
    );
    server.shutdown().await.unwrap();
}
