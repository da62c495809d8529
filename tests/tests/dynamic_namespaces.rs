//! Dynamic namespaces (`path = "/tenant/{id}"`) over real sockets: only a client that passed
//! every check makes one, a namespace goes with its last user, the cap is a setting, and a
//! socket never lands in a namespace that is gone.

use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::App;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate::testing::TestClient;
use nestgate_tests::{TestServer, assert_alive, serve};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// Lets in clients with `?key=open` (ws-json) or `auth.key == "open"` (Socket.IO).
struct Key;

impl HandshakeGuard for Key {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let from_auth = request
            .auth()
            .and_then(|auth| auth.get("key"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match from_auth.or_else(|| request.query("key")).as_deref() {
            Some("open") => Ok(()),
            _ => Err(HandshakeRejection::unauthorized("key required")),
        }
    }
}

#[websocket_gateway(path = "/tenant/{id}", handshake_guards(Key))]
#[derive(Debug, Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    /// Tells every socket of this tenant; answers how many there are.
    #[subscribe_message("shout")]
    async fn shout(&self, server: Server) -> Result<usize, WsException> {
        server.emit("shouted", "hi")?;
        Ok(server.sockets_count().await?)
    }
}

fn app() -> App {
    App::bare()
        .gateway::<Tenant>()
        .socket_io(SocketIoConfig::default())
}

async fn tenant(server: &TestServer, id: &str) -> Result<TestClient, tungstenite::Error> {
    TestClient::connect(&server.url(&format!("/tenant/{id}?key=open"))).await
}

/// Waits (up to 5 s) until the app holds `count` dynamic namespaces.
async fn settles_at(server: &TestServer, count: usize) {
    for _ in 0..100 {
        if server.handle().dynamic_namespaces() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} dynamic namespaces, expected {count}",
        server.handle().dynamic_namespaces()
    );
}

/// Sends `requests` on one keep-alive connection, 100 at a time, and returns their statuses.
async fn pipelined(server: &TestServer, requests: &[String]) -> Vec<u16> {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let mut statuses = Vec::new();
    let mut pending = String::new();
    for batch in requests.chunks(100) {
        stream.write_all(batch.concat().as_bytes()).await.unwrap();
        let want = statuses.len() + batch.len();
        let mut buf = vec![0; 64 * 1024];
        while statuses.len() < want {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
                .await
                .expect("answers within 10 s")
                .unwrap();
            assert!(n > 0, "the server closed the connection");
            pending.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(start) = pending.find("HTTP/1.1 ") {
                let Some(status) = pending.get(start + 9..start + 12) else {
                    break;
                };
                statuses.push(status.parse().unwrap());
                pending.drain(..start + 12);
            }
        }
    }
    statuses
}

#[tokio::test]
async fn plain_gets_and_refused_handshakes_make_no_namespace() {
    let server = serve(app().max_dynamic_namespaces(100)).await;
    // 10,001 plain GETs (no upgrade headers) to distinct tenants: every one refused, none
    // makes a namespace, so the cap (100 here, 10,000 by default) is never reached.
    let requests: Vec<String> = (0..=10_000)
        .map(|n| format!("GET /tenant/{n} HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        .collect();
    let statuses = pipelined(&server, &requests).await;
    assert_eq!(statuses.len(), 10_001);
    assert!(
        statuses.iter().all(|status| matches!(status, 400 | 426)),
        "{:?}",
        statuses.iter().find(|status| !matches!(status, 400 | 426))
    );
    assert_eq!(server.handle().dynamic_namespaces(), 0);

    // Upgrades the guard refuses make none either, nor a bad Origin.
    for n in 0..200 {
        let refused = TestClient::connect(&server.url(&format!("/tenant/g{n}"))).await;
        match refused {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected 401, got {other:?}"),
        }
    }
    let request = nestgate::testing::handshake_request(
        &server.url("/tenant/o?key=open"),
        &[("origin", "https://evil.example")],
    );
    assert_eq!(TestClient::refused(request).await.0, 403);
    // Nor Socket.IO CONNECTs the guard refuses.
    let mut raw = RawSocketIo::connect(&server).await;
    for n in 0..200 {
        let answer = raw.join(&format!("/tenant/s{n}"), "wrong").await;
        assert!(answer.starts_with("44/tenant/s"), "{answer}");
    }
    assert_eq!(server.handle().dynamic_namespaces(), 0);

    // A new tenant then connects.
    let mut client = tenant(&server, "new").await.expect("a new tenant connects");
    assert_alive(&mut client).await;
    assert_eq!(server.handle().dynamic_namespaces(), 1);
    let answer = raw.join("/tenant/new", "open").await;
    assert!(answer.starts_with("40/tenant/new,"), "{answer}");
    assert_eq!(server.handle().dynamic_namespaces(), 1);
}

#[tokio::test]
async fn a_namespace_goes_with_its_last_socket() {
    let server = serve(app()).await;
    for n in 0..100 {
        if n % 2 == 0 {
            let mut client = tenant(&server, &format!("t{n}")).await.unwrap();
            assert_alive(&mut client).await;
            client.close().await;
        } else {
            let mut raw = RawSocketIo::connect(&server).await;
            let answer = raw.join(&format!("/tenant/t{n}"), "open").await;
            assert!(answer.starts_with("40/"), "{answer}");
            raw.ws.close(None).await.unwrap();
        }
    }
    settles_at(&server, 0).await;
}

#[tokio::test]
async fn max_dynamic_namespaces_caps_the_namespaces_in_use() {
    let server = serve(app().max_dynamic_namespaces(3)).await;
    let mut held = Vec::new();
    for n in 0..3 {
        held.push(tenant(&server, &format!("c{n}")).await.unwrap());
    }
    // A second socket on a tenant in use needs no new namespace.
    let mut same = tenant(&server, "c0").await.unwrap();
    assert_alive(&mut same).await;
    match tenant(&server, "c3").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
    let mut raw = RawSocketIo::connect(&server).await;
    assert_eq!(
        raw.join("/tenant/c3", "open").await,
        r#"44/tenant/c3,{"message":"Invalid namespace"}"#
    );
    // When a tenant's last socket leaves, its slot is free again.
    held.pop().unwrap().close().await;
    settles_at(&server, 2).await;
    let mut fourth = tenant(&server, "c3").await.expect("a slot was freed");
    assert_alive(&mut fourth).await;
}

/// A tenant's last socket leaves while a new one connects, so its namespace is dropped as the
/// newcomer looks it up: the newcomer must end up in the namespace later sockets join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_socket_lands_in_a_namespace_that_is_gone() {
    let server = serve(app()).await;
    for round in 0..50 {
        let id = format!("race{round}");
        let mut leaving = tenant(&server, &id).await.unwrap();
        assert_alive(&mut leaving).await;
        // Until the server answers its close frame: it has then read it, and the socket leaves
        // the namespace in the same step. (Only sending it left the server free to read it after
        // the shout below, under load: 1 run in 40 counted the leaving socket.)
        let leave = tokio::spawn(async move {
            leaving.close().await;
            leaving.closed().await;
        });
        let mut newcomer = tenant(&server, &id).await.unwrap();
        leave.await.unwrap();
        let mut later = tenant(&server, &id).await.unwrap();
        // A socket is in its namespace once it is answered (the 101 comes a moment before).
        assert_alive(&mut newcomer).await;
        assert_alive(&mut later).await;
        // (`request` skips the shout that reaches the shouter before its answer.)
        let answer = newcomer.request(1, "shout", Value::Null).await;
        assert_eq!(answer["data"], 2, "round {round}: {answer}");
        assert_eq!(later.recv().await["event"], "shouted", "round {round}");
    }
    settles_at(&server, 0).await;
}

/// A raw Engine.IO/Socket.IO client over a WebSocket.
struct RawSocketIo {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
}

impl RawSocketIo {
    async fn connect(server: &TestServer) -> Self {
        let url = server.url("/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut raw = RawSocketIo { ws };
        let open = raw.recv().await;
        assert!(open.starts_with("0{"), "{open}");
        raw
    }

    async fn recv(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("the session is open")
                .expect("a frame");
            match message {
                Message::Text(text) if text.as_str() == "2" => {
                    self.ws.send(Message::text("3")).await.unwrap();
                }
                Message::Text(text) => return text.as_str().to_owned(),
                _ => {}
            }
        }
    }

    /// CONNECTs to `nsp` with `{"key": key}` and returns the answer.
    async fn join(&mut self, nsp: &str, key: &str) -> String {
        let connect = format!(r#"40{nsp},{{"key":"{key}"}}"#);
        self.ws.send(Message::text(connect)).await.unwrap();
        self.recv().await
    }
}
