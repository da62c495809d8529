//! Serves `OrderItemGateway` alone on a free port: no token no socket, claims, roles and
//! validation.

use super::OrderItemGateway;
use crate::auth::Keys;
use nestgate::App;
use nestgate::gateway::GatewayMeta as _;
use nestgate::testing::{TestClient, TestServer};
use serde_json::json;
use std::time::Duration;

/// Serves only this gateway on 127.0.0.1:0: the running server (its handle, a graceful
/// shutdown; dropping it leaves the server running to the end of the test) and the gateway's
/// URL. The gateway checks tokens with `JWT_SECRET`, or the development secret when it is not
/// set, as the tests do.
async fn serve() -> (TestServer, String) {
    let server = TestServer::start(App::bare().gateway::<OrderItemGateway>()).await;
    let url = server.url(OrderItemGateway::PATH);
    (server, url)
}

/// A client connected with a token for `sub` and `role`.
async fn connect(url: &str, sub: &str, role: &str) -> TestClient {
    let token = Keys::from_env().issue(sub, role, Duration::from_secs(60));
    TestClient::connect(&format!("{url}?token={token}"))
        .await
        .expect("a valid token is let in")
}

#[tokio::test]
async fn without_a_valid_token_there_is_no_socket() {
    let (_server, url) = serve().await;
    for bad in [url.clone(), format!("{url}?token=not-a-jwt")] {
        let refused = TestClient::connect(&bad)
            .await
            .expect_err("no socket without a valid token");
        assert!(
            refused.to_string().contains("401"),
            "expected HTTP 401, got {refused}"
        );
    }
}

#[tokio::test]
async fn claims_roles_and_validation() {
    let (_server, url) = serve().await;
    let mut ann = connect(&url, "ann", "admin").await;
    let mut bob = connect(&url, "bob", "user").await;

    let whoami = bob.request(1, "whoami", json!(null)).await;
    assert_eq!(whoami["data"]["sub"], "bob", "{whoami}");
    assert_eq!(whoami["data"]["role"], "user", "{whoami}");

    let refused = bob.request(2, "announce", json!("hi")).await;
    assert_eq!(
        refused["error"]["message"], "Forbidden resource",
        "{refused}"
    );
    assert_eq!(
        ann.request(3, "announce", json!("hi")).await,
        json!({"ack": 3, "data": "announced"})
    );
    assert_eq!(
        bob.recv().await,
        json!({"event": "announcement", "data": "hi"})
    );

    let invalid = bob
        .request(4, "profile", json!({"display_name": "", "email": "nope"}))
        .await;
    let error = invalid["error"].to_string();
    assert!(
        error.contains("display_name") && error.contains("email"),
        "{invalid}"
    );
    let valid = json!({"display_name": "Bob", "email": "bob@example.com"});
    assert_eq!(
        bob.request(5, "profile", valid.clone()).await,
        json!({"ack": 5, "data": {"event": "profile", "data": valid}})
    );
}

#[tokio::test]
async fn socket_io_clients_send_the_token_in_the_auth_payload() {
    use nestgate::socketio::SocketIoConfig;
    use nestgate::testing::{ConnectError, SocketIoClient};

    let app = App::bare()
        .gateway::<OrderItemGateway>()
        .socket_io(SocketIoConfig::default());
    let server = TestServer::start(app).await;
    let url = server.url(OrderItemGateway::PATH);

    match SocketIoClient::connect(&url).await {
        Err(ConnectError::Refused(error)) => assert_eq!(error["data"]["status"], 401, "{error}"),
        other => panic!("expected connect_error without a token, got {other:?}"),
    }
    let token = Keys::from_env().issue("ann", "admin", Duration::from_secs(60));
    let mut ann = SocketIoClient::connect_with_auth(&url, json!({ "token": token }))
        .await
        .expect("the token in the auth payload lets ann in");
    let claims = ann.emit_with_ack("whoami", json!(null)).await;
    assert_eq!(claims[0]["sub"], "ann", "{claims:?}");
    server.shutdown().await.expect("a graceful shutdown");
}
