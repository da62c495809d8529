//! [`Socket`]: one connected client, as handlers see it.

use crate::ack::{AckError, AckResponse, AckSender, decode_answer};
use crate::util::sync::{lock, read, write};
mod membership;

pub use membership::TooManyRooms;

use crate::adapter::{BroadcastOptions, Room, SocketInfo};
use crate::close;
use crate::error::WsException;
use crate::error::truncate_reason;
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::operators::{IntoRooms, Operators};
use crate::outbound::{Outbound, Push};
use crate::protocol;
use crate::runtime::Runtime;
use crate::server::Server;
use crate::util::id::new_id;
use crate::util::signal::Signal;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use axum::http::Extensions;
use membership::Membership;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// A connected client: its id, handshake and extensions, and the way to emit to it, make it
/// leave, or close it.
///
/// `Socket` is an extractor and is cheap to clone (an `Arc`). A clone kept after the client
/// left is harmless: emitting to it returns [`SendError::Closed`].
///
/// ```
/// use nestgate::prelude::*;
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Greeter;
///
/// #[websocket_gateway]
/// impl Greeter {
///     #[subscribe_message("hello")]
///     fn hello(&self, socket: Socket) {
///         // Reaches this client only: {"event":"greeting","data":"hello <id>"}.
///         let _ = socket.emit("greeting", &format!("hello {}", socket.id()));
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    id: Arc<str>,
    handshake: Handshake,
    outbound: Outbound,
    /// The socket is closing: the reader stops reading and runs the disconnect hooks.
    closing: Signal,
    /// The writer stops at once, dropping what is queued (a slow consumer, a lost transport).
    abort: Signal,
    cause: Mutex<Option<Closing>>,
    extensions: RwLock<Extensions>,
    /// Set for Socket.IO sockets: text frames go straight to the Engine.IO session (translated
    /// there), not through the outbound queue and the writer task; only the close goes that way.
    direct: std::sync::OnceLock<Box<DirectSend>>,
    membership: Mutex<Membership>,
    /// Acknowledgements the server is waiting for: (ack id, where the answer goes).
    pending_acks: Mutex<Vec<(u64, AckSender)>>,
    namespace: Arc<Namespace>,
    runtime: Arc<Runtime>,
}

/// Why and how a socket is closing.
#[derive(Debug, Clone)]
pub(crate) struct Closing {
    pub(crate) reason: DisconnectReason,
    /// The close frame to send, if any.
    pub(crate) frame: Option<(u16, Cow<'static, str>)>,
}

/// Why a connection ended; given to `#[on_disconnect]` hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent a close frame.
    ClientClose,
    /// The connection was lost or failed (reset, EOF without a close frame, protocol error).
    TransportError,
    /// The client did not answer pings in time.
    HeartbeatTimeout,
    /// The server is shutting down (close code 1001).
    ServerShutdown,
    /// The server closed the socket with [`Socket::disconnect`].
    Kicked,
    /// The client sent a frame over the size limit (close code 1009).
    MessageTooLarge,
    /// The client did not read fast enough and its outbound queue overflowed (close code 1013).
    SlowConsumer,
    /// The client sent a text frame that is not valid UTF-8 (close code 1007).
    InvalidPayload,
    /// The socket's token expired without a valid fresh one (close code 4001, see
    /// [`refresh`](crate::refresh)).
    TokenExpired,
    /// The handshake guards refused the fresh token the server asked for (close code 4003).
    RefreshRefused,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisconnectReason::ClientClose => "client close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::HeartbeatTimeout => "heartbeat timeout",
            DisconnectReason::ServerShutdown => "server shutdown",
            DisconnectReason::Kicked => "kicked",
            DisconnectReason::MessageTooLarge => "message too large",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::InvalidPayload => "invalid payload",
            DisconnectReason::TokenExpired => "token expired",
            DisconnectReason::RefreshRefused => "refresh refused",
        })
    }
}

/// Why a frame could not be queued for a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The value could not be serialized.
    #[error("cannot serialize the frame: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The client is gone.
    #[error("the socket is closed")]
    Closed,
    /// The client's outbound queue was full; it is being closed with 1013.
    #[error("the client's outbound queue is full; it is being disconnected as a slow consumer")]
    SlowConsumer,
}

impl From<SendError> for WsException {
    /// An emit that failed: serialization is an internal error; a client that is gone or too
    /// slow is not the handler's fault, and is said so (nobody may be listening anyway).
    fn from(err: SendError) -> Self {
        match err {
            SendError::Serialize(err) => err.into(),
            other => WsException::new(other.to_string()),
        }
    }
}

/// Where a Socket.IO socket's text frames go, and whether each is volatile (dropped, not
/// fatal, when the session's queue is full); `Ok(false)`: dropped.
pub(crate) type DirectSend = dyn Fn(Utf8Bytes, bool) -> Result<bool, SendError> + Send + Sync;

impl Socket {
    pub(crate) fn new(
        handshake: Handshake,
        outbound_capacity: usize,
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
    ) -> Self {
        let inner = SocketInner {
            id: new_id(),
            handshake,
            outbound: Outbound::new(outbound_capacity, runtime.config.outbound_queue_bytes),
            closing: Signal::default(),
            abort: Signal::default(),
            cause: Mutex::new(None),
            extensions: RwLock::new(Extensions::new()),
            direct: std::sync::OnceLock::new(),
            membership: Mutex::new(Membership::default()),
            pending_acks: Mutex::new(Vec::new()),
            namespace,
            runtime,
        };
        Socket {
            inner: Arc::new(inner),
        }
    }

    /// The socket's id: 22 random URL-safe characters, unique for the server's lifetime.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The HTTP request that opened the connection.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// The path of the gateway(s) this socket is connected to.
    pub fn path(&self) -> &str {
        self.inner.namespace.path()
    }

    /// The server of this socket's path, to emit to every client.
    pub fn server(&self) -> Server {
        Server::new(self.inner.namespace.clone(), self.inner.runtime.clone())
    }

    /// Sends `{"event": event, "data": data}` to this client.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), SendError> {
        let frame = protocol::encode_event(event, data)?;
        self.send_text(frame.into())
    }

    /// Sends `{"event": event, "data": data}` to this client unless its outbound queue is full,
    /// in which case the frame is dropped (the client is not closed).
    pub fn emit_volatile<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), SendError> {
        let frame = protocol::encode_event(event, data)?;
        if self.send_frame(frame.into(), true) {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    /// Sends `{"event": event, "data": data, "id": <n>}` and waits for the client's
    /// `{"ack": <n>, "data": ...}`, within the app's ack timeout (default 5 s).
    ///
    /// ```
    /// # async fn ask(socket: nestgate::Socket) {
    /// match socket.emit_with_ack::<_, bool>("confirm", "delete everything?").await {
    ///     Ok(true) => println!("confirmed"),
    ///     Ok(false) => println!("declined"),
    ///     Err(err) => println!("no answer: {err}"),
    /// }
    /// # }
    /// ```
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let timeout = self.inner.runtime.config.ack_timeout;
        self.emit_with_ack_timeout(event, data, timeout).await
    }

    /// [`Socket::emit_with_ack`] with its own timeout.
    pub async fn emit_with_ack_timeout<T, R>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let ack_id = self.inner.runtime.next_ack_id();
        let frame = protocol::encode_event_with_id(event, data, ack_id)
            .map_err(|err| AckError::Decode(format!("cannot serialize the frame: {err}")))?;
        let (sender, mut receiver) = mpsc::channel(1);
        self.expect_ack(ack_id, sender);
        if !self.send_frame(frame.into(), false) {
            self.forget_ack(ack_id);
            return Err(AckError::NotSent);
        }
        match tokio::time::timeout(timeout, receiver.recv()).await {
            Ok(Some(answer)) => answer.result.and_then(|raw| decode_answer(&raw)),
            Ok(None) => Err(AckError::Disconnected),
            Err(_) => {
                self.forget_ack(ack_id);
                Err(AckError::Timeout)
            }
        }
    }

    /// The rooms this socket is in, in join order (not counting the implicit room named by its
    /// id). In an `#[on_disconnect]` hook: the rooms it was in when it left. To test one room,
    /// [`Socket::in_room`] does not copy the list.
    pub fn rooms(&self) -> Vec<Room> {
        lock(&self.inner.membership).rooms()
    }

    /// Whether this socket is in `room` (O(1)).
    pub fn in_room(&self, room: &str) -> bool {
        lock(&self.inner.membership).contains(room)
    }

    /// Joins one room or many: `socket.join("lobby")`, `socket.join(["a", "b"])`.
    ///
    /// A socket is in at most [`App::max_rooms_per_socket`](crate::App::max_rooms_per_socket)
    /// rooms (default 1,000): past it, the rooms that fit are joined and the others are not
    /// (logged as a warning, once per socket). Use [`Socket::try_join`] to tell the client.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.inner.namespace.store().join(self, &rooms.into_rooms());
    }

    /// Joins these rooms, or none of them when the socket would then be in more than
    /// [`App::max_rooms_per_socket`](crate::App::max_rooms_per_socket).
    ///
    /// ```
    /// use nestgate::prelude::*;
    ///
    /// fn enter(socket: &Socket, room: String) -> Result<(), WsException> {
    ///     socket
    ///         .try_join(room)
    ///         .map_err(|refused| WsException::new(refused.to_string()))
    /// }
    /// ```
    pub fn try_join(&self, rooms: impl IntoRooms) -> Result<(), TooManyRooms> {
        self.inner
            .namespace
            .store()
            .try_join(self, &rooms.into_rooms())
    }

    /// Leaves one room or many.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.inner
            .namespace
            .store()
            .leave(self, &rooms.into_rooms());
    }

    /// Targets the sockets in these rooms, this one excepted (socket.io's `socket.to`).
    pub fn to(&self, rooms: impl IntoRooms) -> Operators {
        self.operators().to(rooms)
    }

    /// Targets the sockets in these rooms, this one included.
    pub fn within(&self, rooms: impl IntoRooms) -> Operators {
        Operators::new(self.inner.namespace.clone(), self.inner.runtime.clone()).to(rooms)
    }

    /// Targets every socket of the path but this one and those in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> Operators {
        self.operators().except(rooms)
    }

    /// Targets every socket of the path but this one (socket.io's `socket.broadcast`).
    pub fn broadcast(&self) -> Operators {
        self.operators()
    }

    fn operators(&self) -> Operators {
        let options = BroadcastOptions {
            sender: Some(self.id().to_owned()),
            ..BroadcastOptions::default()
        };
        Operators::with_options(
            self.inner.namespace.clone(),
            self.inner.runtime.clone(),
            options,
        )
    }

    /// Whether the client is still connected (no close has started).
    pub fn connected(&self) -> bool {
        !self.inner.closing.is_fired()
    }

    /// Closes the connection with code 1000; the disconnect hooks see [`DisconnectReason::Kicked`].
    ///
    /// Frames already queued for the client are sent before the close frame.
    pub fn disconnect(&self) {
        self.disconnect_with(close::NORMAL, "disconnected by the server");
    }

    /// Closes the connection with a close code and reason (at most 123 bytes are sent);
    /// the disconnect hooks see [`DisconnectReason::Kicked`].
    pub fn disconnect_with(&self, code: u16, reason: &str) {
        self.close(
            DisconnectReason::Kicked,
            Some((code, Cow::Owned(truncate_reason(reason)))),
        );
    }

    /// Stores a typed value on this socket, replacing any previous value of that type.
    ///
    /// Set it in the `#[on_connection]` hook, read it in later handlers with [`Socket::extension`].
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) {
        write(&self.inner.extensions).insert(value);
    }

    /// Adds what the handshake guards established.
    pub(crate) fn extend_extensions(&self, extensions: Extensions) {
        write(&self.inner.extensions).extend(extensions);
    }

    /// Runs `f` on the socket's extensions, under their lock (a refresh replaces several at once).
    pub(crate) fn with_extensions<R>(&self, f: impl FnOnce(&mut Extensions) -> R) -> R {
        f(&mut write(&self.inner.extensions))
    }

    /// A clone of the value of type `T` stored on this socket, if any.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        read(&self.inner.extensions).get::<T>().cloned()
    }

    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.inner.runtime
    }

    pub(crate) fn namespace(&self) -> &Arc<Namespace> {
        &self.inner.namespace
    }

    /// Sends text frames through `direct` from now on (see the field).
    pub(crate) fn set_direct(&self, direct: Box<DirectSend>) {
        let _ = self.inner.direct.set(direct);
    }

    /// Queues a text frame; a full queue closes the client as a slow consumer.
    pub(crate) fn send_text(&self, text: Utf8Bytes) -> Result<(), SendError> {
        if let Some(direct) = self.inner.direct.get() {
            if self.inner.closing.is_fired() {
                return Err(SendError::Closed);
            }
            return direct(text, false).map(drop);
        }
        match self.inner.outbound.push(Message::Text(text)) {
            Push::Queued => Ok(()),
            Push::Closed => Err(SendError::Closed),
            Push::Full => {
                if !self.inner.closing.is_fired() {
                    tracing::warn!(socket = %self.id(), "outbound queue full: closing a slow consumer with 1013");
                }
                self.abort(
                    DisconnectReason::SlowConsumer,
                    Some((close::TRY_AGAIN_LATER, Cow::Borrowed("slow consumer"))),
                );
                Err(SendError::SlowConsumer)
            }
        }
    }

    /// Queues a ping.
    pub(crate) fn send_ping(&self) {
        let _ = self.inner.outbound.push(Message::Ping(Default::default()));
    }

    /// Starts a graceful close: the close frame is queued behind what is already queued.
    /// The first close wins; later calls do nothing.
    pub(crate) fn close(&self, reason: DisconnectReason, frame: Option<(u16, Cow<'static, str>)>) {
        let Some(closing) = self.set_cause(reason, frame) else {
            return;
        };
        let queued = match &closing.frame {
            Some((code, text)) => {
                let frame = CloseFrame {
                    code: *code,
                    reason: Utf8Bytes::from(text.as_ref()),
                };
                matches!(
                    self.inner.outbound.push(Message::Close(Some(frame))),
                    Push::Queued
                )
            }
            None => false,
        };
        if !queued {
            self.inner.abort.fire();
        }
        self.inner.closing.fire();
    }

    /// Closes at once: what is queued is dropped, and the writer sends the close frame (if any)
    /// directly.
    pub(crate) fn abort(&self, reason: DisconnectReason, frame: Option<(u16, Cow<'static, str>)>) {
        self.set_cause(reason, frame);
        self.inner.abort.fire();
        self.inner.closing.fire();
    }

    fn set_cause(
        &self,
        reason: DisconnectReason,
        frame: Option<(u16, Cow<'static, str>)>,
    ) -> Option<Closing> {
        let mut cause = lock(&self.inner.cause);
        if cause.is_some() {
            return None;
        }
        let closing = Closing { reason, frame };
        *cause = Some(closing.clone());
        Some(closing)
    }

    /// Why the socket is closing, once it is.
    pub(crate) fn closing_cause(&self) -> Option<Closing> {
        lock(&self.inner.cause).clone()
    }

    /// The id, shared.
    pub(crate) fn shared_id(&self) -> Arc<str> {
        self.inner.id.clone()
    }

    /// Queues a frame; `volatile` frames are dropped when the queue is full, others close a
    /// slow consumer. Returns whether the frame was queued.
    pub(crate) fn send_frame(&self, frame: Utf8Bytes, volatile: bool) -> bool {
        if volatile {
            if let Some(direct) = self.inner.direct.get() {
                return !self.inner.closing.is_fired() && matches!(direct(frame, true), Ok(true));
            }
            matches!(self.inner.outbound.push(Message::Text(frame)), Push::Queued)
        } else {
            self.send_text(frame).is_ok()
        }
    }

    /// Closes with a code and reason (from an adapter's `disconnect_sockets`).
    pub(crate) fn close_with(&self, reason: DisconnectReason, code: u16, text: &str) {
        self.close(reason, Some((code, Cow::Owned(truncate_reason(text)))));
    }

    /// Adds rooms, up to the cap; returns those newly joined (none once the socket is
    /// closed), and the refusal if some did not fit. With `whole`, all or nothing.
    pub(crate) fn add_membership(
        &self,
        rooms: &[Room],
        whole: bool,
    ) -> (Vec<Room>, Option<TooManyRooms>) {
        let max = self.inner.runtime.config.admission.max_rooms_per_socket;
        let mut membership = lock(&self.inner.membership);
        let (added, refusal) = membership.add(rooms, max, whole);
        if let Some(refusal) = &refusal {
            if membership.first_refusal() {
                tracing::warn!(socket = %self.id(), max, would_be = refusal.would_be, "a join past max_rooms_per_socket was refused (logged once per socket)");
            } else {
                tracing::debug!(socket = %self.id(), max, "a join past max_rooms_per_socket was refused");
            }
        }
        (added, refusal)
    }

    /// Removes rooms; returns those actually left.
    pub(crate) fn remove_membership(&self, rooms: &[Room]) -> Vec<Room> {
        lock(&self.inner.membership).remove(rooms)
    }

    /// Closes the membership: returns every room, and no room can be joined afterwards.
    ///
    /// The list itself is kept, so that `#[on_disconnect]` hooks can still read which rooms the
    /// socket was in (socket.io's `disconnecting`), though it is no longer in any of them.
    pub(crate) fn close_membership(&self) -> Vec<Room> {
        lock(&self.inner.membership).close()
    }

    /// Registers where the answer to ack `id` goes.
    pub(crate) fn expect_ack(&self, id: u64, sender: AckSender) {
        lock(&self.inner.pending_acks).push((id, sender));
    }

    /// Stops waiting for ack `id`.
    pub(crate) fn forget_ack(&self, id: u64) {
        lock(&self.inner.pending_acks).retain(|(pending, _)| *pending != id);
    }

    /// Delivers the client's answer to ack `id`; returns whether anyone was waiting.
    pub(crate) fn resolve_ack(&self, id: u64, data: Box<RawValue>) -> bool {
        let sender = {
            let mut pending = lock(&self.inner.pending_acks);
            let Some(index) = pending.iter().position(|(pending, _)| *pending == id) else {
                return false;
            };
            pending.swap_remove(index).1
        };
        let answer = AckResponse {
            socket: self.id().to_owned(),
            result: Ok(data),
        };
        // The channel has room for one answer per socket it was given to.
        sender.try_send(answer).is_ok()
    }

    /// Tells everyone still waiting for an ack that the client is gone.
    pub(crate) fn fail_pending_acks(&self) {
        let pending = std::mem::take(&mut *lock(&self.inner.pending_acks));
        for (_, sender) in pending {
            let answer = AckResponse {
                socket: self.id().to_owned(),
                result: Err(AckError::Disconnected),
            };
            let _ = sender.try_send(answer);
        }
    }

    /// The socket, described for a query.
    pub(crate) fn info(&self) -> SocketInfo {
        let handshake = &self.inner.handshake;
        SocketInfo {
            id: self.id().to_owned(),
            path: self.path().to_owned(),
            rooms: self.rooms(),
            uri: handshake.uri.to_string(),
            headers: handshake
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.to_string(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            remote_addr: handshake.remote_addr,
        }
    }

    /// The outbound queue, for the writer task.
    pub(crate) fn outbound(&self) -> &Outbound {
        &self.inner.outbound
    }

    pub(crate) fn closing_signal(&self) -> &Signal {
        &self.inner.closing
    }

    pub(crate) fn abort_signal(&self) -> &Signal {
        &self.inner.abort
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id())
            .field("path", &self.path())
            .field("connected", &self.connected())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Socket {}
