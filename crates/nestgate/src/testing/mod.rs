//! Test clients for integration tests over a real socket: [`TestClient`] speaks ws-json,
//! [`SocketIoClient`] Socket.IO v5; [`ChildServer`] runs an example binary, [`InProcess`] the
//! dispatch path without a network; [`Prerequisites`] skips (or, under CI, fails) a test whose
//! external tools are missing.
//!
//! Enabled by the `testing` feature.
//!
//! ```no_run
//! # async fn run() {
//! use nestgate::testing::TestClient;
//! use serde_json::json;
//!
//! let mut client = TestClient::connect("ws://127.0.0.1:3000/").await.unwrap();
//! client.emit("echo", json!({"hello": "world"})).await;
//! assert_eq!(client.recv().await, json!({"event": "echo", "data": {"hello": "world"}}));
//! # }
//! ```

mod node;
mod prerequisites;
mod socketio;
mod transport;

pub use node::node_script;
pub use prerequisites::Prerequisites;
pub use socketio::{ConnectError, SocketIoClient, SocketIoEvent};
pub use transport::Transport;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long [`TestClient::recv`] waits before failing the test.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected WebSocket client.
#[derive(Debug)]
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames [`TestClient::request`] read while waiting for its answer, for `recv` to return
    /// first, in order.
    skipped: VecDeque<Value>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// A close frame with this code and reason.
    Frame(u16, String),
    /// The transport ended without a close frame.
    Abrupt(String),
}

/// A WebSocket handshake request for `url` with extra headers (`Authorization`, `Cookie`,
/// `Origin`, ...), for [`TestClient::connect_request`] and [`TestClient::refused`].
pub fn handshake_request(
    url: &str,
    headers: &[(&'static str, &str)],
) -> tungstenite::handshake::client::Request {
    use tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request().expect("a valid ws:// URL");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("a valid header value"));
    }
    request
}

impl TestClient {
    /// Connects to `url` (e.g. `ws://127.0.0.1:3000/chat`).
    pub async fn connect(url: &str) -> Result<Self, tungstenite::Error> {
        let (ws, _response) = tokio_tungstenite::connect_async(url).await?;
        Ok(TestClient {
            ws,
            skipped: VecDeque::new(),
        })
    }

    /// Connects with a request of your own (headers such as `Authorization`, `Cookie`,
    /// `Origin`). A refused handshake is `Err(tungstenite::Error::Http(response))`, with the
    /// status and body.
    pub async fn connect_request(
        request: tungstenite::handshake::client::Request,
    ) -> Result<Self, tungstenite::Error> {
        let (ws, _response) = tokio_tungstenite::connect_async(request).await?;
        Ok(TestClient {
            ws,
            skipped: VecDeque::new(),
        })
    }

    /// Opens a connection the server must refuse before the upgrade: the HTTP status and the
    /// JSON body (`null` when there is none). Panics when the handshake succeeds, fails some
    /// other way, or the body is not JSON.
    pub async fn refused(request: tungstenite::handshake::client::Request) -> (u16, Value) {
        match TestClient::connect_request(request).await {
            Err(tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|body| serde_json::from_slice(body).expect("a JSON body"))
                    .unwrap_or(Value::Null);
                (response.status().as_u16(), body)
            }
            Err(other) => panic!("expected an HTTP refusal, got {other}"),
            Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
        }
    }

    /// Sends `{"event": event, "data": data}`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_json(json!({ "event": event, "data": data }))
            .await;
    }

    /// Sends `{"event": event, "data": data, "id": id}` and returns the answer to it. The
    /// frames that arrive before the answer (the sender's own broadcast, say) are kept: the next
    /// [`recv`](TestClient::recv)s return them first, in order.
    ///
    /// ```no_run
    /// # async fn run(mut client: nestgate::testing::TestClient) {
    /// use serde_json::json;
    ///
    /// let answer = client.request(1, "bid", json!({"amount": 120})).await;
    /// assert_eq!(answer["data"]["accepted"], true);
    /// // The broadcast of the bid, sent before the answer, is still there.
    /// assert_eq!(client.recv().await["event"], "bid_placed");
    /// # }
    /// ```
    pub async fn request(&mut self, id: u64, event: &str, data: Value) -> Value {
        self.send_json(json!({ "event": event, "data": data, "id": id }))
            .await;
        let mut skipped = VecDeque::new();
        let answer = loop {
            let frame = match self.next_frame(RECV_TIMEOUT).await {
                Some(frame) => frame,
                None => panic!("no answer to request {id} within {RECV_TIMEOUT:?}"),
            };
            if frame.get("ack") == Some(&json!(id)) {
                break frame;
            }
            skipped.push_back(frame);
        };
        self.skipped.extend(skipped);
        answer
    }

    /// Sends a JSON value as a text frame.
    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends a text frame as it is.
    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// Sends any WebSocket message.
    pub async fn send(&mut self, message: Message) {
        self.ws
            .send(message)
            .await
            .expect("the test client could not send");
    }

    /// The next text frame, parsed as JSON. Fails the test after [`RECV_TIMEOUT`] or on close.
    pub async fn recv(&mut self) -> Value {
        match self.try_recv(RECV_TIMEOUT).await {
            Some(value) => value,
            None => panic!("no frame within {RECV_TIMEOUT:?}"),
        }
    }

    /// The next text frame within `wait`, or `None`. Panics if the connection closes.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        if let Some(frame) = self.skipped.pop_front() {
            return Some(frame);
        }
        self.next_frame(wait).await
    }

    /// The next text frame off the socket within `wait`.
    async fn next_frame(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Some(
                        serde_json::from_str(&text).expect("the server sent invalid JSON"),
                    );
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(other)) => panic!("expected a text frame, got {other:?}"),
                Some(Err(err)) => panic!("connection failed while waiting for a frame: {err}"),
                None => panic!("connection ended while waiting for a frame"),
            }
        }
    }

    /// Reads until the connection ends, skipping frames; returns how it ended.
    pub async fn closed(&mut self) -> Closed {
        let outcome = tokio::time::timeout(RECV_TIMEOUT, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return Closed::Frame(u16::from(frame.code), frame.reason.to_string());
                    }
                    Some(Ok(Message::Close(None))) => {
                        return Closed::Frame(u16::from(CloseCode::Status), String::new());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Closed::Abrupt(err.to_string()),
                    None => return Closed::Abrupt("end of stream".to_owned()),
                }
            }
        })
        .await;
        outcome.unwrap_or_else(|_| panic!("the connection did not close within {RECV_TIMEOUT:?}"))
    }

    /// Starts the close handshake with code 1000.
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }

    /// The underlying tokio-tungstenite stream, for anything else.
    pub fn inner(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.ws
    }
}

/// An app served on a free loopback port for one test: its address, its [`AppHandle`], clients
/// of both protocols, and a graceful shutdown.
///
/// ```no_run
/// # async fn run() {
/// use nestgate::testing::TestServer;
/// use serde_json::json;
///
/// let server = TestServer::start(nestgate::App::new()).await;
/// let mut client = server.client("/chat").await;
/// client.emit("message", json!("hi")).await;
/// // Emit from outside any handler, through the running app's handle.
/// server.handle().server("/chat").unwrap().emit("notice", &"from the test").unwrap();
/// server.shutdown().await.unwrap();
/// # }
/// ```
///
/// [`AppHandle`]: crate::AppHandle
#[derive(Debug)]
pub struct TestServer {
    addr: std::net::SocketAddr,
    handle: crate::AppHandle,
    task: tokio::task::JoinHandle<crate::Result<()>>,
}

impl TestServer {
    /// Binds `app` to 127.0.0.1:0 and serves it in the background. Panics when it does not
    /// build (a missing provider, a duplicate event: the error says which) or bind.
    pub async fn start(app: crate::App) -> Self {
        let listening = match app.bind("127.0.0.1:0").await {
            Ok(listening) => listening,
            Err(err) => panic!("the test app does not start: {err}"),
        };
        let addr = listening.local_addr();
        let handle = listening.handle();
        let task = tokio::spawn(listening.run_until(std::future::pending()));
        TestServer { addr, handle, task }
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `ws://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The running app's handle: its servers (emit from the test), its shutdown.
    pub fn handle(&self) -> &crate::AppHandle {
        &self.handle
    }

    /// A ws-json client connected to `path`.
    pub async fn client(&self, path: &str) -> TestClient {
        match TestClient::connect(&self.url(path)).await {
            Ok(client) => client,
            Err(err) => panic!("the test client cannot connect to {path}: {err}"),
        }
    }

    /// A Socket.IO client connected to the namespace `path` (the app serves Socket.IO:
    /// [`App::socket_io`](crate::App::socket_io)).
    pub async fn socket_io(&self, path: &str) -> SocketIoClient {
        match SocketIoClient::connect(&self.url(path)).await {
            Ok(client) => client,
            Err(err) => panic!("the Socket.IO client cannot connect to {path}: {err}"),
        }
    }

    /// Shuts the app down gracefully and waits for it to finish.
    pub async fn shutdown(self) -> crate::Result<()> {
        self.handle.shutdown();
        match self.task.await {
            Ok(result) => result,
            Err(err) => panic!("the server task failed: {err}"),
        }
    }
}

/// An example or app binary running as a child process, killed when dropped.
///
/// The binary is started with `PORT=0` and must print a line containing
/// `listening on http://ADDR` on stdout, as nestgate's examples do.
#[derive(Debug)]
pub struct ChildServer {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl ChildServer {
    /// Starts `binary` (e.g. `env!("CARGO_BIN_EXE_echo")`) with `PORT=0` and the given extra
    /// environment, and waits for it to listen.
    pub fn start(binary: &str, env: &[(&str, &str)]) -> std::io::Result<Self> {
        use std::io::{BufRead as _, BufReader};
        let mut command = std::process::Command::new(binary);
        command
            .env("PORT", "0")
            .stdout(std::process::Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped above");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(line) = lines.next().transpose()? else {
                let _ = child.kill();
                return Err(std::io::Error::other(format!(
                    "{binary} exited without saying where it listens"
                )));
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                break addr.parse().map_err(std::io::Error::other)?;
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(ChildServer { child, addr })
    }

    /// The address the child listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `ws://ADDR{path}`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// `http://ADDR{path}`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM (on Unix) and waits for the process to exit; returns its exit status.
    pub fn terminate(mut self) -> std::io::Result<std::process::ExitStatus> {
        #[cfg(unix)]
        {
            let status = std::process::Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()?;
            if !status.success() {
                self.child.kill()?;
            }
        }
        #[cfg(not(unix))]
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An app's dispatch driven in-process, without a network: one socket, frames in, frames out.
///
/// It runs the real decode, dispatch, extraction, handler and reply path of a connection — the
/// benchmarks and allocation tests measure exactly that — but no WebSocket or TCP.
///
/// ```
/// # async fn run() -> nestgate::Result<()> {
/// use nestgate::prelude::*;
/// use nestgate::testing::InProcess;
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Doubler;
///
/// #[websocket_gateway]
/// impl Doubler {
///     #[subscribe_message("double")]
///     fn double(&self, Data(n): Data<u64>) -> u64 {
///         n * 2
///     }
/// }
///
/// let mut client = InProcess::new(nestgate::App::bare().gateway::<Doubler>(), "/").await?;
/// client.send(r#"{"event":"double","data":21}"#).await;
/// assert_eq!(client.recv().as_deref(), Some("42"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InProcess {
    socket: crate::Socket,
}

impl InProcess {
    /// Builds `app` and connects one in-process socket to `path` (running the connection hooks).
    pub async fn new(app: crate::App, path: &str) -> crate::Result<Self> {
        let runtime = app.build_for_tests()?;
        let Some(namespace) = runtime.namespace(path) else {
            return Err(crate::Error::NoGateway {
                path: path.to_owned(),
            });
        };
        let uri = path.parse().unwrap_or_default();
        let handshake = crate::Handshake::detached(&Default::default(), &uri, None);
        let request = crate::guard::HandshakeRequest::new(handshake, None);
        let socket = crate::Socket::accept(request, namespace.clone(), runtime.clone());
        if let Err(reject) = namespace.connect(&socket).await {
            return Err(crate::Error::Rejected(reject));
        }
        namespace.store().insert(socket.clone());
        Ok(InProcess { socket })
    }

    /// The in-process socket.
    pub fn socket(&self) -> &crate::Socket {
        &self.socket
    }

    /// Dispatches one text frame and waits for its handler (and reply) to finish.
    pub async fn send(&mut self, frame: &str) {
        self.send_frame(axum::extract::ws::Utf8Bytes::from(frame))
            .await;
    }

    /// Dispatches one text frame given as bytes the way the WebSocket layer hands them over.
    pub async fn send_frame(&mut self, frame: axum::extract::ws::Utf8Bytes) {
        let waker = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
        if let Some(running) = crate::connection::dispatch(&self.socket, frame, None, &waker) {
            running.await;
        }
    }

    /// The next frame queued for the client, if any.
    pub fn recv(&mut self) -> Option<String> {
        match self.socket.outbound().try_pop()? {
            axum::extract::ws::Message::Text(text) => Some(text.to_string()),
            other => Some(format!("{other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_path_without_a_gateway_is_its_own_error() {
        let err = super::InProcess::new(crate::App::bare(), "/nowhere")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, crate::Error::NoGateway { path } if path == "/nowhere"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "no gateway at /nowhere");
    }
}
