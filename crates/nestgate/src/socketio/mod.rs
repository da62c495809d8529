//! The Socket.IO v5 engine: the same gateways, rooms, operators and adapters, for every
//! socket.io client (as NestJS's `IoAdapter` beside its `WsAdapter`).
//!
//! Enable it with [`App::socket_io`](crate::App::socket_io): Engine.IO is served at
//! `/socket.io/` (polling and WebSocket, with the upgrade) and each gateway path is a Socket.IO
//! namespace — a gateway at `/chat` is `io("https://host/chat")`. Both protocols share
//! everything: a room broadcast reaches ws-json and socket.io clients alike.
//!
//! - CONNECT runs the handshake guards with the client's `auth` payload
//!   ([`HandshakeRequest::auth`](crate::guard::HandshakeRequest::auth)); a rejection answers
//!   CONNECT_ERROR `{"message", "data": {"status"}}`. An unknown namespace gets
//!   "Invalid namespace".
//! - An event's single argument is its `data`; several arguments arrive as one array (and as
//!   they came with [`Args`]). A handler's return value answers the
//!   client's acknowledgement — and so does an error, as `{"status": "error", "message"}`:
//!   the client never waits for a timeout.
//! - Bytes travel as binary attachments ([`Binary`]).
//! - A malformed packet closes that session only.

mod packet;
mod translate;
mod values;

pub use values::{Args, Binary};

use crate::connection::{self, Transport};
use crate::engineio::{
    CloseReason, EngineConfig, EngineIo, EngineMessage, EngineSender, EngineSocket,
};
use crate::guard::HandshakeRequest;
use crate::runtime::Runtime;
use crate::socket::Socket;
use crate::util::rate::Bucket;
use axum::extract::ws::Message;
use bytes::Bytes;
use packet::Kind;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
pub(crate) use translate::{Translation, live as live_translations};

/// Socket.IO settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketIoConfig {
    /// Where Engine.IO is served (default `/socket.io/`).
    pub path: String,
    /// The Engine.IO settings (heartbeat, `maxPayload`, CORS origins). Its origin policy
    /// defaults to the app's.
    pub engine: Option<EngineConfig>,
    /// How long a new session may go without connecting to a namespace, over either transport
    /// (default 45 s, socket.io's `connectTimeout`); the session is then closed.
    pub connect_timeout: Duration,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        SocketIoConfig {
            path: "/socket.io/".to_owned(),
            engine: None,
            connect_timeout: Duration::from_secs(45),
        }
    }
}

impl SocketIoConfig {
    /// Serves Engine.IO at `path`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the Engine.IO settings.
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The Engine.IO server whose sessions speak Socket.IO to the app's namespaces.
pub(crate) fn engine(runtime: Arc<Runtime>, config: &SocketIoConfig) -> EngineIo {
    let engine_config = config.engine.clone().unwrap_or_else(|| {
        let mut engine = EngineConfig::default().origins(runtime.origins.clone());
        engine.read_buffer_size = runtime.config.read_buffer_size;
        engine
    });
    let limits = Limits {
        connect_timeout: config.connect_timeout,
        max_payload: engine_config.max_payload,
        attachment_timeout: engine_config.ping_timeout,
    };
    EngineIo::new(engine_config, move |socket| {
        session(runtime.clone(), socket, limits)
    })
}

/// The bounds of one session's Socket.IO layer.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// How long a session may go without a CONNECT.
    connect_timeout: Duration,
    /// The most one packet may hold: its header and all its binary attachments.
    max_payload: usize,
    /// How long a packet may wait for its attachments (the Engine.IO `ping_timeout`).
    attachment_timeout: Duration,
}

/// A BINARY_EVENT or BINARY_ACK waiting for its attachments.
struct PendingBinary {
    header: String,
    expected: usize,
    attachments: Vec<Bytes>,
    /// The header's and the attachments' bytes so far.
    bytes: usize,
    /// When the packet is dropped (and its session closed) if still incomplete.
    deadline: tokio::time::Instant,
}

/// The namespaces one Engine.IO session is connected to.
struct Session {
    runtime: Arc<Runtime>,
    sender: EngineSender,
    /// Each namespace's inbound frames, and its socket (to tell a closed one from a live one).
    namespaces: HashMap<String, (mpsc::Sender<Result<Message, axum::Error>>, Socket)>,
}

/// Handles one Engine.IO session: CONNECT/DISCONNECT per namespace, events and acks routed to
/// each namespace's socket. Returns when the session ends.
async fn session(runtime: Arc<Runtime>, mut socket: EngineSocket, limits: Limits) {
    let mut session = Session {
        runtime,
        sender: socket.sender(),
        namespaces: HashMap::new(),
    };
    let mut pending: Option<PendingBinary> = None;
    let mut invalid = false;
    let mut connected_once = false;
    let deadline = tokio::time::sleep(limits.connect_timeout);
    tokio::pin!(deadline);
    // `App::max_messages_per_second`, for the whole session (all its namespaces): past it the
    // session takes no message until the next is due. Engine.IO's control packets (ping, pong,
    // upgrade) are handled by its transports and never wait for this; see `docs/LIMITS.md`.
    let rate = session.runtime.config.message_rate;
    let mut bucket: Option<Box<Bucket>> = None;
    loop {
        let attachments_due = pending.as_ref().map(|pending| pending.deadline);
        let paused_until = bucket
            .as_deref()
            .and_then(|bucket| bucket.pause_until(tokio::time::Instant::now()));
        let payload = tokio::select! {
            payload = socket.recv(), if paused_until.is_none() => payload,
            () = sleep_until(paused_until) => continue,
            () = &mut deadline, if !connected_once => {
                tracing::debug!(sid = socket.id(), "no Socket.IO CONNECT in time: closing the session");
                break;
            }
            () = sleep_until(attachments_due) => {
                tracing::debug!(sid = socket.id(), "binary attachments not sent in time: closing the session");
                invalid = true;
                break;
            }
        };
        if let (Some(rate), Some(EngineMessage::Text(_))) = (rate, &payload) {
            // One token per Socket.IO packet (a packet's binary attachments go with it).
            let now = tokio::time::Instant::now();
            bucket
                .get_or_insert_with(|| Box::new(Bucket::new(rate, now)))
                .take(now);
        }
        let result = match payload {
            None => break,
            Some(EngineMessage::Text(text)) => {
                if pending.is_some() {
                    Err("a text packet while binary attachments were expected")
                } else {
                    session
                        .text(&text, &socket, &mut pending, &mut connected_once, limits)
                        .await
                }
            }
            Some(EngineMessage::Binary(bytes)) => match pending.as_mut() {
                Some(waiting) if waiting.bytes + bytes.len() > limits.max_payload => {
                    Err("binary attachments over maxPayload")
                }
                Some(waiting) => {
                    waiting.bytes += bytes.len();
                    waiting.attachments.push(bytes);
                    if waiting.attachments.len() == waiting.expected {
                        let PendingBinary {
                            header,
                            attachments,
                            ..
                        } = pending.take().expect("checked just above");
                        session.binary(&header, &attachments).await
                    } else {
                        Ok(())
                    }
                }
                None => Err("a binary frame nobody announced"),
            },
        };
        if let Err(reason) = result {
            tracing::debug!(
                sid = socket.id(),
                reason,
                "invalid Socket.IO packet: closing the session"
            );
            invalid = true;
            break;
        }
    }
    socket.close();
    // Every namespace socket of this session ends, learning why (for `#[on_disconnect]`).
    let reason = if invalid {
        CloseReason::InvalidPacket
    } else {
        socket.close_reason().unwrap_or(CloseReason::TransportClose)
    };
    for (_, (inbound, _)) in session.namespaces.drain() {
        let _ = inbound.try_send(Err(axum::Error::new(SessionEnded(reason))));
    }
}

/// Completes at `deadline`; never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The last item of a namespace socket's stream when its Engine.IO session ended.
#[derive(Debug, thiserror::Error)]
#[error("the Engine.IO session ended: {0:?}")]
pub(crate) struct SessionEnded(pub(crate) CloseReason);

impl Session {
    async fn text(
        &mut self,
        text: &str,
        socket: &EngineSocket,
        pending: &mut Option<PendingBinary>,
        connected_once: &mut bool,
        limits: Limits,
    ) -> Result<(), &'static str> {
        let packet = packet::decode(text).map_err(|_| "not a Socket.IO packet")?;
        match packet.kind {
            Kind::Connect => {
                *connected_once = true;
                self.connect(packet.nsp, packet.data, socket).await;
                Ok(())
            }
            Kind::Disconnect => {
                // Dropping the sender ends that socket's stream: a client disconnect.
                self.namespaces.remove(packet.nsp);
                Ok(())
            }
            Kind::BinaryEvent | Kind::BinaryAck if packet.attachments > 0 => {
                *pending = Some(PendingBinary {
                    header: text.to_owned(),
                    expected: packet.attachments,
                    attachments: Vec::with_capacity(packet.attachments),
                    bytes: text.len(),
                    deadline: tokio::time::Instant::now() + limits.attachment_timeout,
                });
                Ok(())
            }
            _ => self.route(&packet, &[]).await,
        }
    }

    async fn binary(&mut self, header: &str, attachments: &[Bytes]) -> Result<(), &'static str> {
        let packet = packet::decode(header).map_err(|_| "not a Socket.IO packet")?;
        self.route(&packet, attachments).await
    }

    /// An EVENT or ACK, to its namespace's socket as a ws-json frame.
    async fn route(
        &mut self,
        packet: &packet::Packet<'_>,
        attachments: &[Bytes],
    ) -> Result<(), &'static str> {
        let frame = translate::incoming(packet, attachments).map_err(|_| "malformed arguments")?;
        let Some((inbound, _)) = self.namespaces.get(packet.nsp) else {
            tracing::debug!(
                nsp = packet.nsp,
                "a packet for a namespace this client is not connected to"
            );
            return Ok(());
        };
        if inbound.send(Ok(Message::Text(frame.into()))).await.is_err() {
            // The server closed that socket; the client will learn it from the DISCONNECT.
            self.namespaces.remove(packet.nsp);
        }
        Ok(())
    }

    /// CONNECT to a namespace: guards, then a socket served by the core.
    async fn connect(&mut self, nsp: &str, auth: &str, engine_socket: &EngineSocket) {
        let runtime = self.runtime.clone();
        // The guards run before the namespace is looked up: for a dynamic gateway's path that
        // lookup makes a namespace, which only a client that passed them may do.
        let Some(guards) = runtime.handshake_guards(nsp) else {
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        match self.namespaces.get(nsp) {
            Some((_, socket)) if socket.connected() => return,
            // The server closed that socket (a kick, an expired token: its DISCONNECT went out
            // first): the client may connect again on the same session.
            Some(_) => {
                self.namespaces.remove(nsp);
            }
            None => {}
        }
        let auth: Option<serde_json::Value> = if auth.is_empty() {
            None
        } else {
            serde_json::from_str(auth).ok()
        };
        let mut handshake = engine_socket.handshake().clone();
        handshake.auth = auth.map(Box::new);
        let mut request = HandshakeRequest::new(handshake, Some(runtime.state.clone()));
        if let Err(rejection) = crate::guard::check_all(guards, &mut request).await {
            let data = serde_json::json!({"status": rejection.status().as_u16()});
            self.connect_error(nsp, rejection.message(), Some(data));
            return;
        }
        let Some(namespace) = runtime.namespace(nsp) else {
            // Too many dynamic namespaces.
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        let (handshake, extensions) = request.into_parts();
        let socket = Socket::new(
            handshake,
            runtime.config.outbound_queue,
            namespace.clone(),
            runtime.clone(),
        );
        if !extensions.is_empty() {
            socket.extend_extensions(extensions);
        }
        // The namespace's own cache: shared by its sockets, gone with it.
        let translation = namespace.translation().clone();
        {
            // Frames go straight to the session, translated on the sending task: no second
            // queue and no writer task hop per frame.
            let (sender, nsp, translation) =
                (self.sender.clone(), nsp.to_owned(), translation.clone());
            socket.set_direct(Box::new(move |frame, volatile| {
                let sent = if volatile {
                    translation.send_volatile(&sender, &frame, &nsp)
                } else {
                    translation.send(&sender, &frame, &nsp).map(|()| true)
                };
                sent.map_err(|_| crate::socket::SendError::Closed)
            }));
        }
        // The CONNECT answer goes before anything the connection hooks emit.
        let reply = serde_json::json!({"sid": socket.id()}).to_string();
        let _ = self.sender.send(EngineMessage::text(packet::encode(
            Kind::Connect,
            nsp,
            None,
            0,
            &reply,
        )));
        let (inbound, receiver) = mpsc::channel(runtime.config.max_in_flight.max(1));
        self.namespaces
            .insert(nsp.to_owned(), (inbound, socket.clone()));
        let transport = Transport {
            stream: tokio_stream_of(receiver),
            sink: translating_sink(self.sender.clone(), nsp.to_owned(), translation),
            heartbeat: false,
            close_handshake: false,
            // The inbound rate limit is the session's (above): a namespace socket that paused
            // here would stall the whole session behind it.
            rate_limit: false,
        };
        runtime.connections.spawn(connection::serve(
            socket,
            transport,
            runtime.clone(),
            namespace,
        ));
    }

    fn connect_error(&self, nsp: &str, message: &str, data: Option<serde_json::Value>) {
        let mut body = serde_json::json!({"message": message});
        if let Some(data) = data {
            body["data"] = data;
        }
        let packet = packet::encode(Kind::ConnectError, nsp, None, 0, &body.to_string());
        let _ = self.sender.send(EngineMessage::text(packet));
    }
}

/// The stream of ws-json frames the session routes to one namespace socket.
fn tokio_stream_of(
    mut receiver: mpsc::Receiver<Result<Message, axum::Error>>,
) -> impl futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin + Send {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// A sink that turns the core's ws-json frames into Socket.IO packets on the session.
fn translating_sink(
    sender: EngineSender,
    nsp: String,
    translation: Arc<Translation>,
) -> impl futures_util::Sink<Message, Error = axum::Error> + Unpin + Send + 'static {
    Box::pin(futures_util::sink::unfold(
        (sender, nsp, translation),
        |(sender, nsp, translation), message: Message| async move {
            match message {
                // Text frames normally go straight to the session (`Socket::set_direct`).
                Message::Text(frame) => translation
                    .send(&sender, &frame, &nsp)
                    .map_err(axum::Error::new)?,
                Message::Close(Some(frame)) if frame.code == crate::close::GOING_AWAY => {
                    // The server is shutting down: close the whole session, as socket.io's
                    // `io.close()` does, so that clients reconnect by themselves (a DISCONNECT
                    // packet would tell them not to).
                    sender.close();
                }
                Message::Close(Some(_)) => {
                    // The server closed this namespace's socket: tell the client.
                    let packet = packet::encode(Kind::Disconnect, &nsp, None, 0, "");
                    let _ = sender.send(EngineMessage::text(packet));
                }
                Message::Close(None) | Message::Ping(_) | Message::Pong(_) => {}
                Message::Binary(_) => {}
            }
            Ok::<_, axum::Error>((sender, nsp, translation))
        },
    ))
}

/// Parses `data` as a Socket.IO packet and translates it both ways, with `data` also as a
/// binary attachment (see `__internals::fuzz_protocols`).
pub(crate) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(packet) = packet::decode(text) {
        let attachments = vec![Bytes::copy_from_slice(data); packet.attachments];
        if let Ok(frame) = translate::incoming(&packet, &attachments) {
            let _ = translate::outgoing(&frame, packet.nsp);
        }
    }
    let _ = translate::outgoing(text, "/fuzz");
}

#[cfg(test)]
mod tests {
    /// Seeds from both protocols, mutated at random (a fixed seed, so failures reproduce): no
    /// input makes a parser or translator panic. `cargo fuzz run protocols` goes further.
    #[test]
    fn random_client_input_never_panics() {
        let seeds: [&[u8]; 7] = [
            br#"2["message",1,"2",{"3":[true]}]"#,
            br#"52-789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            br#"0/custom,{"token":"abc"}"#,
            b"4test1\x1e4test2\x1ebAQIDBA==",
            br#"{"ack":3,"data":{"$args":[{"$binary":"AQID"},2]}}"#,
            br#"{"event":"e","data":{"$binary":"AQID"},"id":1}"#,
            br#"3/x,12[{"_placeholder":true,"num":9}]"#,
        ];
        let alphabet = br#"0123456789[]{}",:/-$_abcnptrue\ "#;
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50_000 {
            let mut input = seeds[round % seeds.len()].to_vec();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => {
                        input.remove(at);
                    }
                    1 => input.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                    _ if at < input.len() => input[at] = (next() & 0xff) as u8,
                    _ => {}
                }
            }
            crate::__internals::fuzz_protocols(&input);
        }
    }
}
