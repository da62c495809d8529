//! Serves `SampleNameGateway` alone on a free port and goes through every event.

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
async fn create_find_update_and_remove() {
    let (_server, url) = serve().await;
    let mut client = TestClient::connect(&url)
        .await
        .expect("the client connects");

    let first = json!({"id": 1, "name": "first"});
    let second = json!({"id": 2, "name": "second"});
    assert_eq!(
        client.request(1, "create", json!({"name": "first"})).await["data"],
        first
    );
    assert_eq!(
        client.request(2, "create", json!({"name": "second"})).await["data"],
        second
    );
    assert_eq!(
        client.request(3, "find_all", json!(null)).await["data"],
        json!([first, second])
    );
    assert_eq!(
        client.request(4, "find_one", json!({"id": 2})).await["data"],
        second
    );

    let renamed = json!({"id": 1, "name": "renamed"});
    assert_eq!(
        client
            .request(5, "update", json!({"id": 1, "name": "renamed"}))
            .await["data"],
        renamed
    );
    assert_eq!(
        client.request(6, "remove", json!({"id": 1})).await["data"],
        renamed
    );
    assert_eq!(
        client.request(7, "find_all", json!(null)).await["data"],
        json!([second])
    );

    // Without an id, the answer is the value itself, as NestJS sends it.
    client.emit("find_one", json!({"id": 2})).await;
    assert_eq!(client.recv().await, second);
}

#[tokio::test]
async fn unknown_ids_and_bad_data_are_answered() {
    let (_server, url) = serve().await;
    let mut client = TestClient::connect(&url)
        .await
        .expect("the client connects");

    let missing = client.request(1, "find_one", json!({"id": 7})).await;
    assert_eq!(
        missing["error"]["message"], "sample name 7 not found",
        "{missing}"
    );
    let missing = client.request(2, "remove", json!({"id": 7})).await;
    assert_eq!(
        missing["error"]["message"], "sample name 7 not found",
        "{missing}"
    );
    let bad = client
        .request(3, "create", json!({"title": "no name"}))
        .await;
    assert_eq!(bad["error"]["errors"][0]["field"], "name", "{bad}");
}
