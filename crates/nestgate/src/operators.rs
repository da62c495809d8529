//! [`Operators`]: choose the sockets (rooms, exceptions, flags), then emit to them or query them.

use crate::ack::AckResponse;
use crate::adapter::{AdapterError, BroadcastOptions, SocketInfo};
use crate::namespace::Namespace;
use crate::protocol;
use crate::runtime::Runtime;
use futures_util::stream::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

// `IntoRooms` lives with the adapter's `Room`; this is its old path, which users and
// nestgate-redis import.
pub use crate::adapter::IntoRooms;

/// Why an emit through [`Operators`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The data could not be serialized.
    #[error("cannot serialize the frame: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The adapter failed (a cluster backend unreachable, other nodes silent).
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl From<BroadcastError> for crate::WsException {
    fn from(err: BroadcastError) -> Self {
        crate::WsException::internal(err)
    }
}

/// The targets of an emit or a query: built with [`Server::to`](crate::Server::to),
/// [`Socket::to`](crate::Socket::to), [`Socket::broadcast`](crate::Socket::broadcast) and the
/// like, refined with more calls, then used once.
///
/// Everything goes through the namespace's [`Adapter`](crate::adapter::Adapter), so with a
/// cluster adapter it reaches the sockets of every process (unless [`Operators::local`]).
///
/// ```
/// use nestgate::prelude::*;
///
/// #[websocket_gateway(path = "/game")]
/// #[derive(Default)]
/// struct Game;
///
/// #[websocket_gateway]
/// impl Game {
///     #[subscribe_message("move")]
///     fn play(&self, socket: Socket, Data(square): Data<u8>) -> Result<(), WsException> {
///         // Everyone in the player's table but the player, dropped for clients that lag.
///         socket.to("table-1").volatile().emit("moved", &square)?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Operators {
    namespace: Arc<Namespace>,
    runtime: Arc<Runtime>,
    options: BroadcastOptions,
    timeout: Option<Duration>,
}

impl Operators {
    pub(crate) fn new(namespace: Arc<Namespace>, runtime: Arc<Runtime>) -> Self {
        Operators::with_options(namespace, runtime, BroadcastOptions::default())
    }

    pub(crate) fn with_options(
        namespace: Arc<Namespace>,
        runtime: Arc<Runtime>,
        options: BroadcastOptions,
    ) -> Self {
        Operators {
            namespace,
            runtime,
            options,
            timeout: None,
        }
    }

    /// Also targets these rooms (several calls add up).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.options.rooms.extend(rooms.into_rooms());
        self
    }

    /// The same as [`Operators::to`].
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in these rooms (or with these ids).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.options.except.extend(rooms.into_rooms());
        self
    }

    /// Only the sockets of this process, even with a cluster adapter.
    pub fn local(mut self) -> Self {
        self.options.local = true;
        self
    }

    /// Drops the frame for clients whose outbound queue is full, instead of closing them.
    pub fn volatile(mut self) -> Self {
        self.options.volatile = true;
        self
    }

    /// How long [`Operators::emit_with_ack`] waits for the answers (default: the app's ack
    /// timeout, 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The options as the adapter sees them.
    pub fn options(&self) -> &BroadcastOptions {
        &self.options
    }

    /// Sends `{"event": event, "data": data}` to every targeted socket. The frame is serialized
    /// once and shared by every recipient; nobody waits for a slow client.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), BroadcastError> {
        let frame = protocol::encode_event(event, data)?;
        let adapter = self.namespace.adapter();
        match self.namespace.recovery() {
            // Stored, with its offset, unless it may be dropped anyway.
            Some(recovery) if !self.options.volatile => {
                recovery.broadcast(frame, &self.options, adapter)?;
            }
            _ => adapter.broadcast(frame.into(), &self.options)?,
        }
        Ok(())
    }

    /// Sends `{"event": event, "data": data, "id": <n>}` to every targeted socket and streams
    /// each client's answer, decoded as `R`, as it arrives; clients that do not answer within
    /// the timeout come last, as [`AckError::Timeout`](crate::ack::AckError::Timeout).
    ///
    /// ```
    /// # async fn poll(server: nestgate::Server) -> Result<(), nestgate::operators::BroadcastError> {
    /// use futures_util::StreamExt as _;
    /// use std::time::Duration;
    ///
    /// let mut votes = server.to("jury").timeout(Duration::from_secs(3)).emit_with_ack::<_, bool>("vote", "guilty?").await?;
    /// while let Some(vote) = votes.next().await {
    ///     println!("{}: {:?}", vote.socket, vote.result);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<impl Stream<Item = AckResponse<R>> + Send + 'static + use<T, R>, BroadcastError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned + 'static,
    {
        let ack_id = self.runtime.next_ack_id();
        let frame = protocol::encode_event_with_id(event, data, ack_id)?;
        let timeout = self.timeout.unwrap_or(self.runtime.config.ack_timeout);
        let adapter = self.namespace.adapter();
        let stream = adapter
            .broadcast_with_ack(frame.into(), ack_id, self.options.clone(), timeout)
            .await?;
        Ok(stream.decode::<R>())
    }

    /// The targeted sockets: id, path, rooms and handshake, wherever they are connected.
    pub async fn fetch_sockets(&self) -> Result<Vec<SocketInfo>, AdapterError> {
        self.namespace
            .adapter()
            .fetch_sockets(self.options.clone())
            .await
    }

    /// How many sockets are targeted: the size of a room with `server.to("room")`.
    pub async fn sockets_count(&self) -> Result<usize, AdapterError> {
        self.namespace
            .adapter()
            .sockets_count(self.options.clone())
            .await
    }

    /// Makes the targeted sockets join rooms.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.namespace
            .adapter()
            .add_sockets(self.options.clone(), rooms.into_rooms())
            .await
    }

    /// Makes the targeted sockets leave rooms.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.namespace
            .adapter()
            .del_sockets(self.options.clone(), rooms.into_rooms())
            .await
    }

    /// Closes the targeted sockets with 1000; their disconnect hooks see `Kicked`.
    pub async fn disconnect_sockets(&self) -> Result<(), AdapterError> {
        let reason = "disconnected by the server".to_owned();
        self.namespace
            .adapter()
            .disconnect_sockets(self.options.clone(), crate::close::NORMAL, reason)
            .await
    }
}

impl std::fmt::Debug for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operators")
            .field("path", &self.namespace.path())
            .field("options", &self.options)
            .field("timeout", &self.timeout)
            .finish()
    }
}
