//! What one client can make the server hold for it, and what one client can do to the others:
//! the outbound queue's byte bound (W1) and the inbound rate limit (W2).

use futures_util::StreamExt as _;
use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate::testing::TestClient;
use nestgate_tests::serve;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Reads text frames until the connection ends: how many, and how it ended.
async fn count_until_closed(client: &mut TestClient) -> (usize, Closed) {
    let mut texts = 0;
    let read = async {
        loop {
            match client.inner().next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Closed::Frame(frame.code.into(), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => return Closed::Frame(1005, String::new()),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Closed::Abrupt(err.to_string()),
                None => return Closed::Abrupt("end of stream".to_owned()),
            }
        }
    };
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .expect("the connection ended within 30 s");
    (texts, closed)
}

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Fanout;

#[websocket_gateway]
impl Fanout {
    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }
}

#[tokio::test]
async fn a_paused_client_is_closed_with_1013_once_its_queue_holds_16_mib() {
    // 64 echoes of 512 KiB are 32 MiB of answers: with frames alone bounded (1,024 by default)
    // they would all be queued. The byte bound (16 MiB) closes the client after about 32 of
    // them, plus what the socket buffers took.
    let server = serve(App::bare().gateway::<Fanout>()).await;
    let mut paused = server.client("/").await;
    let data = "x".repeat(512 * 1024);
    for _ in 0..64 {
        paused.emit("echo", json!(data)).await;
    }
    let (answers, closed) = count_until_closed(&mut paused).await;
    assert_eq!(closed, Closed::Frame(1013, "slow consumer".to_owned()));
    assert!(
        answers < 64,
        "{answers} answers: the queue was not bounded in bytes"
    );
    println!("answers received before the 1013: {answers}");
    server.shutdown().await.unwrap();
}
