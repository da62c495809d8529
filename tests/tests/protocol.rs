//! The ws-json protocol (DESIGN §4), rule by rule, over a real socket.

use futures_util::stream::{self, Stream};
use nestgate::App;
use nestgate::prelude::*;
use nestgate_tests::HttpStatus as _;
use nestgate_tests::{assert_alive, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const QUIET: Duration = Duration::from_millis(300);

#[derive(Debug, Deserialize, Serialize)]
struct Join {
    room: String,
    limit: u32,
}

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Protocol;

#[websocket_gateway]
impl Protocol {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[subscribe_message("response")]
    fn response(&self, Data(data): Data<Value>) -> WsResponse<Value> {
        WsResponse::new("answer", data)
    }

    #[subscribe_message("seven")]
    async fn seven(&self) -> u32 {
        7
    }

    #[subscribe_message("nothing")]
    fn nothing(&self) {}

    #[subscribe_message("none")]
    fn none(&self) -> Option<u32> {
        None
    }

    #[subscribe_message("null")]
    fn null(&self) -> Value {
        Value::Null
    }

    #[subscribe_message("join")]
    fn join(&self, Data(join): Data<Join>) -> Join {
        join
    }

    #[subscribe_message("optional")]
    fn optional(&self, Data(value): Data<Option<String>>) -> String {
        value.unwrap_or_else(|| "absent".to_owned())
    }

    #[subscribe_message("fail")]
    fn fail(&self) -> Result<u32, WsException> {
        Err(WsException::new("room is full"))
    }

    #[subscribe_message("fail_object")]
    fn fail_object(&self) -> Result<(), WsException> {
        Err(WsException::with_data(
            json!({"code": 42, "reason": "quota"}),
        ))
    }

    #[subscribe_message("internal")]
    async fn internal(&self) -> Result<(), WsException> {
        Err(WsException::internal("database password is hunter2"))
    }

    #[subscribe_message("count")]
    fn count(&self, Data(to): Data<u32>) -> impl Stream<Item = WsResponse<u32>> + Send + use<> {
        stream::iter((1..=to).map(|n| WsResponse::new("count", n)))
    }
}

async fn server() -> nestgate_tests::TestServer {
    serve(App::bare().gateway::<Protocol>()).await
}

#[tokio::test]
async fn return_values_are_sent_as_nestjs_sends_them() {
    let server = server().await;
    let mut client = server.client("/").await;

    client.emit("response", json!({"a": 1})).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "answer", "data": {"a": 1}})
    );
    client.emit("seven", Value::Null).await;
    assert_eq!(client.recv().await, json!(7));

    // (), None and null send nothing: the next frame is the answer to the ping.
    for event in ["nothing", "none", "null"] {
        client.emit(event, Value::Null).await;
    }
    client.emit("ping", Value::Null).await;
    assert_eq!(client.recv().await, json!("pong"));

    client.emit("count", json!(3)).await;
    for n in 1..=3 {
        assert_eq!(client.recv().await, json!({"event": "count", "data": n}));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_may_be_absent_and_other_keys_are_ignored() {
    let server = server().await;
    let mut client = server.client("/").await;
    client.send_json(json!({"event": "optional"})).await;
    assert_eq!(client.recv().await, json!("absent"));
    client
        .send_json(json!({"event": "optional", "data": "x", "extra": [1]}))
        .await;
    assert_eq!(client.recv().await, json!("x"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_frame_with_an_id_gets_exactly_one_answer() {
    let server = server().await;
    let mut client = server.client("/").await;
    let cases = [
        ("seven", Value::Null, json!({"ack": 1, "data": 7})),
        ("nothing", Value::Null, json!({"ack": 2, "data": null})),
        (
            "response",
            json!("x"),
            json!({"ack": 3, "data": {"event": "answer", "data": "x"}}),
        ),
        (
            "count",
            json!(2),
            json!({"ack": 4, "data": [{"event": "count", "data": 1}, {"event": "count", "data": 2}]}),
        ),
        (
            "fail",
            Value::Null,
            json!({"ack": 5, "error": {"status": "error", "message": "room is full"}}),
        ),
        (
            "nope",
            Value::Null,
            json!({"ack": 6, "error": {"status": "error", "message": "unknown event 'nope'"}}),
        ),
        (
            "join",
            json!({"room": 1}),
            json!({"ack": 7, "error": {"status": "error", "message": "Validation failed",
                "errors": [{"field": "room", "rule": "type", "message": "room must be a string"}]}}),
        ),
    ];
    for (id, (event, data, _)) in (1..).zip(&cases) {
        client
            .send_json(json!({"event": event, "data": data, "id": id}))
            .await;
    }
    for (_, _, expected) in &cases {
        assert_eq!(&client.recv().await, expected);
    }
    // And nothing more.
    assert_eq!(client.try_recv(QUIET).await, None);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_gets_an_exception_frame_and_the_connection_stays_open() {
    let server = server().await;
    let mut client = server.client("/").await;
    let exception = |message: &str| json!({"event": "exception", "data": {"status": "error", "message": message}});

    client.send_text("{\"event\": \"ping\"").await;
    let frame = client.recv().await;
    assert!(
        frame["data"]["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON: "),
        "{frame}"
    );
    assert_eq!(frame["event"], "exception");

    for text in ["[1,2,3]", "42", "\"event\""] {
        client.send_text(text).await;
        let frame = client.recv().await;
        let message = frame["data"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("invalid frame: expected a JSON object"),
            "{frame}"
        );
    }

    client.send_json(json!({"data": 1})).await;
    assert_eq!(
        client.recv().await,
        exception("invalid frame: missing \"event\" field")
    );

    client
        .send_json(json!({"event": "nope", "data": {"x": 1}}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "unknown event 'nope'",
            "cause": {"pattern": "nope", "data": {"x": 1}}}})
    );

    client
        .emit("join", json!({"room": "a", "limit": "ten"}))
        .await;
    // Data of the wrong type: the exception object of every rejected payload (as NestJS sends
    // an object-bodied `WsException`: as it is, without `cause`).
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "Validation failed",
            "errors": [{"field": "limit", "rule": "type",
                        "message": "limit must be an integer from 0 to 4294967295"}]}})
    );
    client.emit("join", json!({"room": "a"})).await;
    assert_eq!(
        client.recv().await["data"]["errors"][0]["message"],
        "limit is required"
    );

    client
        .send(Message::binary(vec![0xde, 0xad, 0xbe, 0xef]))
        .await;
    assert_eq!(
        client.recv().await,
        exception("binary frames are not supported by this gateway: send JSON text frames")
    );

    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn handler_errors_follow_nestjs_12() {
    let server = server().await;
    let mut client = server.client("/").await;

    client.emit("fail", json!({"n": 1})).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "room is full",
            "cause": {"pattern": "fail", "data": {"n": 1}}}})
    );

    // An exception carrying an object sends that object as data, as it is: no `cause`
    // (NestJS's `BaseWsExceptionFilter::handleError`).
    client.emit("fail_object", Value::Null).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "exception", "data": {"code": 42, "reason": "quota"}})
    );

    // Internal errors never leak their detail.
    client.emit("internal", Value::Null).await;
    let frame = client.recv().await;
    assert_eq!(frame["data"]["message"], "Internal server error");
    assert!(!frame.to_string().contains("hunter2"));
    assert_alive(&mut client).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_get_404_before_any_upgrade() {
    let server = server().await;
    let status = server
        .http_status(&nestgate_tests::upgrade_request("/nope"))
        .await;
    assert_eq!(status, 404);
    let status = server
        .http_status(&nestgate_tests::upgrade_request("/"))
        .await;
    assert_eq!(status, 101);
    server.shutdown().await.unwrap();
}
