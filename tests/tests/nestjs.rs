//! A client written for a NestJS `WsAdapter` gateway works unchanged.
//!
//! The gateway mirrors NestJS's own WebSocket e2e fixtures (`integration/websockets` in the
//! nest repository): `push` returns `{ event: 'pop', data }`, `events` returns an Observable of
//! `WsResponse`s, `identity` returns its data. The client sends exactly the frames a browser
//! `WebSocket` sends with `ws.send(JSON.stringify({ event, data }))` and expects NestJS's replies.

use futures_util::stream::{self, Stream};
use nestgate::App;
use nestgate::prelude::*;
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
