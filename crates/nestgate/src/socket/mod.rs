//! [`Socket`]: one connected client, as handlers see it.
//!
//! This file holds the handle and what users call on it; the machinery behind it has a file per
//! concept: sending (`send`), closing (`closing`), server-side acks (`acks`), the rooms it is in
//! (`membership`) and its bounded outbound queue (`outbound`).

mod acks;
mod closing;
mod membership;
pub(crate) mod outbound;
mod send;

pub(crate) use closing::Closing;
pub use closing::DisconnectReason;
pub use membership::TooManyRooms;
pub use send::SendError;

use crate::ack::{AckError, AckSender, decode_answer};
use crate::adapter::{BroadcastOptions, IntoRooms, Room, SocketInfo};
use crate::close;
use crate::error::truncate_reason;
use crate::guard::HandshakeRequest;
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::operators::Operators;
use crate::protocol;
use crate::runtime::Runtime;
use crate::server::Server;
use crate::util::id::new_id;
use crate::util::signal::Signal;
use crate::util::sync::{lock, read, write};
use axum::http::Extensions;
use membership::Membership;
use outbound::Outbound;
pub(crate) use send::{Delivery, Shared, TextSink};
use serde::Serialize;
use serde::de::DeserializeOwned;
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
    text_sink: std::sync::OnceLock<Box<dyn TextSink>>,
    membership: Mutex<Membership>,
    /// Acknowledgements the server is waiting for: (ack id, where the answer goes).
    pending_acks: Mutex<Vec<(u64, AckSender)>>,
    namespace: Arc<Namespace>,
    runtime: Arc<Runtime>,
}

impl Socket {
    /// The socket of a request its handshake guards let in: its handshake, and what the guards
    /// established as its extensions. The one place where an accepted request becomes a socket,
    /// for every transport (the ws-json upgrade, a Socket.IO CONNECT, the in-process test socket).
    pub(crate) fn accept(
        request: HandshakeRequest,
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
    ) -> Self {
        let (handshake, extensions) = request.into_parts();
        Socket::new(new_id(), handshake, extensions, namespace, runtime)
    }

    /// [`Socket::accept`] for a connection that recovers a lost socket: its id again, and its
    /// extensions under those the handshake guards set now (theirs win).
    pub(crate) fn recover(
        request: HandshakeRequest,
        saved: &crate::recovery::Saved,
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
    ) -> Self {
        let (handshake, fresh) = request.into_parts();
        let mut extensions = saved.extensions.clone();
        extensions.extend(fresh);
        extensions.insert(Recovered);
        let socket = Socket::new(saved.id.clone(), handshake, extensions, namespace, runtime);
        // Its rooms, for its hooks to see; the store's rooms get it at its registration, with
        // what it missed (until then nothing reaches it live).
        socket.add_membership(&saved.rooms, false);
        socket
    }

    fn new(
        id: Arc<str>,
        handshake: Handshake,
        extensions: Extensions,
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
    ) -> Self {
        let inner = SocketInner {
            id,
            handshake,
            outbound: Outbound::new(
                runtime.config.outbound_queue,
                runtime.config.outbound_queue_bytes,
            ),
            closing: Signal::default(),
            abort: Signal::default(),
            cause: Mutex::new(None),
            extensions: RwLock::new(extensions),
            text_sink: std::sync::OnceLock::new(),
            membership: Mutex::new(Membership::default()),
            pending_acks: Mutex::new(Vec::new()),
            namespace,
            runtime,
        };
        Socket {
            inner: Arc::new(inner),
        }
    }

    /// Whether this connection recovered a lost socket ([`App::recovery`](crate::App::recovery)):
    /// its id, rooms and extensions are the lost one's (already in `#[on_connection]` hooks),
    /// and once its hooks are done it gets the messages it missed, then live ones.
    pub fn recovered(&self) -> bool {
        read(&self.inner.extensions).get::<Recovered>().is_some()
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
        match self.inner.namespace.recovery() {
            Some(recovery) => self.send_stored(recovery, frame),
            None => self.send_text(frame.into()),
        }
    }

    /// Sends `{"event": event, "data": data}` to this client unless its outbound queue is full,
    /// in which case the frame is dropped (the client is not closed).
    pub fn emit_volatile<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), SendError> {
        let frame = protocol::encode_event(event, data)?;
        if self.send_frame(frame.into(), true, None) {
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
        if !self.send_frame(frame.into(), false, None) {
            self.forget_ack(ack_id);
            return Err(AckError::NotSent);
        }
        match tokio::time::timeout(timeout, receiver.recv()).await {
            Ok(Some(answer)) => answer.result.and_then(|raw| decode_answer(&raw)),
            Ok(None) => Err(AckError::Disconnected),
            Err(_) => {
                self.forget_ack(ack_id);
                self.inner.namespace.metrics().ack_timed_out(1);
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

    /// Runs `f` on the socket's extensions, under their lock (a refresh replaces several at once).
    pub(crate) fn with_extensions<R>(&self, f: impl FnOnce(&mut Extensions) -> R) -> R {
        f(&mut write(&self.inner.extensions))
    }

    /// The extensions, copied (what a lost socket's session keeps).
    pub(crate) fn extensions_snapshot(&self) -> Extensions {
        read(&self.inner.extensions).clone()
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

    /// The id, shared.
    /// Sends a frame for this socket alone that recovery stores (`emit`, an event reply).
    pub(crate) fn send_stored(
        &self,
        recovery: &crate::recovery::Recovery,
        frame: String,
    ) -> Result<(), SendError> {
        let registered = || self.extension::<crate::recovery::SessionId>().is_some();
        recovery.direct(self.id(), registered, frame, |frame| self.send_text(frame))
    }

    /// Its rooms changed: a recovery store outside this process keeps them, once it is
    /// registered.
    pub(crate) fn rooms_changed(&self) {
        let Some(recovery) = self.inner.namespace.recovery() else {
            return;
        };
        if let crate::recovery::Recovery::Remote(_) = &**recovery
            && let Some(session) = self.extension::<crate::recovery::SessionId>()
        {
            recovery.live(&session, self.id(), || self.rooms());
        }
    }

    pub(crate) fn shared_id(&self) -> Arc<str> {
        self.inner.id.clone()
    }

    /// The socket, described for a query.
    pub(crate) fn info(&self) -> SocketInfo {
        let handshake = &self.inner.handshake;
        SocketInfo {
            id: self.id().to_owned(),
            path: self.path().to_owned(),
            rooms: self.rooms(),
            uri: handshake.head.uri.to_string(),
            headers: handshake
                .head
                .headers
                .iter()
                .filter_map(|header| Some((header.name.to_owned(), header.text()?.to_owned())))
                .collect(),
            remote_addr: handshake.remote_addr,
        }
    }
}

/// The mark of a recovered socket, in its extensions.
#[derive(Debug, Clone, Copy)]
struct Recovered;

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
