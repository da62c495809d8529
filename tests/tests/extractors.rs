//! Extractors in any order, user-defined extractors, state, and sync/async handlers.

use nestgate::App;
use nestgate::extract::{Event, FromMessageParts, MessageParts, State};
use nestgate::prelude::*;
use nestgate_tests::serve;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

/// A user-defined extractor: the `x-user` handshake header.
struct User(String);

impl FromMessageParts for User {
    type Rejection = WsException;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, WsException> {
        parts
            .socket()
            .handshake()
            .query("user")
            .map(User)
            .ok_or_else(|| WsException::new("connect with ?user="))
    }
}

#[websocket_gateway(path = "/x")]
#[derive(Debug, Default)]
struct Extractors;

#[websocket_gateway]
impl Extractors {
    #[subscribe_message("all")]
    async fn all(
        &self,
        Event(event): Event,
        server: Server,
        State(counter): State<Counter>,
        socket: Socket,
        User(user): User,
        Data(n): Data<u64>,
    ) -> Value {
        let total = counter.0.fetch_add(n, Ordering::SeqCst) + n;
        json!({"event": event, "path": server.path(), "same_socket": server.socket(socket.id()).is_some(),
               "user": user, "total": total})
    }

    #[subscribe_message("reordered")]
    fn reordered(
        &self,
        socket: Socket,
        Event(event): Event,
        State(counter): State<Counter>,
    ) -> Value {
        json!({"event": event, "id_len": socket.id().len(), "total": counter.0.load(Ordering::SeqCst)})
    }

    #[subscribe_message("static")]
    fn no_receiver(Data(s): Data<String>) -> String {
        s.to_uppercase()
    }

    #[subscribe_message("who")]
    fn who(&self, User(user): User) -> String {
        user
    }
}

#[tokio::test]
async fn extractors_work_in_any_order() {
    let server = serve(
        App::bare()
            .provide(Counter::default())
            .gateway::<Extractors>(),
    )
    .await;
    let mut client = server.client("/x?user=ada").await;
    client.emit("all", json!(5)).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "all", "path": "/x", "same_socket": true, "user": "ada", "total": 5})
    );
    client.emit("reordered", Value::Null).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "reordered", "id_len": 22, "total": 5})
    );
    client.emit("static", json!("shout")).await;
    assert_eq!(client.recv().await, json!("SHOUT"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failing_extractor_answers_its_rejection_and_the_handler_does_not_run() {
    let server = serve(
        App::bare()
            .provide(Counter::default())
            .gateway::<Extractors>(),
    )
    .await;
    let mut anonymous = server.client("/x").await;
    anonymous.emit("who", Value::Null).await;
    assert_eq!(
        anonymous.recv().await["data"]["message"],
        "connect with ?user="
    );
    // Data<u64> comes last and is not even read when User fails first.
    anonymous.emit("all", json!("not a number")).await;
    assert_eq!(
        anonymous.recv().await["data"]["message"],
        "connect with ?user="
    );
    // A `State<T>` nobody provided is refused when the app starts (tests/tests/wiring.rs).
    server.shutdown().await.unwrap();
}
