//! [`SocketIoClient`]: a Socket.IO v5 client over the WebSocket transport, for testing a
//! gateway's Socket.IO side from Rust as a socket.io-client would use it.

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::RECV_TIMEOUT;

/// One event the server emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketIoEvent {
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub args: Vec<Value>,
    /// The id to answer with [`SocketIoClient::ack`] when the server asked for an
    /// acknowledgement (`emit_with_ack`).
    pub ack_id: Option<u64>,
}

impl SocketIoEvent {
    /// The first argument (`null` when there is none): what a one-argument emit sent.
    pub fn data(&self) -> &Value {
        self.args.first().unwrap_or(&Value::Null)
    }
}

/// Why [`SocketIoClient::connect`] failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The namespace refused the CONNECT (`connect_error`): its `{"message", "data"}` object,
    /// as socket.io-client's `connect_error` event receives it.
    Refused(Value),
    /// The WebSocket did not open, or the server broke the protocol.
    Transport(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Refused(error) => write!(f, "connect_error: {error}"),
            ConnectError::Transport(error) => write!(f, "transport: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// A Socket.IO v5 client (Engine.IO v4 over the WebSocket transport) connected to one
/// namespace: the client a socket.io-client user would write, in a Rust test.
///
/// The URL names the namespace by its path and carries the handshake's query, as
/// socket.io-client's `io("http://host/chat?token=...")`. Pings are answered; events the
/// server sends while a call waits for something else are kept for [`recv`](Self::recv).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use nestgate::testing::SocketIoClient;
/// use serde_json::json;
///
/// let mut client =
///     SocketIoClient::connect_with_auth("ws://127.0.0.1:3000/chat", json!({"token": "ann"})).await?;
/// client.emit("join", json!("lobby")).await;
/// let answer = client.emit_with_ack("message", json!({"text": "hi"})).await;
/// assert_eq!(answer, vec![json!("sent")]);
/// let event = client.recv().await;
/// assert_eq!((event.event.as_str(), event.data()), ("message", &json!({"text": "hi"})));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SocketIoClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    nsp: String,
    sid: String,
    next_ack: u64,
    /// Events read while waiting for an ack or a CONNECT, for `recv` to return first.
    events: VecDeque<SocketIoEvent>,
}

/// A packet of this client's namespace, decoded.
enum Packet {
    Connect(Value),
    Disconnect,
    Event(SocketIoEvent),
    Ack(u64, Vec<Value>),
    ConnectError(Value),
}

impl SocketIoClient {
    /// Connects to the namespace of `url`'s path (`ws://127.0.0.1:3000/chat` is `/chat`).
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::open(url, None).await
    }

    /// Connects with a CONNECT `auth` payload (socket.io-client's `auth` option), which
    /// handshake guards read with `HandshakeRequest::auth`.
    pub async fn connect_with_auth(url: &str, auth: Value) -> Result<Self, ConnectError> {
        Self::open(url, Some(auth)).await
    }

    async fn open(url: &str, auth: Option<Value>) -> Result<Self, ConnectError> {
        let (engine_url, nsp) = engine_url(url)?;
        let (ws, _) = tokio_tungstenite::connect_async(engine_url)
            .await
            .map_err(|err| ConnectError::Transport(err.to_string()))?;
        let mut client = SocketIoClient {
            ws,
            nsp,
            sid: String::new(),
            next_ack: 0,
            events: VecDeque::new(),
        };
        let open = client
            .next_text()
            .await
            .ok_or_else(|| ConnectError::Transport("closed before the open packet".into()))?;
        if !open.starts_with("0{") {
            return Err(ConnectError::Transport(format!(
                "expected the open packet, got {open}"
            )));
        }
        let auth = auth.map(|auth| auth.to_string()).unwrap_or_default();
        let connect = format!("40{}{auth}", client.prefix());
        client.send_text(connect).await;
        loop {
            match client.next_packet().await {
                Some(Packet::Connect(data)) => {
                    client.sid = data["sid"].as_str().unwrap_or_default().to_owned();
                    return Ok(client);
                }
                Some(Packet::ConnectError(error)) => return Err(ConnectError::Refused(error)),
                Some(Packet::Event(event)) => client.events.push_back(event),
                Some(_) => {}
                None => return Err(ConnectError::Transport("closed before CONNECT".into())),
            }
        }
    }

    /// The socket's id in its namespace, as the server's `socket.id()`.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The namespace this client is connected to.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    /// Emits `event` with one argument, as `socket.emit(event, data)`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.emit_args(event, vec![data]).await;
    }

    /// Emits `event` with any number of arguments.
    pub async fn emit_args(&mut self, event: &str, args: Vec<Value>) {
        let packet = self.event_packet(None, event, args);
        self.send_text(packet).await;
    }

    /// Emits `event` with one argument and an acknowledgement callback, as
    /// `socket.emitWithAck(event, data)`: the arguments the server acknowledged with. Events
    /// that arrive first are kept for [`recv`](Self::recv). Fails the test after
    /// [`RECV_TIMEOUT`].
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> Vec<Value> {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = self.event_packet(Some(id), event, vec![data]);
        self.send_text(packet).await;
        loop {
            match self.next_packet().await {
                Some(Packet::Ack(answered, args)) if answered == id => return args,
                Some(Packet::Event(event)) => self.events.push_back(event),
                Some(Packet::Disconnect) | None => {
                    panic!("the connection ended while waiting for the ack of {id}")
                }
                Some(_) => {}
            }
        }
    }

    /// Answers an event the server emitted with an ack request.
    pub async fn ack(&mut self, ack_id: u64, args: Vec<Value>) {
        let args = Value::Array(args).to_string();
        let packet = format!("43{}{ack_id}{args}", self.prefix());
        self.send_text(packet).await;
    }

    /// The next event the server emitted. Fails the test after [`RECV_TIMEOUT`] or on close.
    pub async fn recv(&mut self) -> SocketIoEvent {
        match self.try_recv(RECV_TIMEOUT).await {
            Some(event) => event,
            None => panic!("no event within {RECV_TIMEOUT:?}"),
        }
    }

    /// The next event within `wait`, or `None`. Panics if the connection ends.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<SocketIoEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let packet = tokio::time::timeout_at(deadline, self.next_packet())
                .await
                .ok()?;
            match packet {
                Some(Packet::Event(event)) => return Some(event),
                Some(Packet::Disconnect) | None => {
                    panic!("the connection ended while waiting for an event")
                }
                Some(_) => {}
            }
        }
    }

    /// Waits until the server disconnects this socket (a DISCONNECT packet, or the transport
    /// closing), skipping events; `true` when it did within [`RECV_TIMEOUT`].
    pub async fn disconnected(&mut self) -> bool {
        tokio::time::timeout(RECV_TIMEOUT, async {
            loop {
                match self.next_packet().await {
                    Some(Packet::Disconnect) | None => return,
                    Some(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// Leaves the namespace (`socket.disconnect()`) and closes the transport.
    pub async fn disconnect(mut self) {
        let packet = format!("41{}", self.prefix());
        self.send_text(packet).await;
        let _ = self.ws.close(None).await;
    }

    /// `/chat,` for a namespace other than `/`, as the packets spell it.
    fn prefix(&self) -> String {
        if self.nsp == "/" {
            String::new()
        } else {
            format!("{},", self.nsp)
        }
    }

    fn event_packet(&self, ack: Option<u64>, event: &str, args: Vec<Value>) -> String {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(Value::String(event.to_owned()));
        all.extend(args);
        let ack = ack.map(|id| id.to_string()).unwrap_or_default();
        format!("42{}{ack}{}", self.prefix(), Value::Array(all))
    }

    async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("the Socket.IO test client could not send");
    }

    /// The next Socket.IO packet of this namespace (pings answered, other namespaces' packets
    /// skipped); `None` once the transport closed.
    async fn next_packet(&mut self) -> Option<Packet> {
        loop {
            let text = self.next_text().await?;
            let Some(socket_io) = text.strip_prefix('4') else {
                continue; // Engine.IO's own packets: noop, pong, ...
            };
            if let Some(packet) = self.decode(socket_io) {
                return Some(packet);
            }
        }
    }

    /// A Socket.IO packet (after Engine.IO's `4`) of this namespace.
    fn decode(&self, packet: &str) -> Option<Packet> {
        let kind = packet.chars().next()?;
        let mut rest = &packet[1..];
        let nsp = if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            let nsp = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
            nsp
        } else {
            "/"
        };
        if nsp != self.nsp {
            return None;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = rest[..digits].parse::<u64>().ok();
        let body = &rest[digits..];
        let json = || serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
        match kind {
            '0' => Some(Packet::Connect(json())),
            '1' => Some(Packet::Disconnect),
            '2' => {
                let Value::Array(mut all) = json() else {
                    panic!("an EVENT packet without an array: {packet}")
                };
                if all.is_empty() {
                    panic!("an EVENT packet without its name: {packet}");
                }
                let event = match all.remove(0) {
                    Value::String(name) => name,
                    other => panic!("an EVENT packet whose name is {other}"),
                };
                Some(Packet::Event(SocketIoEvent {
                    event,
                    args: all,
                    ack_id: id,
                }))
            }
            '3' => match json() {
                Value::Array(args) => Some(Packet::Ack(id?, args)),
                other => panic!("an ACK packet without an array: {other}"),
            },
            '4' => Some(Packet::ConnectError(json())),
            '5' | '6' => panic!(
                "binary packets are not supported by this test client (Socket.IO attachments): {packet}"
            ),
            _ => panic!("an unknown Socket.IO packet: {packet}"),
        }
    }

    /// The next text frame, pings answered; `None` once closed.
    async fn next_text(&mut self) -> Option<String> {
        loop {
            let message = match tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await {
                Ok(message) => message,
                Err(_) => panic!("no frame from the server within {RECV_TIMEOUT:?}"),
            };
            match message? {
                Ok(Message::Text(text)) if text.as_str() == "2" => {
                    self.send_text("3".to_owned()).await;
                }
                Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                Ok(Message::Close(_)) => return None,
                Ok(Message::Binary(_)) => {
                    panic!("binary frames are not supported by this test client")
                }
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return None;
                }
                Err(err) => panic!("the Socket.IO connection failed: {err}"),
            }
        }
    }
}

/// `ws://host/chat?token=x` → (`ws://host/socket.io/?EIO=4&transport=websocket&token=x`, `/chat`).
fn engine_url(url: &str) -> Result<(String, String), ConnectError> {
    let scheme_end = url
        .find("://")
        .ok_or_else(|| ConnectError::Transport(format!("not a ws:// URL: {url}")))?;
    let after_scheme = &url[scheme_end + 3..];
    let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let origin = &url[..scheme_end + 3 + path_start];
    let rest = &after_scheme[path_start..];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let nsp = if path.is_empty() { "/" } else { path };
    let mut engine = format!("{origin}/socket.io/?EIO=4&transport=websocket");
    if !query.is_empty() {
        engine.push('&');
        engine.push_str(query);
    }
    Ok((engine, nsp.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_namespace_and_keeps_the_query() {
        let (engine, nsp) = engine_url("ws://127.0.0.1:3000/chat?token=a").unwrap();
        assert_eq!(
            engine,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket&token=a"
        );
        assert_eq!(nsp, "/chat");
        let (engine, nsp) = engine_url("ws://127.0.0.1:3000").unwrap();
        assert_eq!(
            engine,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(nsp, "/");
    }
}
