//! Adapters: where room membership lives and how broadcasts and socket queries reach sockets —
//! in this process ([`LocalAdapter`], the default) or across several (the Redis adapter).
//!
//! Every operator ([`Operators`](crate::Operators)) goes through the namespace's [`Adapter`], so
//! an adapter that fans operations out to other processes plugs in without touching them.
//! Each namespace (gateway path) has its own adapter and its own [`LocalStore`]: the sockets
//! connected to this process and their rooms. A cluster adapter applies remote requests to its
//! store and sends local requests to the other nodes.
//!
//! Broadcasts are synchronous (a cluster adapter queues them for publishing without waiting);
//! queries, server-side acknowledgements and remote membership changes are asynchronous, so a
//! cluster adapter can wait for the other nodes' answers.
//!
//! Room names live here too: [`Room`], and [`IntoRooms`], what every join, leave and target
//! takes (also at its old path, `operators::IntoRooms`).

mod acks;
mod local;

pub use local::{LocalAdapter, LocalStore};

use crate::ack::AckStream;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A room name. Every socket is also reachable through the room named by its id.
pub type Room = Cow<'static, str>;

/// One room or many: `"lobby"`, `String`, `["a", "b"]`, `vec![...]`, or a socket id (every
/// socket is reachable through the room named by its id).
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Cow::Owned(self.to_owned())]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Cow::Owned(self.clone())]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Cow::Owned(self)]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}

/// Which sockets an operation targets, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOptions {
    /// The rooms to reach; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Sockets in these rooms (or with these ids) are left out.
    pub except: Vec<Room>,
    /// A socket left out too: the sender of `socket.to(..)` and `socket.broadcast()`.
    pub sender: Option<String>,
    /// Only this process's sockets, even with a cluster adapter.
    pub local: bool,
    /// Frames are dropped for clients whose outbound queue is full (instead of closing them).
    pub volatile: bool,
}

/// A frame to broadcast, already serialized, shared by every recipient.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// A socket as a query returns it: possibly connected to another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// The socket's id.
    pub id: String,
    /// The gateway path it is connected to.
    pub path: String,
    /// The rooms it is in.
    pub rooms: Vec<Room>,
    /// The handshake's path and query.
    pub uri: String,
    /// The handshake's headers, as text (headers that are not valid text are left out).
    pub headers: Vec<(String, String)>,
    /// The client's address, if known.
    pub remote_addr: Option<SocketAddr>,
}

/// Why an adapter operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The other nodes did not all answer in time.
    #[error("the cluster did not answer within {0:?}")]
    Timeout(Duration),
    /// The cluster backend is unreachable; local sockets were still served.
    #[error("the cluster backend is unavailable: {0}")]
    Unavailable(String),
}

impl From<AdapterError> for crate::WsException {
    fn from(err: AdapterError) -> Self {
        crate::WsException::internal(err)
    }
}

/// Where room membership lives and how operations reach sockets.
///
/// Implement it for a cluster backend; [`LocalAdapter`] is the in-memory default. Methods that
/// target sockets take [`BroadcastOptions`]; an implementation applies them to its
/// [`LocalStore`] and, unless `local` is set, to the other nodes.
pub trait Adapter: Send + Sync + 'static {
    /// This process's sockets and rooms for the namespace.
    fn store(&self) -> &Arc<LocalStore>;

    /// Sends a serialized frame to the targeted sockets.
    fn broadcast(&self, frame: Frame, options: &BroadcastOptions) -> Result<(), AdapterError>;

    /// Sends a frame carrying ack id `ack_id` and collects every targeted client's answer,
    /// each within `timeout`.
    fn broadcast_with_ack(
        &self,
        frame: Frame,
        ack_id: u64,
        options: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<AckStream, AdapterError>>;

    /// The targeted sockets.
    fn fetch_sockets(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>>;

    /// How many sockets are targeted.
    fn sockets_count(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<usize, AdapterError>>;

    /// Makes the targeted sockets join `rooms`.
    fn add_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Makes the targeted sockets leave `rooms`.
    fn del_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Closes the targeted sockets with `code` and `reason`.
    fn disconnect_sockets(
        &self,
        options: BroadcastOptions,
        code: u16,
        reason: String,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Every room with at least one socket, across the cluster unless `local`.
    fn rooms(&self, local: bool) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>>;

    /// Where the namespace's connection-state recovery lives when
    /// [`App::recovery`](crate::App::recovery) is on: `None` (the default), in this process's
    /// memory; a cluster adapter returns its own store, shared by every node
    /// ([`recovery::store`](crate::recovery::store)), and says so in
    /// [`AdapterBuilder::stores_recovery`].
    fn recovery(
        &self,
        config: &crate::recovery::RecoveryConfig,
    ) -> Option<Arc<dyn crate::recovery::store::RecoveryStore>> {
        let _ = config;
        None
    }
}

/// Builds the adapter of each namespace: what [`App::adapter`](crate::App::adapter) takes.
pub trait AdapterBuilder: Send + Sync + 'static {
    /// The adapter for the namespace at `path`, over its store.
    fn build(&self, path: &str, store: Arc<LocalStore>) -> Arc<dyn Adapter>;

    /// Whether its adapters keep connection-state recovery for the whole cluster
    /// ([`Adapter::recovery`]). `false` (the default): the app refuses to start with recovery
    /// on, since an in-memory log would miss what other nodes send.
    fn stores_recovery(&self) -> bool {
        false
    }

    /// Registers what the adapter counts with the app's metrics, once, when the app is built
    /// (the default: nothing). See [`metrics`](crate::metrics) for how to name them.
    fn metrics(&self, registry: &crate::metrics::Registry) {
        let _ = registry;
    }
}

impl<F> AdapterBuilder for F
where
    F: Fn(&str, Arc<LocalStore>) -> Arc<dyn Adapter> + Send + Sync + 'static,
{
    fn build(&self, path: &str, store: Arc<LocalStore>) -> Arc<dyn Adapter> {
        self(path, store)
    }
}
