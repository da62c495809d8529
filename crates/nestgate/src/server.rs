//! [`Server`]: NestJS's `@WebSocketServer()`, the handle to emit to every client of a path.

use crate::namespace::Namespace;
use crate::protocol;
use crate::runtime::Runtime;
use crate::socket::Socket;
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use std::sync::Arc;

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

    /// The gateway path this server emits to.
    pub fn path(&self) -> &str {
        self.namespace.path()
    }

    /// The server of another gateway path, if one is registered there.
    pub fn of(&self, path: &str) -> Option<Server> {
        let namespace = self.runtime.namespace(path)?.clone();
        Some(Server::new(namespace, self.runtime.clone()))
    }

    /// Sends `{"event": event, "data": data}` to every client of this path.
    ///
    /// The frame is serialized once and its bytes shared by every recipient. A client whose
    /// outbound queue is full is closed as a slow consumer (1013); the others are not delayed.
    /// Returns how many clients the frame was queued for.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<usize, serde_json::Error> {
        let frame = Utf8Bytes::from(protocol::encode_event(event, data)?);
        let mut sent = 0;
        self.namespace.for_each_socket(|socket| {
            if socket.send_text(frame.clone()).is_ok() {
                sent += 1;
            }
        });
        Ok(sent)
    }

    /// How many clients are connected to this path.
    pub fn socket_count(&self) -> usize {
        self.namespace.len()
    }

    /// The connected socket with this id, if any.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.namespace.socket(id)
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
