//! One Engine.IO session's Socket.IO side ([`Client`]): the CONNECT of each namespace (its
//! guards, then a socket served by the connection driver), the packets in, routed to their
//! namespace's socket, and binary attachments awaited within their bounds.
//!
//! The client is the session's [`Direct`] handler: the transport that read a message (the
//! WebSocket's reader, or a polling POST) hands it over at once, and an event goes from there
//! straight into its namespace socket's queue — no queue and no task of the session's own in
//! between. Only what must wait (a CONNECT's guards, a full namespace queue, the rate limit) is
//! a future, which the transport awaits before it reads on: backpressure, as before.

use super::packet::{self, Kind};
use super::sink::{text_sink, translating_sink};
use super::translate;
use crate::connection::{self, Handoff, Inbound, Recovering, Transport};
use crate::engineio::{CloseReason, Direct, EngineMessage, EngineSender, Waiting};
use crate::guard::HandshakeRequest;
use crate::handshake::Handshake;
use crate::runtime::Runtime;
use crate::socket::{DisconnectReason, Socket};
use crate::util::queue::{self, TrySend};
use crate::util::rate::Bucket;
use crate::util::sync::lock;
use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::task::AbortHandle;

/// The bounds of one session's Socket.IO layer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// How long a session may go without a CONNECT.
    pub(super) connect_timeout: Duration,
    /// The most one packet may hold: its header and all its binary attachments.
    pub(super) max_payload: usize,
    /// How long a packet may wait for its attachments (the Engine.IO `ping_timeout`).
    pub(super) attachment_timeout: Duration,
}

/// A BINARY_EVENT or BINARY_ACK waiting for its attachments.
struct PendingBinary {
    header: String,
    expected: usize,
    attachments: Vec<Bytes>,
    /// The header's and the attachments' bytes so far.
    bytes: usize,
    /// Closes the session if the attachments are not all there in time.
    deadline: AbortHandle,
}

/// Each namespace's inbound frames, its socket (to tell a closed one from a live one), and what
/// lets this client start the socket's handlers itself (on the transport's task that read the
/// frame, when the socket's reader has nothing to do: one task hop fewer per message).
type Namespaces = super::namespaces::Namespaces<Entry>;

struct Entry {
    inbound: queue::Sender<Result<Inbound, axum::Error>>,
    socket: Socket,
    handoff: Arc<Handoff>,
}

/// One Socket.IO client: the namespaces one Engine.IO session is connected to (socketioxide's
/// `Client`; not the Engine.IO `Session` under it).
pub(super) struct Client {
    runtime: Arc<Runtime>,
    sender: EngineSender,
    handshake: Handshake,
    limits: Limits,
    /// Itself, for the deadlines' tasks.
    this: Weak<Client>,
    /// Never held while calling the session (which may close, and so call [`Direct::closed`]).
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    namespaces: Namespaces,
    pending: Option<PendingBinary>,
    /// Until the first CONNECT: what closes a session that never connects.
    connect_deadline: Option<AbortHandle>,
    /// `App::max_messages_per_second`, for the whole session (all its namespaces): past it the
    /// session takes no message until the next is due. Engine.IO's control packets (ping,
    /// pong, upgrade) are handled by its transports and never wait for this; see
    /// `docs/LIMITS.md`. Made at the first message.
    bucket: Option<Box<Bucket>>,
    /// The session has closed: nothing is connected any more.
    closed: bool,
}

impl Client {
    /// The client of a new session; it closes the session if no CONNECT comes in time.
    pub(super) fn new(
        runtime: Arc<Runtime>,
        sender: EngineSender,
        handshake: Handshake,
        limits: Limits,
    ) -> Arc<Client> {
        Arc::new_cyclic(|client: &Weak<Client>| {
            let deadline = spawn_deadline(client.clone(), limits.connect_timeout, |client| {
                tracing::debug!(
                    sid = client.sender.id(),
                    "no Socket.IO CONNECT in time: closing the session"
                );
                client.sender.close();
            });
            Client {
                runtime,
                sender,
                handshake,
                limits,
                this: client.clone(),
                state: Mutex::new(State {
                    connect_deadline: Some(deadline),
                    ..State::default()
                }),
            }
        })
    }

    /// A packet that breaks the protocol: the session is closed.
    fn invalid(&self, reason: &'static str) -> Option<Waiting> {
        tracing::debug!(
            sid = self.sender.id(),
            reason,
            "invalid Socket.IO packet: closing the session"
        );
        self.sender.close();
        None
    }

    fn text(self: &Arc<Self>, text: Utf8Bytes) -> Option<Waiting> {
        let Ok(packet) = packet::decode(text.as_str()) else {
            return self.invalid("not a Socket.IO packet");
        };
        let waiting_for_attachments = lock(&self.state).pending.is_some();
        if waiting_for_attachments {
            return self.invalid("a text packet while binary attachments were expected");
        }
        match packet.kind {
            Kind::Connect => {
                if let Some(deadline) = lock(&self.state).connect_deadline.take() {
                    deadline.abort();
                }
                drop(packet);
                let client = self.clone();
                Some(Box::pin(async move {
                    // Decoded again here: the future owns the text, not a borrow of it.
                    if let Ok(packet) = packet::decode(text.as_str()) {
                        client.connect(packet.nsp, packet.data).await;
                    }
                }))
            }
            Kind::Disconnect => {
                // Dropping the sender ends that socket's stream: a client disconnect.
                let gone = lock(&self.state).namespaces.remove(packet.nsp);
                drop(gone);
                None
            }
            Kind::BinaryEvent | Kind::BinaryAck if packet.attachments > 0 => {
                let deadline = spawn_deadline(
                    self.this.clone(),
                    self.limits.attachment_timeout,
                    |client| {
                        let waiting = lock(&client.state).pending.is_some();
                        if waiting {
                            client.invalid("binary attachments not sent in time");
                        }
                    },
                );
                lock(&self.state).pending = Some(PendingBinary {
                    header: text.as_str().to_owned(),
                    expected: packet.attachments,
                    attachments: Vec::with_capacity(packet.attachments),
                    bytes: text.len(),
                    deadline,
                });
                None
            }
            _ => {
                let inbound = match translate::decoded(&packet, &text) {
                    Ok(Some((frame, decoded))) => Inbound::Decoded(frame, decoded),
                    Ok(None) => match translate::incoming(&packet, &[]) {
                        Ok(frame) => Inbound::Message(Message::Text(frame.into())),
                        Err(_) => return self.invalid("malformed arguments"),
                    },
                    Err(_) => return self.invalid("malformed arguments"),
                };
                self.route(packet.nsp, inbound)
            }
        }
    }

    fn binary(self: &Arc<Self>, bytes: Bytes) -> Option<Waiting> {
        let complete = {
            let mut state = lock(&self.state);
            let Some(waiting) = state.pending.as_mut() else {
                drop(state);
                return self.invalid("a binary frame nobody announced");
            };
            if waiting.bytes + bytes.len() > self.limits.max_payload {
                drop(state);
                return self.invalid("binary attachments over maxPayload");
            }
            waiting.bytes += bytes.len();
            waiting.attachments.push(bytes);
            if waiting.attachments.len() < waiting.expected {
                return None;
            }
            state.pending.take()
        };
        let PendingBinary {
            header,
            attachments,
            deadline,
            ..
        } = complete?;
        deadline.abort();
        let Ok(packet) = packet::decode(&header) else {
            return self.invalid("not a Socket.IO packet");
        };
        // With its attachments, as a ws-json frame (the bytes become `{"$binary": ...}`).
        let Ok(frame) = translate::incoming(&packet, &attachments) else {
            return self.invalid("malformed arguments");
        };
        self.route(packet.nsp, Inbound::Message(Message::Text(frame.into())))
    }

    /// An EVENT or ACK, to its namespace's socket: started here if its reader has nothing to do,
    /// else queued for it — at once, or (its queue full) when there is room.
    fn route(self: &Arc<Self>, nsp: &str, frame: Inbound) -> Option<Waiting> {
        let (inbound, socket, handoff) = match lock(&self.state).namespaces.get(nsp) {
            Some(entry) => (
                entry.inbound.clone(),
                entry.socket.clone(),
                entry.handoff.clone(),
            ),
            None => {
                tracing::debug!(
                    nsp,
                    "a packet for a namespace this client is not connected to"
                );
                return None;
            }
        };
        let item = match handoff.offer(&socket, frame) {
            Ok(None) => return None,
            Ok(Some(started)) => Inbound::Started(started),
            Err(frame) => frame,
        };
        let item = match inbound.try_send(Ok(item)) {
            Ok(()) => return None,
            Err(TrySend::Full(item)) => item,
            Err(TrySend::Closed(_)) => {
                // The server closed that socket; the client will learn it from the DISCONNECT.
                let gone = lock(&self.state).namespaces.remove(nsp);
                drop(gone);
                return None;
            }
        };
        Some(Box::pin(async move {
            // An error: the socket closed meanwhile (its DISCONNECT tells the client).
            let _ = inbound.send(item).await;
        }))
    }

    /// CONNECT to a namespace: guards, then a socket served by the core.
    async fn connect(&self, nsp: &str, auth: &str) {
        let runtime = self.runtime.clone();
        // The guards run before the namespace is looked up: for a dynamic gateway's path that
        // lookup makes a namespace, which only a client that passed them may do.
        let Some(guards) = runtime.handshake_guards(nsp) else {
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        let gone = {
            let mut state = lock(&self.state);
            match state.namespaces.get(nsp) {
                Some(entry) if entry.socket.connected() => return,
                // The server closed that socket (a kick, an expired token: its DISCONNECT went
                // out first): the client may connect again on the same session.
                Some(_) => state.namespaces.remove(nsp),
                None => None,
            }
        };
        drop(gone);
        let auth: Option<serde_json::Value> = if auth.is_empty() {
            None
        } else {
            serde_json::from_str(auth).ok()
        };
        // Connection-state recovery: socket.io's clients present `pid` and `offset` beside
        // their own auth fields.
        let presented = auth.as_ref().and_then(presented_session);
        let skip = presented.as_ref().is_some_and(|(pid, _)| {
            runtime
                .namespaces
                .get(nsp)
                .and_then(|namespace| namespace.recovery())
                .is_some_and(|recovery| recovery.skips_guards(pid))
        });
        let mut handshake = self.handshake.clone();
        handshake.auth = auth.map(Box::new);
        let mut request = HandshakeRequest::new(handshake, Some(runtime.state.clone()));
        if let Err(rejection) = match skip {
            true => Ok(()),
            false => crate::guard::check_all(guards, &mut request).await,
        } {
            if let Some(metrics) = runtime.metrics(nsp) {
                metrics.refused_by_guard(rejection.status().as_u16());
            }
            let data = serde_json::json!({"status": rejection.status().as_u16()});
            self.connect_error(nsp, rejection.message(), Some(data));
            return;
        }
        let Some(namespace) = runtime.namespace(nsp) else {
            // Too many dynamic namespaces.
            if let Some(metrics) = runtime.metrics(nsp) {
                metrics.rejected("too_many_namespaces");
            }
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        if lock(&self.state).closed {
            return;
        }
        let recovering = match namespace.recovery() {
            Some(recovery) => {
                let (pid, offset) = match &presented {
                    Some((pid, offset)) => (Some(pid.as_str()), offset.as_deref()),
                    None => (None, None),
                };
                let attempt = recovery.attempt(pid, offset).await;
                Some(Recovering::new(recovery, attempt, false))
            }
            None => None,
        };
        if lock(&self.state).closed {
            return;
        }
        let socket = connection::accept(
            request,
            recovering.as_deref(),
            namespace.clone(),
            runtime.clone(),
        );
        // Frames go straight to the session, translated on the sending task: no second
        // queue and no writer task hop per frame.
        socket.set_text_sink(text_sink(self.sender.clone(), nsp.to_owned()));
        // The CONNECT answer goes before anything the connection hooks emit; with recovery it
        // carries the session (`pid`), which the client presents when it reconnects.
        let reply = match &recovering {
            Some(recovering) => {
                serde_json::json!({"sid": socket.id(), "pid": &*recovering.session})
            }
            None => serde_json::json!({"sid": socket.id()}),
        }
        .to_string();
        let _ = self.sender.send(EngineMessage::text(packet::encode(
            Kind::Connect,
            nsp,
            None,
            0,
            &reply,
        )));
        let (inbound, receiver) = queue::channel(runtime.config.max_in_flight.max(1));
        let handoff = Handoff::new();
        {
            let mut state = lock(&self.state);
            if state.closed {
                // Closed while it was being answered: the socket never starts.
                return;
            }
            let entry = Entry {
                inbound,
                socket: socket.clone(),
                handoff: handoff.clone(),
            };
            state.namespaces.insert(nsp, entry);
        }
        let transport = Transport {
            stream: tokio_stream_of(receiver),
            sink: translating_sink(self.sender.clone(), nsp.to_owned()),
            heartbeat: false,
            close_handshake: false,
            // The inbound rate limit is the session's (`State::bucket`): a namespace socket
            // that paused here would stall the whole session behind it.
            rate_limit: false,
            // Its frames go through the text sink; the queue only carries its close.
            writer_task: false,
            handoff: Some(handoff),
            recovery: recovering,
            wire: crate::metrics::Wire::SocketIo,
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

    /// Waits until the rate limit lets one more message in, and takes its token.
    fn pace(&self) -> Option<tokio::time::Instant> {
        let rate = self.runtime.config.message_rate?;
        let now = tokio::time::Instant::now();
        let mut state = lock(&self.state);
        let bucket = state
            .bucket
            .get_or_insert_with(|| Box::new(Bucket::new(rate, now)));
        if let Some(until) = bucket.pause_until(now) {
            return Some(until);
        }
        bucket.take(now);
        None
    }

    fn handle(self: &Arc<Self>, message: EngineMessage) -> Option<Waiting> {
        match message {
            EngineMessage::Text(text) => self.text(text),
            EngineMessage::Binary(bytes) => self.binary(bytes),
        }
    }
}

impl Direct for Client {
    fn message(self: Arc<Self>, message: EngineMessage) -> Option<Waiting> {
        // One token per Socket.IO packet (a packet's binary attachments go with it).
        if matches!(message, EngineMessage::Text(_))
            && let Some(until) = self.pace()
        {
            return Some(Box::pin(async move {
                let mut until = until;
                loop {
                    tokio::time::sleep_until(until).await;
                    match self.pace() {
                        Some(later) => until = later,
                        None => break,
                    }
                }
                if let Some(waiting) = self.handle(message) {
                    waiting.await;
                }
            }));
        }
        self.handle(message)
    }

    fn closed(&self, reason: CloseReason) {
        // Every namespace socket of this session ends, learning why (for `#[on_disconnect]`).
        let reason = disconnect_reason(reason);
        let (namespaces, pending, deadline) = {
            let mut state = lock(&self.state);
            state.closed = true;
            (
                state.namespaces.take(),
                state.pending.take(),
                state.connect_deadline.take(),
            )
        };
        for deadline in [pending.map(|pending| pending.deadline), deadline]
            .into_iter()
            .flatten()
        {
            deadline.abort();
        }
        for Entry { inbound, .. } in namespaces {
            let _ = inbound.try_send(Err(axum::Error::new(connection::Ended(reason.clone()))));
        }
    }
}

/// Runs `expired` with the client after `after`, unless aborted first or the client is gone.
fn spawn_deadline(
    client: Weak<Client>,
    after: Duration,
    expired: impl FnOnce(&Client) + Send + 'static,
) -> AbortHandle {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        if let Some(client) = client.upgrade() {
            expired(&client);
        }
    })
    .abort_handle()
}

/// Why a namespace socket ended when its Engine.IO session did: the reason its
/// `#[on_disconnect]` hooks see, sent as the last item of its stream ([`connection::Ended`]).
fn disconnect_reason(reason: CloseReason) -> DisconnectReason {
    match reason {
        CloseReason::ClientClose => DisconnectReason::ClientClose,
        CloseReason::PingTimeout => DisconnectReason::HeartbeatTimeout,
        CloseReason::TooLarge => DisconnectReason::MessageTooLarge,
        CloseReason::SlowClient => DisconnectReason::SlowConsumer,
        CloseReason::TransportClose | CloseReason::InvalidPacket | CloseReason::ServerClose => {
            DisconnectReason::TransportError
        }
    }
}

/// The stream of frames the session routes to one namespace socket.
fn tokio_stream_of(
    mut receiver: queue::Receiver<Result<Inbound, axum::Error>>,
) -> impl futures_util::Stream<Item = Result<Inbound, axum::Error>> + Unpin + Send {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// The session a socket.io client presents to recover: `pid` and `offset` in its CONNECT's
/// auth payload. It has no offset when no stored message reached it since it connected
/// (socket.io's own server does not recover it then; nestgate does, from its registration).
fn presented_session(auth: &serde_json::Value) -> Option<(String, Option<String>)> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = auth.get("offset").and_then(|offset| offset.as_str());
    Some((pid.to_owned(), offset.map(str::to_owned)))
}
