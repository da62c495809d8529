//! WebSocket clients: connecting (spread over loopback source addresses), reading text frames,
//! closing politely, and describing how a connection ended.

use futures_util::stream::{self, StreamExt as _};
use futures_util::{SinkExt as _, Stream};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

/// Any error of the load generator.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The load generator's result type.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// One client connection.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// How long the TCP connect and the WebSocket handshake may take, each.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a polite close (our close frame, then the server's) may take.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long sending one frame may take (the server not reading it: backpressure).
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The highest number of loopback source addresses (127.0.0.2 ..= 127.0.0.251).
const MAX_SOURCES: usize = 250;

/// The wire protocol the clients speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Protocol {
    /// `{"event": .., "data": ..}` text frames on the gateway's path.
    #[default]
    WsJson,
    /// Socket.IO v5 over Engine.IO v4's WebSocket transport at `/socket.io/`, namespace `/`.
    Socketio,
}

impl Protocol {
    /// The frame of `event` with `data` (JSON text), as a client sends it and the echo example
    /// sends it back.
    pub(crate) fn frame(self, event: &str, data: &str) -> String {
        match self {
            Protocol::WsJson => format!(r#"{{"event":"{event}","data":{data}}}"#),
            Protocol::Socketio => format!(r#"42["{event}",{data}]"#),
        }
    }

    /// The URL a client of this protocol opens, from the gateway's `ws://host:port/` URL.
    fn url(self, gateway: &str) -> String {
        match self {
            Protocol::WsJson => gateway.to_owned(),
            Protocol::Socketio => {
                let rest = gateway.strip_prefix("ws://").unwrap_or(gateway);
                let authority = rest.split('/').next().unwrap_or(rest);
                format!("ws://{authority}/socket.io/?EIO=4&transport=websocket")
            }
        }
    }
}

/// Where clients connect, and from which source addresses.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The `ws://` URL, sent in the handshake.
    url: String,
    /// What the clients speak.
    protocol: Protocol,
    /// The server's socket address.
    addr: SocketAddr,
    /// How many loopback source addresses connections are spread over (0: let the kernel pick).
    sources: usize,
}

impl Target {
    /// Resolves a `ws://host:port/path` URL; `sources` loopback addresses are used round-robin
    /// when the server is on loopback.
    pub(crate) async fn resolve(url: &str, sources: usize, protocol: Protocol) -> Result<Target> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("only ws:// URLs are supported, not {url}"))?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let addr = tokio::net::lookup_host(authority)
            .await?
            .next()
            .ok_or_else(|| format!("{authority} resolves to no address"))?;
        Ok(Target {
            url: protocol.url(url),
            protocol,
            addr,
            sources: sources.min(MAX_SOURCES),
        })
    }

    /// The source address of connection `index`, if connections are spread.
    fn source(&self, index: usize) -> Option<IpAddr> {
        match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_loopback() && self.sources > 0 => {
                // `index % sources` < MAX_SOURCES = 250, so `2 + it` fits in a u8.
                let last = u8::try_from(2 + index % self.sources).unwrap_or(2);
                Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
            }
            _ => None,
        }
    }

    /// Opens connection number `index` (which picks its source address).
    pub(crate) async fn connect(&self, index: usize) -> Result<Ws> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // Ports of earlier runs may linger in TIME_WAIT; they are safe to reuse for a new server.
        socket.set_reuseaddr(true)?;
        if let Some(ip) = self.source(index) {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = timeout(CONNECT_TIMEOUT, socket.connect(self.addr))
            .await
            .map_err(|_| "TCP connect timed out")??;
        tcp.set_nodelay(true)?;
        // Small buffers: tens of thousands of idle clients live in this process.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (ws, _response) = timeout(
            CONNECT_TIMEOUT,
            client_async_with_config(self.url.as_str(), tcp, Some(config)),
        )
        .await
        .map_err(|_| "WebSocket handshake timed out")??;
        let mut ws = ws;
        if self.protocol == Protocol::Socketio {
            timeout(CONNECT_TIMEOUT, socketio_connect(&mut ws))
                .await
                .map_err(|_| "Socket.IO CONNECT timed out")??;
        }
        Ok(ws)
    }

    /// Opens connections `indices`, at most `concurrency` handshakes at once. Returns the
    /// connections (with their index) and the errors, counted by kind.
    pub(crate) async fn connect_many(
        &self,
        indices: std::ops::Range<usize>,
        concurrency: usize,
    ) -> (Vec<(usize, Ws)>, Counts) {
        let mut connected = Vec::with_capacity(indices.len());
        let mut errors = Counts::default();
        let mut attempts = stream::iter(indices)
            .map(|index| async move { (index, self.connect(index).await) })
            .buffer_unordered(concurrency.max(1));
        while let Some((index, result)) = attempts.next().await {
            match result {
                Ok(ws) => connected.push((index, ws)),
                Err(err) => errors.add(error_kind(&*err)),
            }
        }
        (connected, errors)
    }
}

/// Occurrences of short descriptions (errors, close codes, log lines), sorted by description.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(transparent)]
pub(crate) struct Counts(BTreeMap<String, u64>);

impl Counts {
    /// Counts one occurrence.
    pub(crate) fn add(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }

    /// Adds every count of `other`.
    pub(crate) fn merge(&mut self, other: &Counts) {
        for (what, count) in &other.0 {
            *self.0.entry(what.clone()).or_default() += count;
        }
    }

    /// The sum of all counts.
    pub(crate) fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `what ×n, ...`, or `-` when empty.
    pub(crate) fn summary(&self) -> String {
        if self.0.is_empty() {
            return "-".to_owned();
        }
        self.0
            .iter()
            .map(|(what, count)| format!("{what} ×{count}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A short, groupable description of a connect error (no addresses or ports in it).
fn error_kind(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        return format!("io: {:?}", io.kind());
    }
    if let Some(ws) = err.downcast_ref::<WsError>() {
        return match ws {
            WsError::Io(io) => format!("io: {:?}", io.kind()),
            WsError::Http(response) => format!("http: {}", response.status()),
            other => format!("ws: {other}"),
        };
    }
    err.to_string()
}

/// How a connection ended that the load generator did not close itself.
pub(crate) fn describe_end(next: Option<Result<Message, WsError>>) -> String {
    match next {
        None => "stream ended".to_owned(),
        Some(Ok(Message::Close(Some(frame)))) => {
            format!("close {} {}", u16::from(frame.code), frame.reason)
        }
        Some(Ok(Message::Close(None))) => "close (no code)".to_owned(),
        Some(Ok(_)) => "unexpected frame".to_owned(),
        Some(Err(WsError::Io(io))) => format!("io: {:?}", io.kind()),
        Some(Err(err)) => format!("ws: {err}"),
    }
}

/// Engine.IO open, then Socket.IO CONNECT to `/`.
async fn socketio_connect(ws: &mut Ws) -> Result<()> {
    let open = next_text(ws).await?;
    if !open.as_str().starts_with('0') {
        return Err(format!("expected the Engine.IO open packet, got {open}").into());
    }
    ws.send(Message::text("40")).await?;
    let connected = next_text(ws).await?;
    if !connected.as_str().starts_with("40") {
        return Err(format!("expected the Socket.IO CONNECT answer, got {connected}").into());
    }
    Ok(())
}

/// The frame a nestgate server with connection-state recovery registers a ws-json connection
/// with (`RECOVERY=1` in the echo example): not a reply, nor a broadcast.
const REGISTERED: &str = "{\"event\":\"nestgate:connected\"";

/// Waits for the next text frame, skipping pings and pongs (tungstenite answers pings itself),
/// Engine.IO pings (`2`: no run lasts the 45 s after which an unanswered one matters) and
/// recovery's registration frame.
/// Anything else ends the wait with a description of how the connection ended.
pub(crate) async fn next_text<S>(ws: &mut S) -> Result<Utf8Bytes, String>
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text)))
                if text.as_str() != "2" && !text.as_str().starts_with(REGISTERED) =>
            {
                return Ok(text);
            }
            Some(Ok(Message::Text(_))) => {}
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => return Err(describe_end(other)),
        }
    }
}

/// Closes politely: sends a close frame, then reads until the server's close, within
/// [`CLOSE_TIMEOUT`]. Returns whether the close handshake completed in time. The connection is
/// dropped (its descriptor released) either way.
pub(crate) async fn close(mut ws: Ws) -> bool {
    timeout(CLOSE_TIMEOUT, async {
        if ws.close(None).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await
    .is_ok()
}

/// Sends one text frame, flushing it; a server that does not read it within
/// [`SEND_TIMEOUT`] fails the connection.
pub(crate) async fn send_text(ws: &mut Ws, text: Utf8Bytes) -> Result<(), String> {
    match timeout(SEND_TIMEOUT, ws.send(Message::Text(text))).await {
        Ok(sent) => sent.map_err(|err| describe_end(Some(Err(err)))),
        Err(_) => Err("send timed out".to_owned()),
    }
}
