//! App assembly: explicit and discovered registration, shared paths, duplicate events, and
//! mounting into an existing axum router.

use axum::routing::get;
use nestgate::prelude::*;
use nestgate::{App, Error};
use nestgate_tests::serve;
use serde_json::{Value, json};

#[websocket_gateway(path = "/shared")]
#[derive(Debug, Default)]
struct First;

#[websocket_gateway]
impl First {
    #[subscribe_message("first")]
    fn first(&self) -> &'static str {
        "one"
    }

    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

#[websocket_gateway(path = "/shared")]
#[derive(Debug, Default)]
struct Second;

#[websocket_gateway]
impl Second {
    #[subscribe_message("second")]
    fn second(&self) -> &'static str {
        "two"
    }
}

#[websocket_gateway(path = "/shared")]
#[derive(Debug, Default)]
struct Clash;

#[websocket_gateway]
impl Clash {
    #[subscribe_message("first")]
    fn also_first(&self) -> &'static str {
        "clash"
    }
}

#[websocket_gateway(path = "/elsewhere")]
#[derive(Debug, Default)]
struct Elsewhere;

#[websocket_gateway]
impl Elsewhere {
    #[subscribe_message("first")]
    fn first(&self, server: Server) -> Option<usize> {
        // Reach another path's server from a handler.
        server
            .of("/shared")
            .map(|shared| shared.local_socket_count())
    }
}

#[tokio::test]
async fn gateways_on_one_path_share_the_connection() {
    let server = serve(App::bare().gateway::<First>().gateway::<Second>()).await;
    let mut client = server.client("/shared").await;
    client.emit("first", Value::Null).await;
    assert_eq!(client.recv().await, json!("one"));
    client.emit("second", Value::Null).await;
    assert_eq!(client.recv().await, json!("two"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_same_event_twice_on_one_path_fails_at_startup_naming_both() {
    let err = App::bare()
        .gateway::<First>()
        .gateway::<Clash>()
        .into_router()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateEvent { .. }));
    assert_eq!(
        err.to_string(),
        "event \"first\" on path \"/shared\" is handled twice: by Clash::also_first and by First::first"
    );
    // On another path the same event is fine.
    let server = serve(App::bare().gateway::<First>().gateway::<Elsewhere>()).await;
    let _shared = server.client("/shared").await;
    let mut client = server.client("/elsewhere").await;
    client.emit("first", Value::Null).await;
    assert_eq!(client.recv().await, json!(1));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn registering_a_gateway_twice_is_an_error() {
    let err = App::bare()
        .gateway::<First>()
        .gateway::<First>()
        .into_router()
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "gateway First is registered twice");
}

#[tokio::test]
async fn app_new_discovers_linked_gateways_through_inventory() {
    // Every gateway of this test binary is linked, so discovery finds the clash too.
    let err = App::new().into_router().await.unwrap_err();
    assert!(err.to_string().contains("is handled twice"), "{err}");
}

#[tokio::test]
async fn gateways_mount_inside_an_existing_axum_router() {
    let app = App::bare().gateway::<First>();
    let handle = app.handle();
    let router = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(app.into_router().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut client = nestgate::testing::TestClient::connect(&format!("ws://{addr}/shared"))
        .await
        .unwrap();
    client.emit("first", Value::Null).await;
    assert_eq!(client.recv().await, json!("one"));

    // Emit from outside any handler, through the handle.
    handle
        .server("/shared")
        .unwrap()
        .emit("news", "from a route")
        .unwrap();
    assert_eq!(
        client.recv().await,
        json!({"event": "news", "data": "from a route"})
    );

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(b"GET /health HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.0 200") && response.ends_with("ok"),
        "{response}"
    );

    handle.shutdown();
    handle.wait_closed().await;
}
