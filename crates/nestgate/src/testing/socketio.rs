//! [`SocketIoClient`]: a Socket.IO v5 client over the WebSocket or the polling transport, for
//! testing a gateway's Socket.IO side from Rust as a socket.io-client would use it.

use super::RECV_TIMEOUT;
use super::transport::{Link, Transport};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

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

/// A Socket.IO v5 client (Engine.IO v4 over a WebSocket, or over HTTP long-polling with
/// [`connect_with`](Self::connect_with)) connected to one namespace: the client a
/// socket.io-client user would write, in a Rust test.
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
    link: Link,
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
        Self::connect_with(url, None, Transport::WebSocket).await
    }

    /// Connects with a CONNECT `auth` payload (socket.io-client's `auth` option), which
    /// handshake guards read with `HandshakeRequest::auth`.
    pub async fn connect_with_auth(url: &str, auth: Value) -> Result<Self, ConnectError> {
        Self::connect_with(url, Some(auth), Transport::WebSocket).await
    }

    /// Connects over the given transport, with an `auth` payload or none.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), nestgate::testing::ConnectError> {
    /// use nestgate::testing::{SocketIoClient, Transport};
    ///
    /// let client = SocketIoClient::connect_with("ws://127.0.0.1:3000/chat", None, Transport::Polling).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with(
        url: &str,
        auth: Option<Value>,
        transport: Transport,
    ) -> Result<Self, ConnectError> {
        let (host, nsp, query) = split_url(url)?;
        let (link, open) = Link::open(&host, &query, transport)
            .await
            .map_err(ConnectError::Transport)?;
        let mut client = SocketIoClient {
            link,
            nsp,
            sid: String::new(),
            next_ack: 0,
            events: VecDeque::new(),
        };
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
        self.link.close().await;
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
        if let Err(err) = self.link.send(text).await {
            panic!("the Socket.IO test client could not send: {err}");
        }
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

    /// The next Engine.IO packet, pings answered; `None` once the session ended.
    async fn next_text(&mut self) -> Option<String> {
        loop {
            let packet = match tokio::time::timeout(RECV_TIMEOUT, self.link.next()).await {
                Ok(packet) => packet?,
                Err(_) => panic!("nothing from the server within {RECV_TIMEOUT:?}"),
            };
            match packet {
                Ok(text) if text == "2" => self.send_text("3".to_owned()).await,
                // The engine's close ends the session (other Engine.IO packets, a noop, are
                // skipped by `next_packet`).
                Ok(text) if text == "1" => return None,
                Ok(text) => return Some(text),
                Err(err) => panic!("the Socket.IO connection failed: {err}"),
            }
        }
    }
}

/// `ws://host:port/chat?token=x` → (`host:port`, `/chat`, `token=x`).
fn split_url(url: &str) -> Result<(String, String, String), ConnectError> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ConnectError::Transport(format!("not a ws:// or http:// URL: {url}")))?;
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = &rest[..path_start];
    let (path, query) = rest[path_start..]
        .split_once('?')
        .unwrap_or((&rest[path_start..], ""));
    let nsp = if path.is_empty() { "/" } else { path };
    Ok((host.to_owned(), nsp.to_owned(), query.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_namespace_and_keeps_the_query() {
        let split = |url| split_url(url).unwrap();
        assert_eq!(
            split("ws://127.0.0.1:3000/chat?token=a"),
            ("127.0.0.1:3000".into(), "/chat".into(), "token=a".into())
        );
        assert_eq!(
            split("ws://127.0.0.1:3000"),
            ("127.0.0.1:3000".into(), "/".into(), String::new())
        );
        assert_eq!(
            split("http://127.0.0.1:3000?x=1"),
            ("127.0.0.1:3000".into(), "/".into(), "x=1".into())
        );
    }
}
