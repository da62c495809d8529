//! What a client may open before any handler runs, over real loopback sockets: the size of a
//! request head (431), connections in all and per address (503), the `Host` names of a server
//! bound to loopback (403, DNS rebinding) and exactly one `Host` per request (400).

use nestgate::App;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate::testing::TestClient;
use nestgate_tests::{TestServer, assert_alive, serve};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Door;

#[websocket_gateway]
impl Door {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    /// Joins `count` rooms named `{prefix}{n}`; answers how many rooms the socket is in.
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data((prefix, count)): Data<(String, usize)>) -> usize {
        let rooms: Vec<String> = (0..count).map(|n| format!("{prefix}{n}")).collect();
        socket.join(rooms);
        socket.rooms().len()
    }

    /// The same, all or nothing.
    #[subscribe_message("try_join")]
    fn try_join(
        &self,
        socket: Socket,
        Data((prefix, count)): Data<(String, usize)>,
    ) -> Result<usize, WsException> {
        let rooms: Vec<String> = (0..count).map(|n| format!("{prefix}{n}")).collect();
        socket
            .try_join(rooms)
            .map_err(|refused| WsException::new(refused.to_string()))?;
        Ok(socket.rooms().len())
    }

    #[subscribe_message("in_room")]
    fn in_room(&self, socket: Socket, Data(room): Data<String>) -> bool {
        socket.in_room(&room)
    }
}

/// Sends a raw request and returns the status and the body (or what came of it).
async fn exchange(server: &TestServer, request: &str) -> (u16, String) {
    exchange_at(server.addr(), request).await
}

async fn exchange_at(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("writes the request");
    let mut response = Vec::new();
    let mut buf = [0; 4096];
    // Up to the end of the head and what follows in the same reads (a 101 sends no body).
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A WebSocket upgrade of `path` with these extra header lines (each ending in `\r\n`).
fn upgrade(path: &str, host: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn a_request_head_over_max_header_size_gets_431() {
    let server = serve(App::bare().gateway::<Door>()).await;
    let host = server.addr().to_string();
    let big = format!("X-Filler: {}\r\n", "a".repeat(20 * 1024));
    assert_eq!(exchange(&server, &upgrade("/", &host, &big)).await.0, 431);
    // A head that never ends is refused as soon as it passes the bound (hyper would otherwise
    // buffer about 400 KB of it until the handshake timeout).
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let request = upgrade("/", &host, &big);
    let unfinished = request.trim_end_matches("\r\n");
    for chunk in unfinished.as_bytes().chunks(1000) {
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    let mut head = vec![0; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("refused before the handshake timeout")
        .unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );

    let cookies = format!("Cookie: session={}\r\n", "c".repeat(8 * 1024));
    assert_eq!(
        exchange(&server, &upgrade("/", &host, &cookies)).await.0,
        101
    );

    // The bound moves.
    let roomy = serve(App::bare().gateway::<Door>().max_header_size(64 * 1024)).await;
    let host = roomy.addr().to_string();
    assert_eq!(exchange(&roomy, &upgrade("/", &host, &big)).await.0, 101);
}

#[tokio::test]
async fn a_request_needs_exactly_one_host() {
    let health = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let server = serve(App::bare().gateway::<Door>().merge(health)).await;
    let host = server.addr().to_string();
    let none = "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_eq!(
        exchange(&server, none).await,
        (400, "no Host header".into())
    );
    let two = upgrade("/", &host, "Host: other.example\r\n");
    assert_eq!(
        exchange(&server, &two).await,
        (400, "more than one Host header".into())
    );
    // HTTP/1.0 may omit it (and cannot upgrade).
    assert_eq!(
        exchange(&server, "GET /health HTTP/1.0\r\n\r\n").await,
        (200, "ok".into())
    );
    assert_eq!(exchange(&server, &upgrade("/", &host, "")).await.0, 101);
}

/// Connects clients until one is refused; returns them and the refusal's status.
async fn fill(url: &str, at_most: usize) -> (Vec<TestClient>, Option<u16>) {
    let mut clients = Vec::new();
    for _ in 0..at_most {
        match TestClient::connect(url).await {
            Ok(client) => clients.push(client),
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().clone().unwrap_or_default();
                assert_eq!(String::from_utf8_lossy(&body), "too many connections");
                return (clients, Some(response.status().as_u16()));
            }
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }
    (clients, None)
}

/// Connects once a slot is free again: a closed client's slot is freed when the server's side
/// of its socket is dropped, a moment after the close.
async fn connect_once_free(url: &str) -> TestClient {
    for _ in 0..100 {
        match TestClient::connect(url).await {
            Ok(client) => return client,
            Err(tungstenite::Error::Http(response)) if response.status() == 503 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }
    panic!("no slot was freed within 5 s");
}

#[tokio::test]
async fn the_eleventh_connection_from_one_address_gets_503() {
    let server = serve(App::bare().gateway::<Door>().max_connections_per_ip(10)).await;
    let url = server.url("/");
    let (mut clients, refused) = fill(&url, 20).await;
    assert_eq!(refused, Some(503));
    assert_eq!(clients.len(), 10);
    // Refused again while full; the connected ones are still served.
    assert_eq!(fill(&url, 1).await.1, Some(503));
    assert_alive(clients.last_mut().unwrap()).await;

    clients.pop().unwrap().close().await;
    let mut again = connect_once_free(&url).await;
    assert_alive(&mut again).await;
    assert_eq!(fill(&url, 1).await.1, Some(503));

    // Every slot comes back when everyone leaves (the count is not leaked).
    drop(clients);
    drop(again);
    let mut ten = Vec::new();
    for _ in 0..10 {
        ten.push(connect_once_free(&url).await);
    }
    assert_eq!(fill(&url, 1).await.1, Some(503));
}

#[tokio::test]
async fn max_connections_counts_plain_http_connections_too() {
    let server = serve(App::bare().gateway::<Door>().max_connections(3)).await;
    let url = server.url("/");
    // An idle keep-alive HTTP connection holds a slot as a WebSocket does.
    let idle = TcpStream::connect(server.addr()).await.unwrap();
    let (clients, refused) = fill(&url, 10).await;
    assert_eq!((clients.len(), refused), (2, Some(503)));
    drop(idle);
    let _third = connect_once_free(&url).await;
    assert_eq!(fill(&url, 1).await.1, Some(503));
}

fn rebinding_app() -> App {
    App::bare()
        .gateway::<Door>()
        .socket_io(SocketIoConfig::default())
}

#[tokio::test]
async fn on_loopback_a_rebinding_host_gets_403_on_ws_json_and_engine_io() {
    let server = serve(rebinding_app()).await;
    let port = server.addr().port();
    let evil = format!("rebind.evil.example:{port}");
    let origin = format!("Origin: http://{evil}\r\n");

    let (status, body) = exchange(&server, &upgrade("/", &evil, &origin)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("host not allowed"), "{body}");

    let polling =
        format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {evil}\r\n{origin}\r\n");
    assert_eq!(
        exchange(&server, &polling).await,
        (403, r#"{"code":4,"message":"Host not allowed"}"#.into())
    );
    let engine_ws = upgrade("/socket.io/?EIO=4&transport=websocket", &evil, &origin);
    assert_eq!(exchange(&server, &engine_ws).await.0, 403);

    // Without an Origin too: a same-origin polling GET from the rebinding page sends none.
    let bare_polling =
        format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {evil}\r\n\r\n");
    assert_eq!(exchange(&server, &bare_polling).await.0, 403);

    // The loopback names and IP literals, on any port (port forwards change it).
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost:8080".to_owned(),
        format!("[::1]:{port}"),
    ] {
        let origin = format!("Origin: http://{host}\r\n");
        assert_eq!(
            exchange(&server, &upgrade("/", &host, &origin)).await.0,
            101,
            "{host}"
        );
        let polling = format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}\r\n{origin}\r\n"
        );
        assert_eq!(exchange(&server, &polling).await.0, 200, "{host}");
    }
}

#[tokio::test]
async fn allowed_hosts_and_allow_any_host_let_other_names_in() {
    let listed = serve(rebinding_app().allowed_hosts(["rebind.evil.example"])).await;
    let evil = format!("rebind.evil.example:{}", listed.addr().port());
    let origin = format!("Origin: http://{evil}\r\n");
    assert_eq!(
        exchange(&listed, &upgrade("/", &evil, &origin)).await.0,
        101
    );
    let other = format!("other.example:{}", listed.addr().port());
    assert_eq!(exchange(&listed, &upgrade("/", &other, "")).await.0, 403);

    let any = serve(rebinding_app().allow_any_host()).await;
    let evil = format!("rebind.evil.example:{}", any.addr().port());
    let origin = format!("Origin: http://{evil}\r\n");
    assert_eq!(exchange(&any, &upgrade("/", &evil, &origin)).await.0, 101);
}

#[tokio::test]
async fn an_origin_with_an_explicit_port_must_have_this_servers_scheme() {
    let server = serve(rebinding_app()).await;
    let host = server.addr().to_string();
    let https = format!("Origin: https://{host}\r\n");
    assert_eq!(exchange(&server, &upgrade("/", &host, &https)).await.0, 403);
    // Behind a TLS-terminating proxy that says so.
    let proxied = format!("{https}X-Forwarded-Proto: https\r\n");
    assert_eq!(
        exchange(&server, &upgrade("/", &host, &proxied)).await.0,
        101
    );
    let http = format!("Origin: http://{host}\r\n");
    assert_eq!(exchange(&server, &upgrade("/", &host, &http)).await.0, 101);
}

#[tokio::test]
async fn a_socket_is_in_at_most_max_rooms_per_socket_rooms() {
    let server = serve(App::bare().gateway::<Door>().max_rooms_per_socket(100)).await;
    let mut client = server.client("/").await;
    let ask = |event: &'static str, prefix: &'static str, count: usize| {
        (event, serde_json::json!([prefix, count]))
    };
    let (event, data) = ask("join", "a", 60);
    assert_eq!(client.request(1, event, data).await["data"], 60);
    // `join` joins what fits.
    let (event, data) = ask("join", "b", 60);
    assert_eq!(client.request(2, event, data).await["data"], 100);
    let (event, data) = ask("try_join", "c", 1);
    let refused = client.request(3, event, data).await;
    assert_eq!(
        refused["error"]["message"], "a socket may be in 100 rooms; this join would make it 101",
        "{refused}"
    );
    let answer = client.request(4, "in_room", "b39".into()).await;
    assert_eq!(answer["data"], true);
    let answer = client.request(5, "in_room", "b40".into()).await;
    assert_eq!(answer["data"], false, "b40 did not fit");

    // 20,000 rooms for one socket under a raised cap: every join is O(1) (the old list made
    // this about 2 × 10^8 comparisons; a generous 30 s bound on a loaded machine).
    let roomy = serve(App::bare().gateway::<Door>().max_rooms_per_socket(20_000)).await;
    let mut client = roomy.client("/").await;
    let started = std::time::Instant::now();
    for batch in 0..20 {
        let (event, data) = ("join", serde_json::json!([format!("r{batch}-"), 1_000]));
        let answer = client.request(batch, event, data).await;
        assert_eq!(answer["data"], (batch + 1) * 1_000);
    }
    println!(
        "20,000 joins (20 messages of 1,000) took {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let (event, data) = ask("try_join", "over", 1);
    assert!(client.request(99, event, data).await.get("error").is_some());
}

/// Under `App::into_router` another server parses the head: nestgate still refuses to keep
/// more header bytes than `max_header_size`, and checks `Host` only when told which.
#[tokio::test]
async fn under_into_router_the_header_bound_holds_and_the_host_check_is_opt_in() {
    async fn serve_router(app: App) -> std::net::SocketAddr {
        let router = app.into_router().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }
    let addr = serve_router(App::bare().gateway::<Door>()).await;
    let host = addr.to_string();
    let big = format!("X-Filler: {}\r\n", "a".repeat(20 * 1024));
    assert_eq!(exchange_at(addr, &upgrade("/", &host, &big)).await.0, 431);
    assert_eq!(exchange_at(addr, &upgrade("/", &host, "")).await.0, 101);
    // The bound address is not known here: no Host check unless asked for.
    let evil = format!("rebind.evil.example:{}", addr.port());
    assert_eq!(exchange_at(addr, &upgrade("/", &evil, "")).await.0, 101);
    let checked = serve_router(App::bare().gateway::<Door>().allowed_hosts(["app.example"])).await;
    let evil = format!("rebind.evil.example:{}", checked.port());
    assert_eq!(exchange_at(checked, &upgrade("/", &evil, "")).await.0, 403);
    let listed = format!("app.example:{}", checked.port());
    assert_eq!(
        exchange_at(checked, &upgrade("/", &listed, "")).await.0,
        101
    );
}
