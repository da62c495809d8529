//! Metrics over real sockets, scraped from `/metrics` over HTTP (`App::metrics_endpoint`):
//! known traffic — connections, 100 messages of two events, each kind of handler error, a
//! refused handshake, a slow consumer — gives exact counter values, and a flood of random
//! event names leaves the label set bounded.

use nestgate::App;
use nestgate::extract::Valid;
use nestgate::guard::{Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use validator::Validate;

/// Refuses `?deny`.
struct Doorman;

impl HandshakeGuard for Doorman {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        match request.query("deny") {
            Some(_) => Err(HandshakeRejection::unauthorized("denied")),
            None => Ok(()),
        }
    }
}

/// Refuses every message.
struct Never;

impl Guard for Never {
    async fn can_activate(&self, _context: &GuardContext) -> Result<bool, WsException> {
        Ok(false)
    }
}

#[derive(serde::Deserialize, Validate)]
struct Named {
    #[validate(length(min = 1))]
    name: String,
}

#[websocket_gateway(path = "/m", handshake_guards(Doorman))]
#[derive(Default)]
struct Measured;

#[websocket_gateway]
impl Measured {
    #[subscribe_message("a")]
    fn a(&self) -> u32 {
        1
    }

    #[subscribe_message("b")]
    fn b(&self) -> Result<u32, WsException> {
        Err(WsException::new("no b"))
    }

    #[subscribe_message("guarded")]
    #[use_guards(Never)]
    fn guarded(&self) -> u32 {
        2
    }

    #[subscribe_message("named")]
    fn named(&self, Valid(named): Valid<Named>) -> String {
        named.name
    }

    #[subscribe_message("boom")]
    fn boom(&self) -> u32 {
        panic!("boom")
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) {
        socket.join(room);
    }

    /// Asks the client, which never answers, with a 100 ms timeout.
    #[subscribe_message("ask")]
    async fn ask(&self, socket: Socket) -> bool {
        socket
            .emit_with_ack_timeout::<_, Value>("question", &(), Duration::from_millis(100))
            .await
            .is_err()
    }

    /// Sends `n` volatile frames of 1 KiB to this socket at once.
    #[subscribe_message("vflood")]
    fn vflood(
        &self,
        socket: Socket,
        server: Server,
        Data(n): Data<usize>,
    ) -> Result<(), WsException> {
        let text = "x".repeat(1024);
        for _ in 0..n {
            server.to(socket.id()).volatile().emit("flooded", &text)?;
        }
        Ok(())
    }

    /// Sends `n` frames of 1 KiB to this socket at once.
    #[subscribe_message("flood")]
    fn flood(&self, socket: Socket, Data(n): Data<usize>) {
        let text = "x".repeat(1024);
        for _ in 0..n {
            if socket.emit("flooded", &text).is_err() {
                break;
            }
        }
    }
}

/// The whole response to `GET <path>`, over a connection of its own.
async fn http_get(server: &TestServer, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Every sample of the scrape: `name{labels}` → value.
async fn scrape(server: &TestServer) -> BTreeMap<String, f64> {
    let response = http_get(server, "/metrics").await;
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain"), "{head}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (sample, value) = line.rsplit_once(' ')?;
            Some((sample.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn get(samples: &BTreeMap<String, f64>, sample: &str) -> f64 {
    *samples
        .get(sample)
        .unwrap_or_else(|| panic!("no sample {sample}; the scrape has: {samples:#?}"))
}

#[tokio::test]
async fn known_traffic_gives_exact_counters_and_the_labels_stay_bounded() {
    let server = serve(
        App::bare()
            .gateway::<Measured>()
            .outbound_queue(64)
            .handshake_timeout(Duration::from_millis(300))
            .socket_io(nestgate::socketio::SocketIoConfig::default())
            .metrics_endpoint("/metrics"),
    )
    .await;
    let mut ann = server.client("/m").await;
    let mut bob = server.client("/m").await;
    for n in 0..60 {
        ann.request(n, "a", json!(null)).await;
    }
    for n in 0..40 {
        bob.request(n, "b", json!(null)).await;
    }
    ann.request(100, "guarded", json!(null)).await;
    ann.request(101, "named", json!({"name": ""})).await;
    ann.request(102, "boom", json!(null)).await;
    ann.request(103, "nope", json!(null)).await;
    ann.send_text("not json").await;
    ann.recv().await;
    // A refused handshake.
    let refused = nestgate::testing::TestClient::connect(&server.url("/m?deny")).await;
    assert!(refused.is_err());
    // A slow consumer: 1,000 frames at once for a queue of 64, never read.
    let mut slow = server.client("/m").await;
    slow.emit("flood", json!(1000)).await;
    let closed = slow.closed().await;
    assert!(
        matches!(closed, nestgate::testing::Closed::Frame(1013, _)),
        "{closed:?}"
    );
    // A client that leaves.
    bob.close().await;
    // A flood of event names no handler has.
    for n in 0..300 {
        ann.emit(&format!("random-{n}-{}", n * 7919), json!(null))
            .await;
        let answer = ann.recv().await;
        assert_eq!(answer["event"], "exception", "{answer}");
    }
    ann.request(200, "a", json!(null)).await;
    // Rooms, an ack nobody answers, volatile frames dropped for a client that does not read.
    ann.request(300, "join", json!("lobby")).await;
    // The answer comes after the question (kept for `recv`), once the ack timed out.
    assert_eq!(ann.request(301, "ask", json!(null)).await["data"], true);
    assert_eq!(ann.recv().await["event"], "question");
    let mut deaf = server.client("/m").await;
    deaf.emit("vflood", json!(1000)).await;
    // And one over Socket.IO.
    let mut cy = server.socket_io("/m").await;
    assert_eq!(cy.emit_with_ack("a", json!(null)).await, [json!(1)]);
    // An Engine.IO session opened on polling and upgraded to WebSocket, by hand.
    let upgraded = upgrade(&server).await;
    // A TCP connection that never sends its request head, and a request with no Host.
    let mut silent = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut hostless = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    hostless
        .write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    hostless.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 400");
    // Closed by the handshake timeout.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest)).await;
    // And a Socket.IO client on long-polling, connected only.
    let _dee = nestgate::testing::SocketIoClient::connect_with(
        &server.url("/m"),
        None,
        nestgate::testing::Transport::Polling,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let samples = scrape(&server).await;
    let received = |event: &str| {
        get(
            &samples,
            &format!(r#"nestgate_messages_received_total{{path="/m",event="{event}"}}"#),
        )
    };
    assert_eq!(received("a"), 62.0);
    assert_eq!(received("b"), 40.0);
    assert_eq!(received("guarded"), 1.0);
    assert_eq!(received("named"), 1.0);
    assert_eq!(received("boom"), 1.0);
    assert_eq!(received("flood"), 1.0);
    assert_eq!(received("<unknown>"), 301.0);
    let errors = |event: &str, kind: &str| {
        get(
            &samples,
            &format!(r#"nestgate_handler_errors_total{{path="/m",event="{event}",kind="{kind}"}}"#),
        )
    };
    assert_eq!(errors("b", "exception"), 40.0);
    assert_eq!(errors("guarded", "guard"), 1.0);
    assert_eq!(errors("named", "validation"), 1.0);
    assert_eq!(errors("boom", "panic"), 1.0);
    assert_eq!(errors("<unknown>", "unknown_event"), 301.0);
    assert_eq!(errors("<none>", "invalid_frame"), 1.0);
    // ann and deaf are still connected (ws-json); bob left, slow was closed; cy and dee on
    // Socket.IO. Every handled message is timed.
    let exact = [
        (
            r#"nestgate_connections_accepted_total{path="/m",transport="ws-json"}"#,
            4.0,
        ),
        (
            r#"nestgate_connections_open{path="/m",transport="ws-json"}"#,
            2.0,
        ),
        (
            r#"nestgate_connections_accepted_total{path="/m",transport="socket.io"}"#,
            2.0,
        ),
        (
            r#"nestgate_connections_open{path="/m",transport="socket.io"}"#,
            2.0,
        ),
        (
            r#"nestgate_connections_rejected_total{path="/m",reason="guard",status="401"}"#,
            1.0,
        ),
        (
            r#"nestgate_disconnects_total{path="/m",reason="client_close"}"#,
            1.0,
        ),
        (
            r#"nestgate_disconnects_total{path="/m",reason="slow_consumer"}"#,
            1.0,
        ),
        (
            r#"nestgate_handler_duration_seconds_count{path="/m",event="a"}"#,
            62.0,
        ),
    ];
    // The slow consumer's queue filled up to its bound (64 frames) before it was closed.
    assert_eq!(
        get(&samples, r#"nestgate_outbound_queue_high_water{path="/m"}"#),
        64.0
    );
    for (sample, value) in exact {
        assert_eq!(get(&samples, sample), value, "{sample}");
    }
    assert!(get(&samples, r#"nestgate_messages_sent_total{path="/m"}"#) >= 100.0);
    // ann, deaf (volatile frames close nobody) and the two Socket.IO clients.
    assert_eq!(get(&samples, r#"nestgate_sockets{path="/m"}"#), 4.0);
    let engine = |transport: &str| {
        get(
            &samples,
            &format!(r#"nestgate_engineio_sessions{{transport="{transport}"}}"#),
        )
    };
    // cy's and the upgraded one on WebSocket, dee's on polling.
    assert_eq!((engine("websocket"), engine("polling")), (2.0, 1.0));
    assert_eq!(get(&samples, "nestgate_engineio_upgrades_total"), 1.0);
    let refused = |reason: &str| {
        get(
            &samples,
            &format!(r#"nestgate_connections_refused_total{{reason="{reason}"}}"#),
        )
    };
    assert_eq!(refused("handshake_timeout"), 1.0);
    assert_eq!(refused("host_header"), 1.0);
    assert_eq!(refused("fd_limit"), 0.0);
    drop(upgraded);
    assert_eq!(get(&samples, r#"nestgate_rooms{path="/m"}"#), 1.0);
    assert_eq!(
        get(&samples, r#"nestgate_ack_timeouts_total{path="/m"}"#),
        1.0
    );
    let dropped = get(&samples, r#"nestgate_volatile_drops_total{path="/m"}"#);
    assert!(dropped > 0.0 && dropped < 1000.0, "{dropped}");

    // Bounded: the event label holds the path's handlers (with the built-in `nestgate:refresh`
    // of a guarded path) and the two markers, nothing a client chose.
    let events: std::collections::BTreeSet<&str> = samples
        .keys()
        .filter_map(|sample| sample.split("event=\"").nth(1)?.split('"').next())
        .collect();
    let allowed = [
        "a",
        "b",
        "guarded",
        "named",
        "boom",
        "flood",
        "join",
        "ask",
        "vflood",
        "nestgate:refresh",
        "<unknown>",
        "<none>",
    ];
    assert!(
        events.iter().all(|event| allowed.contains(event)),
        "{events:?}"
    );
    server.shutdown().await.unwrap();
}

/// An Engine.IO session opened on polling and upgraded to WebSocket: the open packet with a
/// GET, then the probe over a WebSocket of the same session, then the upgrade packet.
async fn upgrade(
    server: &TestServer,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let response = http_get(server, "/socket.io/?EIO=4&transport=polling").await;
    let start = response
        .find("0{")
        .unwrap_or_else(|| panic!("no open packet: {response}"));
    let open = &response[start + 1..];
    let open: Value = serde_json::from_str(&open[..=open.find('}').unwrap()]).unwrap();
    let sid = open["sid"].as_str().unwrap();
    let url = server.url(&format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text("2probe")).await.unwrap();
    let probe = ws.next().await.unwrap().unwrap();
    assert_eq!(probe.to_text().unwrap(), "3probe");
    ws.send(Message::text("5")).await.unwrap();
    ws
}

#[tokio::test]
async fn without_a_recorder_nothing_is_served() {
    let server = serve(App::bare().gateway::<Measured>()).await;
    let mut ann = server.client("/m").await;
    ann.request(1, "a", json!(null)).await;
    let response = http_get(&server, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_over_the_cap_is_counted() {
    let server = serve(
        App::bare()
            .gateway::<Measured>()
            .max_connections(2)
            .metrics_endpoint("/metrics"),
    )
    .await;
    let _ann = server.client("/m").await;
    // The second of these is over the cap: 503.
    let _held = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut answer = [0u8; 12];
    over.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 503");
    drop(_held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let samples = scrape(&server).await;
    assert_eq!(
        get(
            &samples,
            r#"nestgate_connections_refused_total{reason="connection_cap"}"#
        ),
        1.0
    );
    server.shutdown().await.unwrap();
}
