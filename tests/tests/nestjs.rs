//! A client written for a NestJS `WsAdapter` gateway works unchanged.
//!
//! The gateway mirrors NestJS's own WebSocket e2e fixtures (`integration/websockets` in the
//! nest repository): `push` returns `{ event: 'pop', data }`, `events` returns an Observable of
//! `WsResponse`s, `identity` returns its data. The client sends exactly the frames a browser
//! `WebSocket` sends with `ws.send(JSON.stringify({ event, data }))` and expects NestJS's replies.

use futures_util::stream::{self, Stream};
use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate::{App, Reject};
use nestgate_tests::serve;
use serde_json::{Value, json};
use std::time::Duration;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct ApplicationGateway;

#[websocket_gateway]
impl ApplicationGateway {
    #[subscribe_message("push")]
    fn on_push(&self, Data(data): Data<Value>) -> WsResponse<Value> {
        WsResponse::new("pop", data)
    }

    #[subscribe_message("events")]
    fn find_all(&self) -> impl Stream<Item = WsResponse<u32>> + Send + use<> {
        stream::iter([1, 2, 3].map(|item| WsResponse::new("events", item)))
    }

    #[subscribe_message("identity")]
    async fn identity(&self, Data(data): Data<Value>) -> Value {
        data
    }

    #[subscribe_message("custom")]
    fn custom(&self) -> Result<(), WsException> {
        Err(WsException::with_data(
            json!({"code": "E_CUSTOM", "message": "custom"}),
        ))
    }
}

/// As NestJS's `connection-hook-error.spec.ts`: a connection hook that throws `WsException`.
#[websocket_gateway(path = "/rejecting")]
#[derive(Debug, Default)]
struct RejectingGateway;

#[websocket_gateway]
impl RejectingGateway {
    #[on_connection]
    async fn handle_connection(&self) -> Result<(), Reject> {
        Err(WsException::new("Unauthorized").into())
    }
}

#[tokio::test]
async fn nestjs_ws_adapter_frames_get_nestjs_replies() {
    let server = serve(App::bare().gateway::<ApplicationGateway>()).await;
    let mut ws = server.client("/").await;

    ws.send_text(r#"{"event":"push","data":{"test":"test"}}"#)
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"event": "pop", "data": {"test": "test"}})
    );

    ws.send_text(r#"{"event":"events","data":"test"}"#).await;
    for item in 1..=3 {
        assert_eq!(ws.recv().await, json!({"event": "events", "data": item}));
    }

    ws.send_text(r#"{"event":"identity","data":7}"#).await;
    assert_eq!(ws.recv().await, json!(7));

    // NestJS ignores keys it does not know; so do we.
    ws.send_text(r#"{"event":"identity","data":"x","meta":{"trace":1}}"#)
        .await;
    assert_eq!(ws.recv().await, json!("x"));

    // A plain reply with null data sends nothing, as NestJS's `WsAdapter` does.
    ws.send_text(r#"{"event":"identity","data":null}"#).await;
    assert_eq!(ws.try_recv(Duration::from_millis(300)).await, None);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_array_frame_is_malformed_not_an_event() {
    // NestJS's `WsAdapter::bindMessageHandler` reads `message.event` of the parsed value, finds no
    // handler for an array and answers nothing; we answer it as any other non-object frame.
    let server = serve(App::bare().gateway::<ApplicationGateway>()).await;
    let mut ws = server.client("/").await;
    ws.send_text(r#"["push",{"a":1}]"#).await;
    let frame = ws.recv().await;
    assert_eq!(frame["event"], "exception", "{frame}");
    let message = frame["data"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid frame: expected a JSON object"),
        "{frame}"
    );
    assert_eq!(frame["data"].get("cause"), None, "{frame}");
    // It was not run as `push`, and the connection stays open.
    assert_eq!(ws.try_recv(Duration::from_millis(200)).await, None);
    ws.send_text(r#"{"event":"identity","data":1}"#).await;
    assert_eq!(ws.recv().await, json!(1));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_exception_carrying_an_object_is_sent_as_it_is() {
    // NestJS 12's `BaseWsExceptionFilter::handleError`: `if (isObject(result)) return
    // client.emit('exception', result)`; only a message gets a `cause`.
    let server = serve(App::bare().gateway::<ApplicationGateway>()).await;
    let mut ws = server.client("/").await;
    ws.send_text(r#"{"event":"custom","data":{"x":1}}"#).await;
    assert_eq!(
        ws.recv().await,
        json!({"event": "exception", "data": {"code": "E_CUSTOM", "message": "custom"}})
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejecting_connection_hook_names_handle_connection_as_the_pattern() {
    let server = serve(App::bare().gateway::<RejectingGateway>()).await;
    let mut ws = server.client("/rejecting").await;
    assert_eq!(
        ws.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "Unauthorized",
            "cause": {"pattern": "handleConnection"}}})
    );
    assert_eq!(
        ws.closed().await,
        Closed::Frame(1008, "Unauthorized".to_owned())
    );
    server.shutdown().await.unwrap();
}
