//! Serves `EventsGateway` alone on a free port and talks to it over real sockets.

use super::EventsGateway;
use nestgate::App;
use nestgate::gateway::GatewayMeta as _;
use nestgate::testing::{TestClient, TestServer};
use serde_json::json;

/// Serves only this gateway on 127.0.0.1:0: the running server (its handle, a graceful
/// shutdown; dropping it leaves the server running to the end of the test) and the gateway's URL.
async fn serve() -> (TestServer, String) {
    let server = TestServer::start(App::bare().gateway::<EventsGateway>()).await;
    let url = server.url(EventsGateway::PATH);
    (server, url)
}

#[tokio::test]
async fn echo_answers_the_sender_and_broadcast_reaches_everyone() {
    let (_server, url) = serve().await;
    let mut a = TestClient::connect(&url).await.expect("a connects");
    let mut b = TestClient::connect(&url).await.expect("b connects");

    a.emit("echo", json!({"n": [1, 2, 3]})).await;
    assert_eq!(
        a.recv().await,
        json!({"event": "echo", "data": {"n": [1, 2, 3]}})
    );

    // With an id, the answer is an acknowledgement.
    let answer = a.request(7, "echo", json!("hi")).await;
    assert_eq!(
        answer,
        json!({"ack": 7, "data": {"event": "echo", "data": "hi"}})
    );

    b.emit("broadcast", json!("to all")).await;
    assert_eq!(
        a.recv().await,
        json!({"event": "broadcast", "data": "to all"})
    );
    assert_eq!(
        b.recv().await,
        json!({"event": "broadcast", "data": "to all"})
    );
}
