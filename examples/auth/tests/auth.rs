//! Starts the auth example's binary with a known `JWT_SECRET` and checks every path over real
//! sockets: missing, malformed, wrongly signed and expired tokens, a forged Origin, the three
//! token carriers, the role guard, validation errors, the per-socket rate limit, and the
//! token's `exp` as the socket's expiry (refreshed, refused, unanswered).

use auth::jwt::{Claims, Keys};
use nestgate::testing::{ChildServer, TestClient, handshake_request};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "auth-example-test-secret";

fn start() -> ChildServer {
    ChildServer::start(env!("CARGO_BIN_EXE_auth"), &[("JWT_SECRET", SECRET)])
        .expect("the auth example starts")
}

fn token(sub: &str, role: &str) -> String {
    Keys::new(SECRET.as_bytes()).issue(sub, role, Duration::from_secs(600))
}

/// A token signed with the right secret that expired a minute ago.
fn expired_token(sub: &str, role: &str) -> String {
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs()
        - 60;
    let claims = Claims {
        sub: sub.into(),
        role: role.into(),
        exp: past,
    };
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("HS256 encodes")
}

async fn connect(server: &ChildServer, sub: &str, role: &str) -> TestClient {
    let url = format!("{}?token={}", server.ws_url("/"), token(sub, role));
    TestClient::connect(&url)
        .await
        .expect("a valid token connects")
}

#[tokio::test]
async fn missing_malformed_wrongly_signed_and_expired_tokens_get_401_before_any_upgrade() {
    let server = start();
    let url = server.ws_url("/");
    let (status, body) = TestClient::refused(handshake_request(&url, &[])).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "Unauthorized");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("missing token"),
        "{body}"
    );

    let (status, body) =
        TestClient::refused(handshake_request(&format!("{url}?token=abc.def"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("malformed token"))
    );

    let forged = Keys::new(b"some other secret").issue("eve", "admin", Duration::from_secs(600));
    let (status, body) =
        TestClient::refused(handshake_request(&format!("{url}?token={forged}"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("invalid token signature"))
    );

    let expired = expired_token("ann", "user");
    let (status, body) =
        TestClient::refused(handshake_request(&format!("{url}?token={expired}"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("token expired"))
    );
}

#[tokio::test]
async fn a_forged_origin_is_refused_even_with_a_valid_token() {
    let server = start();
    let url = format!("{}?token={}", server.ws_url("/"), token("ann", "user"));
    let (status, _) = TestClient::refused(handshake_request(
        &url,
        &[("origin", "https://evil.example")],
    ))
    .await;
    assert_eq!(status, 403);
    let own = format!("http://{}", server.addr());
    TestClient::connect_request(handshake_request(&url, &[("origin", own.as_str())]))
        .await
        .expect("a page of this host connects");
}

#[tokio::test]
async fn a_token_in_the_query_a_bearer_header_or_a_cookie_is_accepted() {
    let server = start();
    let url = server.ws_url("/");
    let token = token("ann", "user");
    let bearer = format!("Bearer {token}");
    let cookie = format!("token={token}");
    for request in [
        handshake_request(&format!("{url}?token={token}"), &[]),
        handshake_request(&url, &[("authorization", bearer.as_str())]),
        handshake_request(&url, &[("cookie", cookie.as_str())]),
    ] {
        let mut client = TestClient::connect_request(request)
            .await
            .expect("connects");
        let claims = client.request(1, "whoami", Value::Null).await;
        assert_eq!(claims["data"]["sub"], "ann");
        assert_eq!(claims["data"]["role"], "user");
    }
}

#[tokio::test]
async fn only_admins_may_announce() {
    let server = start();
    let mut user = connect(&server, "bob", "user").await;
    let mut admin = connect(&server, "ann", "admin").await;
    let denied = user.request(1, "announce", json!("free cake")).await;
    assert_eq!(
        denied,
        json!({"ack": 1, "error": {"status": "error", "message": "Forbidden resource"}})
    );
    assert_eq!(
        admin.request(2, "announce", json!("standup at 10")).await,
        json!({"ack": 2, "data": "announced"})
    );
    assert_eq!(
        user.recv().await,
        json!({"event": "announcement", "data": "standup at 10"})
    );
}

#[tokio::test]
async fn validation_errors_name_every_field_and_rule() {
    let server = start();
    let mut client = connect(&server, "ann", "user").await;
    let answer = client
        .request(
            1,
            "profile",
            json!({"display_name": "", "email": "nope", "age": 9}),
        )
        .await;
    let error = &answer["error"];
    assert_eq!(error["message"], "Validation failed", "{answer}");
    let failed: Vec<(String, String)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["rule"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("age", "range"),
            ("display_name", "length"),
            ("email", "email")
        ]
        .map(|(f, r)| (f.to_owned(), r.to_owned()))
    );
    let wrong_type = client
        .request(2, "profile", json!({"display_name": 5}))
        .await;
    assert_eq!(
        wrong_type["error"]["errors"],
        json!([{"field": "display_name", "rule": "type", "message": "display_name must be a string"}])
    );
    let ok = client
        .request(
            3,
            "profile",
            json!({"display_name": "Ann", "email": "ann@example.com", "age": 30}),
        )
        .await;
    assert_eq!(
        ok["data"],
        json!({"event": "profile", "data": {"display_name": "Ann", "email": "ann@example.com", "age": 30}})
    );
}

#[tokio::test]
async fn a_rate_limited_client_is_answered_at_once_and_served_after_the_window() {
    let server = start();
    let mut client = connect(&server, "ann", "user").await;
    let mut limited = 0;
    for id in 1..=7 {
        let answer = client
            .request(id, "chat", json!(format!("line {id}")))
            .await;
        if answer["error"]["message"] == "Too many requests" {
            assert!(answer["error"]["retryAfterMs"].as_u64().unwrap() <= 1000);
            limited += 1;
        } else {
            assert_eq!(answer, json!({"ack": id, "data": null}));
        }
    }
    assert_eq!(limited, 2, "5 per second are let through");
    // Other sockets have windows of their own.
    let mut other = connect(&server, "bob", "user").await;
    assert_eq!(
        other.request(1, "chat", json!("hi")).await["data"],
        Value::Null
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        client.request(8, "chat", json!("again")).await,
        json!({"ack": 8, "data": null})
    );
}

/// A token valid for about `secs` seconds (`exp` is in whole seconds: between `secs - 1` and
/// `secs`).
fn short_token(sub: &str, role: &str, secs: u64) -> String {
    Keys::new(SECRET.as_bytes()).issue(sub, role, Duration::from_secs(secs))
}

/// The server's `nestgate:refresh` request; returns its ack id.
async fn refresh_request(client: &mut TestClient) -> u64 {
    let frame = client.recv().await;
    assert_eq!(frame["event"], "nestgate:refresh", "{frame}");
    assert!(frame["data"]["expiresAt"].as_u64().is_some(), "{frame}");
    frame["id"].as_u64().expect("an ack id")
}

#[tokio::test]
async fn the_jwt_exp_is_the_socket_expiry_and_a_fresh_token_extends_it() {
    let server = start();
    let url = format!(
        "{}?token={}",
        server.ws_url("/"),
        short_token("ann", "user", 3)
    );
    let mut client = TestClient::connect(&url).await.expect("connects");
    let id = refresh_request(&mut client).await;
    // The fresh token says more: the same guard checks it and the handlers see its claims.
    let fresh = token("ann", "admin");
    client
        .send_json(json!({"ack": id, "data": {"token": fresh}}))
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await; // past the first token's `exp`
    let claims = client.request(1, "whoami", Value::Null).await;
    assert_eq!(claims["data"]["role"], "admin", "{claims}");
    assert_eq!(
        client.request(2, "announce", json!("refreshed")).await["data"],
        "announced"
    );
}

#[tokio::test]
async fn an_invalid_refresh_token_or_no_answer_closes_the_socket() {
    let server = start();
    let url = |token: String| format!("{}?token={token}", server.ws_url("/"));
    let mut forged = TestClient::connect(&url(short_token("ann", "user", 3)))
        .await
        .expect("connects");
    let mut silent = TestClient::connect(&url(short_token("bob", "user", 3)))
        .await
        .expect("connects");

    let id = refresh_request(&mut forged).await;
    let other = Keys::new(b"some other secret").issue("ann", "admin", Duration::from_secs(600));
    forged
        .send_json(json!({"ack": id, "data": {"token": other}}))
        .await;
    assert_eq!(
        forged.recv().await["data"]["message"],
        "refresh refused: invalid token signature"
    );
    assert_eq!(
        forged.closed().await,
        nestgate::testing::Closed::Frame(4003, "refresh refused: invalid token signature".into())
    );

    refresh_request(&mut silent).await;
    assert_eq!(silent.recv().await["data"]["message"], "token expired");
    assert_eq!(
        silent.closed().await,
        nestgate::testing::Closed::Frame(4001, "token expired".into())
    );
}

#[tokio::test]
async fn a_client_refreshing_by_itself_with_an_expired_token_is_refused_and_stays() {
    let server = start();
    let mut client = connect(&server, "ann", "user").await;
    let expired = expired_token("ann", "admin");
    let refused = client
        .request(1, "nestgate:refresh", json!({"token": expired}))
        .await;
    assert_eq!(
        refused["error"]["message"], "refresh refused: token expired",
        "{refused}"
    );
    // Nothing changed: the same claims, still connected.
    assert_eq!(
        client.request(2, "whoami", Value::Null).await["data"]["role"],
        "user"
    );
    let fresh = client
        .request(
            3,
            "nestgate:refresh",
            json!({"token": token("ann", "admin")}),
        )
        .await;
    let exp_ms = fresh["data"]["expiresAt"].as_u64().expect("an expiry");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(exp_ms > now_ms + 500_000, "{fresh}");
    assert_eq!(
        client.request(4, "whoami", Value::Null).await["data"]["role"],
        "admin"
    );
}
