//! Serves `OrderItemGateway` alone on a free port; clients join rooms and talk in them.

use super::OrderItemGateway;
use nestgate::App;
use nestgate::gateway::GatewayMeta as _;
use nestgate::testing::{TestClient, TestServer};
use serde_json::json;
use std::time::Duration;

/// Serves only this gateway on 127.0.0.1:0: the running server (its handle, a graceful
/// shutdown; dropping it leaves the server running to the end of the test) and the gateway's URL.
async fn serve() -> (TestServer, String) {
    let server = TestServer::start(App::bare().gateway::<OrderItemGateway>()).await;
    let url = server.url(OrderItemGateway::PATH);
    (server, url)
}

#[tokio::test]
async fn messages_reach_the_other_members_of_a_room_only() {
    let (_server, url) = serve().await;
    let mut ann = TestClient::connect(&url).await.expect("ann connects");
    let mut bob = TestClient::connect(&url).await.expect("bob connects");
    let mut eve = TestClient::connect(&url).await.expect("eve connects");

    assert_eq!(
        ann.request(1, "join", json!({"room": "red"})).await,
        json!({"ack": 1, "data": ["red"]})
    );
    assert_eq!(
        bob.request(2, "join", json!({"room": "red"})).await,
        json!({"ack": 2, "data": ["red"]})
    );
    let joined = ann.recv().await;
    assert_eq!(joined["event"], "joined", "{joined}");
    assert_eq!(joined["data"]["room"], "red", "{joined}");
    assert_eq!(
        eve.request(3, "size", json!({"room": "red"})).await,
        json!({"ack": 3, "data": 2})
    );

    ann.emit("message", json!({"room": "red", "text": "hi"}))
        .await;
    let line = bob.recv().await;
    assert_eq!(line["event"], "message", "{line}");
    assert_eq!(line["data"]["text"], "hi", "{line}");
    // Neither the sender nor a socket outside the room hears it.
    assert_eq!(ann.try_recv(Duration::from_millis(200)).await, None);
    assert_eq!(eve.try_recv(Duration::from_millis(10)).await, None);

    // Talking to a room one is not in is refused.
    let refused = eve
        .request(4, "message", json!({"room": "red", "text": "psst"}))
        .await;
    assert_eq!(
        refused["error"]["message"], "join the room first",
        "{refused}"
    );

    assert_eq!(
        bob.request(5, "leave", json!({"room": "red"})).await,
        json!({"ack": 5, "data": []})
    );
    let left = ann.recv().await;
    assert_eq!(left["event"], "left", "{left}");
}
