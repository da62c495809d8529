//! The auction example over real sockets: ws-json and Socket.IO clients bidding in one room,
//! JWT from the query and from the Socket.IO auth payload, validation errors in the client's
//! names, a bid below the highest refused in the same shape, the admin guard.

use auction::auth::Keys;
use nestgate::testing::{ConnectError, SocketIoClient, TestClient};
use serde_json::json;
use std::time::Duration;

struct Server {
    handle: nestgate::AppHandle,
    addr: std::net::SocketAddr,
}

async fn start() -> Server {
    let listening = auction::app()
        .bind("127.0.0.1:0")
        .await
        .expect("the auction app binds");
    let server = Server {
        handle: listening.handle(),
        addr: listening.local_addr(),
    };
    tokio::spawn(listening.run_until(std::future::pending()));
    server
}

/// A token for `sub` with `role`, signed as the server checks it (`JWT_SECRET`, or the
/// development secret when it is not set, for both).
fn token(sub: &str, role: &str) -> String {
    Keys::from_env().issue(sub, role, Duration::from_secs(600))
}

#[tokio::test]
async fn ws_json_and_socket_io_bidders_share_an_auction() {
    let server = start().await;
    let url = format!("ws://{}/auction", server.addr);
    let mut ann = TestClient::connect(&format!("{url}?token={}", token("ann", "user")))
        .await
        .expect("ann's token lets her in");
    let mut bob = SocketIoClient::connect_with_auth(&url, json!({"token": token("bob", "user")}))
        .await
        .expect("bob's token, in the auth payload, lets him in");

    assert_eq!(
        ann.request(1, "join", json!({"auctionId": "a1"})).await["data"],
        json!(null)
    );
    // No highest bid yet: `None`, which a Socket.IO ack carries as no argument.
    assert!(
        bob.emit_with_ack("join", json!({"auctionId": "a1"}))
            .await
            .is_empty()
    );

    let answer = ann
        .request(2, "bid", json!({"auctionId": "a1", "amount": 100}))
        .await;
    assert_eq!(answer["data"], json!({"accepted": true}));
    // Ann's own broadcast came before her answer: kept for recv.
    assert_eq!(
        ann.recv().await,
        json!({"event": "bid", "data": {"bidder": "ann", "amount": 100}})
    );
    let seen = bob.recv().await;
    assert_eq!(
        (seen.event.as_str(), seen.data()),
        ("bid", &json!({"bidder": "ann", "amount": 100}))
    );

    // Too low: the service answers in the shape of a validation error.
    let low = bob
        .emit_with_ack("bid", json!({"auctionId": "a1", "amount": 90}))
        .await;
    assert_eq!(
        low,
        [
            json!({"status": "error", "message": "Validation failed", "errors": [
                {"field": "amount", "rule": "above_highest",
                 "message": "amount must be more than the highest bid, 100", "params": {"min": 101}},
            ]})
        ]
    );
    server.handle.shutdown();
}

#[tokio::test]
async fn bids_are_validated_in_the_clients_names() {
    let server = start().await;
    let url = format!(
        "ws://{}/auction?token={}",
        server.addr,
        token("ann", "user")
    );
    let mut ann = TestClient::connect(&url).await.unwrap();
    let answer = ann
        .request(1, "bid", json!({"auctionId": "", "amount": 0}))
        .await;
    assert_eq!(
        answer["error"]["errors"],
        json!([
            {"field": "amount", "rule": "range", "message": "amount must be at least 1",
             "params": {"min": 1, "value": 0}},
            {"field": "auctionId", "rule": "length", "message": "auctionId must be at least 1 characters long",
             "params": {"min": 1, "value": ""}},
        ])
    );
    let answer = ann
        .request(2, "bid", json!({"auctionId": "a1", "amount": "ten"}))
        .await;
    assert_eq!(
        answer["error"]["errors"],
        json!([{"field": "amount", "rule": "type", "message": "amount must be a non-negative integer"}])
    );
    server.handle.shutdown();
}

#[tokio::test]
async fn only_admins_close_and_a_missing_token_is_refused() {
    let server = start().await;
    let url = format!("ws://{}/auction", server.addr);
    match SocketIoClient::connect(&url).await {
        Err(ConnectError::Refused(error)) => assert_eq!(error["data"]["status"], 401, "{error}"),
        other => panic!("expected connect_error, got {other:?}"),
    }
    let mut ann = TestClient::connect(&format!("{url}?token={}", token("ann", "user")))
        .await
        .unwrap();
    let mut boss =
        SocketIoClient::connect_with_auth(&url, json!({"token": token("boss", "admin")}))
            .await
            .unwrap();
    ann.request(1, "join", json!({"auctionId": "a1"})).await;
    ann.request(2, "bid", json!({"auctionId": "a1", "amount": 5}))
        .await;
    assert_eq!(ann.recv().await["event"], "bid");
    let refused = ann.request(3, "close", json!({"auctionId": "a1"})).await;
    assert_eq!(refused["error"]["message"], "Forbidden resource");
    assert!(
        boss.emit_with_ack("close", json!({"auctionId": "a1"}))
            .await
            .is_empty()
    );
    assert_eq!(
        ann.recv().await,
        json!({"event": "closed", "data": {"bidder": "ann", "amount": 5}})
    );
    let late = ann
        .request(4, "bid", json!({"auctionId": "a1", "amount": 9}))
        .await;
    assert_eq!(late["error"]["message"], "auction a1 is closed");
    server.handle.shutdown();
}
