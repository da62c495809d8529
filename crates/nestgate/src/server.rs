//! [`Server`]: NestJS's `@WebSocketServer()`, the handle to emit to every client of a path.

use crate::adapter::{AdapterError, IntoRooms, Room, SocketInfo};
use crate::namespace::Namespace;
use crate::operators::{BroadcastError, Operators};
use crate::runtime::Runtime;
use crate::socket::Socket;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The server of one gateway path: emit to all its clients, find a socket, reach another path.
///
/// `Server` is an extractor, the argument of `#[after_init]` hooks, and is cheap to clone.
///
/// ```
/// use nestgate::prelude::*;
///
/// #[websocket_gateway(path = "/news")]
/// #[derive(Default)]
/// struct News;
///
/// #[websocket_gateway]
/// impl News {
///     #[subscribe_message("publish")]
///     fn publish(&self, server: Server, Data(headline): Data<String>) -> Result<(), WsException> {
///         // Serialized once; every client of /news gets the same bytes.
///         server.emit("headline", &headline)?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Server {
    namespace: Arc<Namespace>,
    runtime: Arc<Runtime>,
}

impl Server {
    pub(crate) fn new(namespace: Arc<Namespace>, runtime: Arc<Runtime>) -> Self {
        Server { namespace, runtime }
    }

    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The gateway path this server emits to.
    pub fn path(&self) -> &str {
        self.namespace.path()
    }

    /// What this path's connection-state recovery holds and has done (`None` when the app did
    /// not turn it on: [`App::recovery`](crate::App::recovery)).
    pub fn recovery_stats(&self) -> Option<crate::recovery::RecoveryStats> {
        self.namespace.recovery().map(|recovery| recovery.stats())
    }

    /// The server of another gateway path, if one is registered there. For a dynamic
    /// gateway's path (`/tenant/{id}`) the namespace is made if needed and kept while the
    /// returned `Server` is; `None` past `App::max_dynamic_namespaces`.
    pub fn of(&self, path: &str) -> Option<Server> {
        let namespace = self.runtime.namespace(path)?;
        Some(Server::new(namespace, self.runtime.clone()))
    }

    /// Sends `{"event": event, "data": data}` to every client of this path.
    ///
    /// The frame is serialized once and its bytes shared by every recipient. A client whose
    /// outbound queue is full is closed as a slow consumer (1013); the others are not delayed.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), BroadcastError> {
        self.operators().emit(event, data)
    }

    /// Targets the sockets in these rooms: `server.to("lobby").emit(..)`.
    pub fn to(&self, rooms: impl IntoRooms) -> Operators {
        self.operators().to(rooms)
    }

    /// The same as [`Server::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> Operators {
        self.to(rooms)
    }

    /// Targets every socket but those in these rooms (or with these ids).
    pub fn except(&self, rooms: impl IntoRooms) -> Operators {
        self.operators().except(rooms)
    }

    /// Targets only this process's sockets, even with a cluster adapter.
    pub fn local(&self) -> Operators {
        self.operators().local()
    }

    /// Drops frames for clients whose queue is full instead of closing them.
    ///
    /// Use it for fan-out of what clients send: a client flooding such an event then makes
    /// slow recipients miss frames, not lose their connection (1013).
    ///
    /// ```
    /// use nestgate::prelude::*;
    ///
    /// #[websocket_gateway(path = "/cursors")]
    /// #[derive(Default)]
    /// struct Cursors;
    ///
    /// #[websocket_gateway]
    /// impl Cursors {
    ///     #[subscribe_message("move")]
    ///     fn moved(&self, server: Server, Data(at): Data<(u32, u32)>) -> Result<(), WsException> {
    ///         server.volatile().emit("moved", &at)?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn volatile(&self) -> Operators {
        self.operators().volatile()
    }

    /// Sets the timeout of an `emit_with_ack` to every socket.
    pub fn timeout(&self, timeout: Duration) -> Operators {
        self.operators().timeout(timeout)
    }

    /// Every socket of this path, described (across the cluster with a cluster adapter).
    pub async fn fetch_sockets(&self) -> Result<Vec<SocketInfo>, AdapterError> {
        self.operators().fetch_sockets().await
    }

    /// Makes every socket of this path join rooms.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operators().sockets_join(rooms).await
    }

    /// Makes every socket of this path leave rooms.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operators().sockets_leave(rooms).await
    }

    /// Closes every socket of this path with 1000.
    pub async fn disconnect_sockets(&self) -> Result<(), AdapterError> {
        self.operators().disconnect_sockets().await
    }

    /// How many sockets are connected to this path (across the cluster with a cluster adapter);
    /// [`Server::local_socket_count`] counts this process's only, without waiting.
    pub async fn sockets_count(&self) -> Result<usize, AdapterError> {
        self.operators().sockets_count().await
    }

    /// Every room of this path with at least one socket (across the cluster).
    pub async fn rooms(&self) -> Result<Vec<Room>, AdapterError> {
        self.namespace.adapter().rooms(false).await
    }

    /// How many clients are connected to this path, in this process.
    pub fn local_socket_count(&self) -> usize {
        self.namespace.store().len()
    }

    /// The socket with this id, if it is connected to this process.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.namespace.store().socket(id)
    }

    fn operators(&self) -> Operators {
        Operators::new(self.namespace.clone(), self.runtime.clone())
    }

    /// A clone of the provided state of type `T`, if any.
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.runtime.state.get()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path())
            .finish()
    }
}
