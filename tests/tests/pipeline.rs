//! The request pipeline over real sockets: handshake guards, the origin check, message guards,
//! validation, tower layers and exception filters.

use nestgate::App;
use nestgate::extract::{Extension, State, Valid};
use nestgate::filter::ErrorHost;
use nestgate::guard::{
    Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest, OriginPolicy,
};
use nestgate::prelude::*;
use nestgate::testing::{TestClient, handshake_request};
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use validator::Validate;

// ---------------------------------------------------------------------------------------------
// Handshake guards and the origin check.

#[derive(Clone, Debug, PartialEq)]
struct User {
    name: String,
    role: String,
}

/// Lets in `?token=<name>:<role>`; `broken` makes the guard fail the way a lost database would.
struct TokenGuard;

impl HandshakeGuard for TokenGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .query("token")
            .or_else(|| request.bearer_token().map(str::to_owned))
            .or_else(|| request.cookie("token").map(str::to_owned))
            .ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
        if token == "broken" {
            return Err(HandshakeRejection::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "session store unavailable",
            ));
        }
        if token == "panic" {
            panic!("a guard bug");
        }
        let (name, role) = token
            .split_once(':')
            .ok_or_else(|| HandshakeRejection::unauthorized("malformed token"))?;
        request.insert(User {
            name: name.to_owned(),
            role: role.to_owned(),
        });
        Ok(())
    }
}

/// Only admins may send the event; reads the role the handshake guard stored.
struct AdminOnly;

impl Guard for AdminOnly {
    async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException> {
        Ok(context
            .extension::<User>()
            .is_some_and(|user| user.role == "admin"))
    }
}

/// A guard whose check itself fails.
struct Failing;

impl Guard for Failing {
    async fn can_activate(&self, _context: &GuardContext) -> Result<bool, WsException> {
        Err(WsException::new("permission service unavailable"))
    }
}

/// Refuses messages whose data has `"blocked": true`; reads the message and app state.
struct NotBlocked;

impl Guard for NotBlocked {
    async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException> {
        let data: Value = context.data()?;
        let limit = context.state::<Limit>().map_or(0, |limit| limit.0);
        Ok(data["blocked"] != json!(true) && data["n"].as_u64().unwrap_or(0) <= limit)
    }
}

#[derive(Clone)]
struct Limit(u64);

#[derive(Clone, Default)]
struct Runs(Arc<AtomicU64>);

#[websocket_gateway(path = "/secure", handshake_guards(TokenGuard))]
#[derive(Default)]
struct Secure;

#[websocket_gateway]
#[use_guards(NotBlocked)]
impl Secure {
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(user): Extension<User>) -> String {
        user.name
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) {
        socket.join(room);
    }

    #[subscribe_message("admin")]
    #[use_guards(AdminOnly)]
    fn admin(&self, runs: nestgate::extract::State<Runs>) -> &'static str {
        runs.0.0.fetch_add(1, Ordering::SeqCst);
        "done"
    }

    #[subscribe_message("failing")]
    #[use_guards(Failing)]
    fn failing(&self, runs: nestgate::extract::State<Runs>) -> &'static str {
        runs.0.0.fetch_add(1, Ordering::SeqCst);
        "ran"
    }
}

#[websocket_gateway(path = "/open")]
#[derive(Default)]
struct Open;

#[websocket_gateway]
impl Open {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

async fn secure_app() -> (TestServer, Runs) {
    let runs = Runs::default();
    let app = App::bare()
        .provide(runs.clone())
        .provide(Limit(10))
        .gateway::<Secure>()
        .gateway::<Open>();
    (serve(app).await, runs)
}

#[tokio::test]
async fn a_handshake_without_a_token_is_refused_with_401_before_any_upgrade() {
    let (server, _) = secure_app().await;
    let (status, body) = TestClient::refused(handshake_request(&server.url("/secure"), &[])).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"statusCode": 401, "message": "missing token", "error": "Unauthorized"})
    );
    let (status, body) =
        TestClient::refused(handshake_request(&server.url("/secure?token=nocolon"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("malformed token"))
    );
    // Another path without handshake guards is open.
    let mut open = server.client("/open").await;
    nestgate_tests::assert_alive(&mut open).await;
}

#[tokio::test]
async fn a_guard_that_fails_or_panics_refuses_with_its_status_and_the_server_goes_on() {
    let (server, _) = secure_app().await;
    let (status, body) =
        TestClient::refused(handshake_request(&server.url("/secure?token=broken"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (503, Some("session store unavailable"))
    );
    let (status, body) =
        TestClient::refused(handshake_request(&server.url("/secure?token=panic"), &[])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (500, Some("Internal server error"))
    );
    let mut open = server.client("/open").await;
    nestgate_tests::assert_alive(&mut open).await;
}

#[tokio::test]
async fn what_the_guard_established_is_extracted_from_query_header_or_cookie() {
    let (server, _) = secure_app().await;
    let url = server.url("/secure");
    for (url, headers) in [
        (format!("{url}?token=ann:user"), vec![]),
        (url.clone(), vec![("authorization", "Bearer ann:user")]),
        (url.clone(), vec![("cookie", "theme=dark; token=ann:user")]),
    ] {
        let mut client = TestClient::connect_request(handshake_request(&url, &headers))
            .await
            .expect("a valid token connects");
        let answer = client.request(1, "whoami", Value::Null).await;
        assert_eq!(answer, json!({"ack": 1, "data": "ann"}));
    }
}

#[tokio::test]
async fn rejected_handshakes_leave_no_socket_room_or_task_behind() {
    let (server, _) = secure_app().await;
    let mut member = TestClient::connect_request(handshake_request(
        &format!("{}?token=ann:user", server.url("/secure")),
        &[],
    ))
    .await
    .expect("connects");
    member.request(1, "join", json!("lobby")).await;
    for _ in 0..50 {
        TestClient::refused(handshake_request(&server.url("/secure"), &[])).await;
    }
    let secure = server.handle().server("/secure").expect("the path exists");
    assert_eq!(secure.local_socket_count(), 1);
    assert_eq!(
        secure.rooms().await.expect("rooms"),
        vec!["lobby".to_owned()]
    );
    // Only the member's connection task is left once the refused ones have closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.handle().active_connections() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} connection tasks still running",
            server.handle().active_connections()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_forged_origin_is_refused_and_the_same_host_or_an_allowed_origin_is_not() {
    let (server, _) = secure_app().await;
    let url = server.url("/open");
    let host = server.addr().to_string();
    let (status, body) = TestClient::refused(handshake_request(
        &url,
        &[("origin", "https://evil.example")],
    ))
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("origin not allowed"))
    );
    let same = format!("http://{host}");
    TestClient::connect_request(handshake_request(&url, &[("origin", same.as_str())]))
        .await
        .expect("a page served by this host connects");

    let allowed = serve(
        App::bare()
            .gateway::<Open>()
            .origins(OriginPolicy::AllowList(vec!["https://app.example".into()])),
    )
    .await;
    let url = allowed.url("/open");
    TestClient::connect_request(handshake_request(
        &url,
        &[("origin", "https://app.example")],
    ))
    .await
    .expect("an allowed origin connects");
    let (status, _) = TestClient::refused(handshake_request(
        &url,
        &[("origin", "https://evil.example")],
    ))
    .await;
    assert_eq!(status, 403);
}

// ---------------------------------------------------------------------------------------------
// Message guards.

async fn connect_as(server: &TestServer, token: &str) -> TestClient {
    TestClient::connect_request(handshake_request(
        &format!("{}?token={token}", server.url("/secure")),
        &[],
    ))
    .await
    .expect("connects")
}

#[tokio::test]
async fn a_refused_message_answers_forbidden_resource_and_its_handler_does_not_run() {
    let (server, runs) = secure_app().await;
    let mut user = connect_as(&server, "bob:user").await;
    let answer = user.request(1, "admin", Value::Null).await;
    assert_eq!(
        answer,
        json!({"ack": 1, "error": {"status": "error", "message": "Forbidden resource"}})
    );
    user.emit("admin", json!({"x": 1})).await;
    assert_eq!(
        user.recv().await,
        json!({"event": "exception", "data": {"status": "error", "message": "Forbidden resource",
               "cause": {"pattern": "admin", "data": {"x": 1}}}})
    );
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);

    let mut admin = connect_as(&server, "ann:admin").await;
    assert_eq!(
        admin.request(2, "admin", Value::Null).await,
        json!({"ack": 2, "data": "done"})
    );
    assert_eq!(runs.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gateway_guards_run_for_every_handler_and_read_data_and_state() {
    let (server, _) = secure_app().await;
    let mut client = connect_as(&server, "ann:admin").await;
    let refused = client.request(1, "join", json!({"blocked": true})).await;
    assert_eq!(refused["error"]["message"], "Forbidden resource");
    // `NotBlocked` reads `Limit(10)` from the app's state.
    let refused = client.request(2, "admin", json!({"n": 11})).await;
    assert_eq!(refused["error"]["message"], "Forbidden resource");
    let allowed = client.request(3, "admin", json!({"n": 10})).await;
    assert_eq!(allowed["data"], "done");
}

#[tokio::test]
async fn a_guard_that_errors_answers_its_error_and_the_handler_does_not_run() {
    let (server, runs) = secure_app().await;
    let mut client = connect_as(&server, "ann:admin").await;
    let answer = client.request(1, "failing", Value::Null).await;
    assert_eq!(
        answer,
        json!({"ack": 1, "error": {"status": "error", "message": "permission service unavailable"}})
    );
    assert_eq!(runs.0.load(Ordering::SeqCst), 0);
    nestgate_tests::assert_alive(&mut server.client("/open").await).await;
}

// ---------------------------------------------------------------------------------------------
// Validation.

#[derive(Debug, serde::Deserialize, Validate)]
struct SignUp {
    #[validate(length(min = 1, max = 8, message = "1 to 8 characters"))]
    name: String,
    #[validate(range(min = 13))]
    age: u32,
    #[validate(nested)]
    address: Address,
}

#[derive(Debug, serde::Deserialize, Validate)]
struct Address {
    #[validate(length(min = 2))]
    city: String,
}

#[derive(Debug, serde::Deserialize)]
struct Join {
    #[allow(dead_code)]
    room: String,
}

#[websocket_gateway(path = "/forms")]
#[derive(Default)]
struct Forms;

#[websocket_gateway]
impl Forms {
    #[subscribe_message("sign_up")]
    fn sign_up(&self, Valid(form): Valid<SignUp>) -> String {
        format!("welcome {}", form.name)
    }

    #[subscribe_message("join")]
    fn join(&self, Data(_join): Data<Join>) -> &'static str {
        "joined"
    }
}

#[tokio::test]
async fn a_data_error_names_the_field() {
    let server = serve(App::bare().gateway::<Forms>()).await;
    let mut client = server.client("/forms").await;
    let answer = client.request(1, "join", json!({"room": 5})).await;
    assert_eq!(
        answer["error"],
        json!({"status": "error", "message": "Validation failed", "errors": [
            {"field": "room", "rule": "type", "message": "room must be a string"},
        ]})
    );
    let answer = client.request(2, "sign_up", json!({"name": "x"})).await;
    assert_eq!(
        answer["error"]["errors"],
        json!([{"field": "age", "rule": "required", "message": "age is required"}])
    );
}

#[tokio::test]
async fn a_validation_error_lists_every_failed_field_and_rule() {
    let server = serve(App::bare().gateway::<Forms>()).await;
    let mut client = server.client("/forms").await;
    let answer = client
        .request(
            1,
            "sign_up",
            json!({"name": "", "age": 9, "address": {"city": "X"}}),
        )
        .await;
    assert_eq!(
        answer,
        json!({"ack": 1, "error": {
            "status": "error",
            "message": "Validation failed",
            "errors": [
                {"field": "address.city", "rule": "length", "message": "city must be at least 2 characters long",
                 "params": {"min": 2, "value": "X"}},
                {"field": "age", "rule": "range", "message": "age must be at least 13",
                 "params": {"min": 13, "value": 9}},
                {"field": "name", "rule": "length", "message": "1 to 8 characters",
                 "params": {"min": 1, "max": 8, "value": ""}},
            ],
        }})
    );
    // Without an id: the same object as the exception frame's data.
    client
        .emit(
            "sign_up",
            json!({"name": "ann", "age": 20, "address": {"city": "X"}}),
        )
        .await;
    let frame = client.recv().await;
    assert_eq!(frame["event"], "exception");
    assert_eq!(frame["data"]["errors"][0]["field"], "address.city");
    let ok = client
        .request(
            2,
            "sign_up",
            json!({"name": "ann", "age": 20, "address": {"city": "Oslo"}}),
        )
        .await;
    assert_eq!(ok, json!({"ack": 2, "data": "welcome ann"}));
}

// ---------------------------------------------------------------------------------------------
// Layers.

/// A layer of our own: counts the messages it sees and the replies they got.
#[derive(Clone)]
struct CountLayer(Arc<AtomicU64>);

impl<S> tower::Layer<S> for CountLayer {
    type Service = CountService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountService {
            inner,
            seen: self.0.clone(),
        }
    }
}

struct CountService<S> {
    inner: S,
    seen: Arc<AtomicU64>,
}

impl<S: tower::Service<nestgate::extract::Message>> tower::Service<nestgate::extract::Message>
    for CountService<S>
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, message: nestgate::extract::Message) -> Self::Future {
        assert_eq!(
            message.parts().event(),
            "slow",
            "only the gateway's handler is wrapped"
        );
        self.seen.fetch_add(1, Ordering::SeqCst);
        self.inner.call(message)
    }
}

#[websocket_gateway(path = "/layers")]
#[derive(Default)]
struct Layered;

static SEEN: std::sync::LazyLock<Arc<AtomicU64>> = std::sync::LazyLock::new(Default::default);

#[websocket_gateway]
impl Layered {
    #[subscribe_message("slow")]
    #[use_layers(
        CountLayer(SEEN.clone()),
        tower::timeout::TimeoutLayer::new(Duration::from_millis(100))
    )]
    async fn slow(&self, Data(ms): Data<u64>) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    #[subscribe_message("one_at_a_time")]
    #[use_layers(tower::limit::ConcurrencyLimitLayer::new(1))]
    async fn one_at_a_time(&self, State(running): State<Running>) -> u64 {
        let now = running.0.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        running.0.fetch_sub(1, Ordering::SeqCst);
        now
    }

    #[subscribe_message("limited")]
    #[use_layers(
        tower::load_shed::LoadShedLayer::new(),
        tower::limit::RateLimitLayer::new(2, Duration::from_millis(400))
    )]
    fn limited(&self) -> &'static str {
        "ok"
    }
}

#[derive(Clone, Default)]
struct Running(Arc<AtomicU64>);

#[tokio::test]
async fn tower_concurrency_limit_runs_one_handler_at_a_time_across_clients() {
    let server = serve(App::bare().provide(Running::default()).gateway::<Layered>()).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(server.client("/layers").await);
    }
    let answers = futures_util::future::join_all(
        clients
            .iter_mut()
            .map(|client| client.request(1, "one_at_a_time", Value::Null)),
    )
    .await;
    for answer in answers {
        assert_eq!(answer["data"], 1, "never two at once: {answer}");
    }
}

#[tokio::test]
async fn tower_timeout_answers_an_error_and_the_connection_goes_on() {
    let server = serve(App::bare().provide(Running::default()).gateway::<Layered>()).await;
    let mut client = server.client("/layers").await;
    assert_eq!(
        client.request(1, "slow", json!(10)).await,
        json!({"ack": 1, "data": 10})
    );
    let answer = client.request(2, "slow", json!(1000)).await;
    assert_eq!(answer["error"]["message"], "request timed out");
    assert_eq!(client.request(3, "slow", json!(1)).await["data"], 1);
    assert!(SEEN.load(Ordering::SeqCst) >= 3);
}

#[tokio::test]
async fn a_rate_limited_client_is_answered_at_once_and_served_after_the_window() {
    let server = serve(App::bare().provide(Running::default()).gateway::<Layered>()).await;
    let mut client = server.client("/layers").await;
    let mut answers = Vec::new();
    for id in 1..=5 {
        answers.push(client.request(id, "limited", Value::Null).await);
    }
    let ok = answers.iter().filter(|a| a["data"] == "ok").count();
    let shed = answers
        .iter()
        .filter(|a| a["error"]["message"] == "service overloaded")
        .count();
    assert_eq!((ok, shed), (2, 3), "{answers:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        client.request(6, "limited", Value::Null).await["data"],
        "ok"
    );
}

// ---------------------------------------------------------------------------------------------
// Exception filters.

#[derive(Debug, thiserror::Error)]
enum ShopError {
    #[error("out of stock: {0}")]
    OutOfStock(String),
    #[error("closed")]
    Closed,
}

/// A plain `std::error::Error`, with no `Into<WsException>`.
#[derive(Debug, thiserror::Error)]
#[error("database down")]
struct DbError;

fn shop_filter(error: ShopError, host: &ErrorHost<'_>) -> WsException {
    match error {
        ShopError::OutOfStock(item) => WsException::with_data(json!({
            "status": "error", "code": "OUT_OF_STOCK", "item": item, "event": host.event(),
        })),
        ShopError::Closed => WsException::new("the shop is closed"),
    }
}

fn shouting_filter(exception: WsException, _host: &ErrorHost<'_>) -> WsException {
    WsException::new(exception.message().unwrap_or("?").to_uppercase())
}

#[websocket_gateway(path = "/shop")]
#[derive(Default)]
struct Shop;

#[websocket_gateway]
#[use_filters(|_: ShopError, _: &ErrorHost<'_>| WsException::new("gateway filter"))]
impl Shop {
    #[subscribe_message("buy")]
    #[use_filters(shop_filter)]
    fn buy(&self, Data(item): Data<String>) -> Result<String, ShopError> {
        if item == "bread" {
            Err(ShopError::Closed)
        } else {
            Err(ShopError::OutOfStock(item))
        }
    }

    #[subscribe_message("sell")]
    fn sell(&self) -> Result<(), ShopError> {
        Err(ShopError::Closed)
    }

    #[subscribe_message("query")]
    fn query(&self) -> Result<(), DbError> {
        Err(DbError)
    }

    #[subscribe_message("plain")]
    fn plain(&self) -> Result<(), WsException> {
        Err(WsException::new("plain error"))
    }

    #[on_connection]
    fn on_connection(&self, socket: Socket) -> Result<(), ShopError> {
        if socket.handshake().query("closed").is_some() {
            return Err(ShopError::Closed);
        }
        Ok(())
    }
}

#[tokio::test]
async fn filters_turn_user_errors_into_chosen_frames_handler_first_then_gateway() {
    let server = serve(App::bare().gateway::<Shop>()).await;
    let mut client = server.client("/shop").await;
    let answer = client.request(1, "buy", json!("milk")).await;
    assert_eq!(
        answer,
        json!({"ack": 1, "error": {"status": "error", "code": "OUT_OF_STOCK", "item": "milk", "event": "buy"}})
    );
    client.emit("buy", json!("bread")).await;
    let frame = client.recv().await;
    assert_eq!(frame["data"]["message"], "the shop is closed");
    assert_eq!(
        frame["data"]["cause"],
        json!({"pattern": "buy", "data": "bread"})
    );
    // `sell` has no filter of its own: the gateway's catches `ShopError`.
    assert_eq!(
        client.request(2, "sell", Value::Null).await["error"]["message"],
        "gateway filter"
    );
    // No filter for `DbError`, which has no `Into<WsException>`: an internal error.
    assert_eq!(
        client.request(3, "query", Value::Null).await["error"]["message"],
        "Internal server error"
    );
}

#[tokio::test]
async fn a_global_filter_for_ws_exception_sees_every_error_left_over() {
    let server = serve(
        App::bare()
            .gateway::<Shop>()
            .exception_filter(shouting_filter),
    )
    .await;
    let mut client = server.client("/shop").await;
    assert_eq!(
        client.request(1, "plain", Value::Null).await["error"]["message"],
        "PLAIN ERROR"
    );
    assert_eq!(
        client.request(2, "query", Value::Null).await["error"]["message"],
        "INTERNAL SERVER ERROR"
    );
    // Caught by the handler's filter first: the global one does not see it.
    assert_eq!(
        client.request(3, "buy", json!("milk")).await["error"]["code"],
        "OUT_OF_STOCK"
    );
    // Frames that reach no handler go through it too.
    assert_eq!(
        client.request(4, "nope", Value::Null).await["error"]["message"],
        "UNKNOWN EVENT 'NOPE'"
    );
}

#[tokio::test]
async fn connection_hook_errors_go_through_the_filters() {
    let server = serve(App::bare().gateway::<Shop>()).await;
    let mut client = TestClient::connect(&format!("{}?closed", server.url("/shop")))
        .await
        .expect("the upgrade succeeds; the hook rejects afterwards");
    let frame = client.recv().await;
    assert_eq!(frame["data"]["message"], "gateway filter");
    assert_eq!(
        client.closed().await,
        nestgate::testing::Closed::Frame(1008, "gateway filter".into())
    );
}
