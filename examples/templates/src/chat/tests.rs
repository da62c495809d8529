//! Serves `SampleNameGateway` alone on a free port; two clients join, talk and leave.

use super::SampleNameGateway;
use nestgate::App;
use nestgate::gateway::GatewayMeta as _;
use nestgate::testing::{TestClient, TestServer};
use serde_json::json;

/// Serves only this gateway on 127.0.0.1:0: the running server (its handle, a graceful
/// shutdown; dropping it leaves the server running to the end of the test) and the gateway's URL.
async fn serve() -> (TestServer, String) {
    let server = TestServer::start(App::bare().gateway::<SampleNameGateway>()).await;
    let url = server.url(SampleNameGateway::PATH);
    (server, url)
}

#[tokio::test]
async fn two_clients_join_talk_and_leave() {
    let (_server, url) = serve().await;
    let mut ann = TestClient::connect(&url).await.expect("ann connects");
    let mut bob = TestClient::connect(&url).await.expect("bob connects");

    // Talking before joining is refused, and the connection stays usable.
    ann.emit("message", json!({"text": "hello?"})).await;
    let refused = ann.recv().await;
    assert_eq!(refused["event"], "exception", "{refused}");
    assert_eq!(refused["data"]["message"], "join first", "{refused}");

    ann.emit("join", json!({"name": "ann"})).await;
    let welcome = ann.recv().await;
    assert_eq!(welcome["event"], "welcome", "{welcome}");
    assert_eq!(welcome["data"]["name"], "ann", "{welcome}");
    let ann_id = welcome["data"]["id"].clone();

    // Every connected client hears of a join, even one that has not joined yet.
    assert_eq!(
        bob.recv().await,
        json!({"event": "joined", "data": {"id": ann_id, "name": "ann"}})
    );

    bob.emit("join", json!({"name": "bob"})).await;
    assert_eq!(bob.recv().await["event"], "welcome");
    let joined = ann.recv().await;
    assert_eq!(joined["event"], "joined", "{joined}");
    assert_eq!(joined["data"]["name"], "bob", "{joined}");

    bob.emit("message", json!({"text": "hi ann"})).await;
    let line = json!({"event": "message", "data": {"from": "bob", "text": "hi ann"}});
    assert_eq!(ann.recv().await, line);
    assert_eq!(bob.recv().await, line);

    ann.close().await;
    assert_eq!(
        bob.recv().await,
        json!({"event": "left", "data": {"id": ann_id, "name": "ann"}})
    );
}

#[tokio::test]
async fn a_bad_name_is_refused() {
    let (_server, url) = serve().await;
    let mut client = TestClient::connect(&url)
        .await
        .expect("the client connects");
    client.emit("join", json!({"name": "   "})).await;
    let refused = client.recv().await;
    assert_eq!(
        refused["data"]["message"], "a name has 1 to 32 characters",
        "{refused}"
    );
}
