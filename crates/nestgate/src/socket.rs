//! [`Socket`]: one connected client, as handlers see it.

use crate::close;
use crate::error::truncate_reason;
use crate::namespace::Namespace;
use crate::protocol;
use crate::runtime::Runtime;
use crate::server::Server;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use axum::http::{Extensions, HeaderMap, Uri};
use serde::Serialize;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    id: Box<str>,
    handshake: Handshake,
    outbound: mpsc::Sender<Message>,
    /// The socket is closing: the reader stops reading and runs the disconnect hooks.
    closing: CancellationToken,
    /// The writer stops at once, dropping what is queued (a slow consumer, a lost transport).
    abort: CancellationToken,
    cause: Mutex<Option<Closing>>,
    extensions: RwLock<Extensions>,
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

/// The HTTP request that opened the connection.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub(crate) headers: HeaderMap,
    pub(crate) uri: Uri,
    pub(crate) remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request URI (path and query).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The first value of a query parameter, percent-decoded.
    ///
    /// ```
    /// # use nestgate::Handshake;
    /// # fn check(handshake: &Handshake) {
    /// // ws://host/chat?token=abc
    /// let token = handshake.query("token");
    /// # }
    /// ```
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The client's address, when the server knows it (always, under [`App::listen`](crate::App::listen)).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}

impl Socket {
    pub(crate) fn new(
        handshake: Handshake,
        outbound: mpsc::Sender<Message>,
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
    ) -> Self {
        let inner = SocketInner {
            id: new_id(),
            handshake,
            outbound,
            closing: CancellationToken::new(),
            abort: CancellationToken::new(),
            cause: Mutex::new(None),
            extensions: RwLock::new(Extensions::new()),
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

    /// Whether the client is still connected (no close has started).
    pub fn connected(&self) -> bool {
        !self.inner.closing.is_cancelled()
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
        self.inner
            .extensions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(value);
    }

    /// A clone of the value of type `T` stored on this socket, if any.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner
            .extensions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get::<T>()
            .cloned()
    }

    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.inner.runtime
    }

    pub(crate) fn namespace(&self) -> &Arc<Namespace> {
        &self.inner.namespace
    }

    /// Queues a text frame; a full queue closes the client as a slow consumer.
    pub(crate) fn send_text(&self, text: Utf8Bytes) -> Result<(), SendError> {
        match self.inner.outbound.try_send(Message::Text(text)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Closed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.inner.closing.is_cancelled() {
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
        let _ = self
            .inner
            .outbound
            .try_send(Message::Ping(Default::default()));
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
                self.inner
                    .outbound
                    .try_send(Message::Close(Some(frame)))
                    .is_ok()
            }
            None => false,
        };
        if !queued {
            self.inner.abort.cancel();
        }
        self.inner.closing.cancel();
    }

    /// Closes at once: what is queued is dropped, and the writer sends the close frame (if any)
    /// directly.
    pub(crate) fn abort(&self, reason: DisconnectReason, frame: Option<(u16, Cow<'static, str>)>) {
        self.set_cause(reason, frame);
        self.inner.abort.cancel();
        self.inner.closing.cancel();
    }

    fn set_cause(
        &self,
        reason: DisconnectReason,
        frame: Option<(u16, Cow<'static, str>)>,
    ) -> Option<Closing> {
        let mut cause = self
            .inner
            .cause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cause.is_some() {
            return None;
        }
        let closing = Closing { reason, frame };
        *cause = Some(closing.clone());
        Some(closing)
    }

    /// Why the socket is closing, once it is.
    pub(crate) fn closing_cause(&self) -> Option<Closing> {
        self.inner
            .cause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn closing_token(&self) -> &CancellationToken {
        &self.inner.closing
    }

    pub(crate) fn abort_token(&self) -> &CancellationToken {
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

/// 128 random bits as 22 URL-safe base64 characters.
fn new_id() -> Box<str> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits: u128 = rand::random();
    let mut id = String::with_capacity(22);
    for _ in 0..22 {
        id.push(char::from(ALPHABET[(bits & 63) as usize]));
        bits >>= 6;
    }
    id.into_boxed_str()
}
