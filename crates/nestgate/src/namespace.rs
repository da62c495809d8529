//! A namespace: the gateways sharing one path, their dispatch table and their sockets.

use crate::adapter::{Adapter, LocalStore};
use crate::error::Reject;
use crate::extract::Message;
use crate::filter::{BoxedFilter, ErrorHost, Failure};
use crate::gateway::ErasedGateway;
use crate::guard::BoxedHandshakeGuard;
use crate::reply::Reply;
use crate::runtime::Children;
use crate::socket::{DisconnectReason, Socket};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

/// A handler, erased: takes the message, returns the reply.
pub(crate) type BoxedHandler = Box<dyn Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync>;

/// One event's handler in the dispatch table.
pub(crate) struct Route {
    /// The event name (the key, kept `'static` for the `Event` extractor).
    pub(crate) event: &'static str,
    /// `Gateway::method`, for errors and logs.
    pub(crate) handler_name: String,
    pub(crate) call: BoxedHandler,
    /// The handler's filters, then its gateway's.
    pub(crate) filters: Vec<BoxedFilter>,
}

/// What the namespaces of a dynamic gateway path share: made once, instantiated per path.
pub(crate) struct Template {
    pub(crate) routes: Arc<HashMap<&'static str, Route>>,
    pub(crate) gateways: Vec<Arc<dyn ErasedGateway>>,
    pub(crate) handshake_guards: Vec<BoxedHandshakeGuard>,
}

impl Template {
    /// A namespace for `path` that removes its entry from `children` when it is dropped.
    pub(crate) fn instantiate(
        &self,
        path: &str,
        adapter: Arc<dyn Adapter>,
        children: Weak<Children>,
    ) -> Namespace {
        let mut namespace = Namespace::new(
            path,
            self.routes.clone(),
            self.gateways.clone(),
            adapter,
            self.handshake_guards.clone(),
        );
        namespace.children = Some(children);
        namespace
    }
}

/// The gateways of one path, and its adapter (which holds its sockets and rooms).
pub(crate) struct Namespace {
    path: Box<str>,
    routes: Arc<HashMap<&'static str, Route>>,
    gateways: Vec<Arc<dyn ErasedGateway>>,
    adapter: Arc<dyn Adapter>,
    /// The app's handshake guards, then each gateway's.
    handshake_guards: Vec<BoxedHandshakeGuard>,
    /// For a dynamic gateway's namespace: the table it is listed in.
    children: Option<Weak<Children>>,
    /// The last frame translated for this namespace's Socket.IO sockets: kept here, it lives
    /// and dies with the namespace (a dynamic one is dropped with its last socket).
    translation: Arc<crate::socketio::Translation>,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Nothing holds a lock of the table while it drops a namespace (the table holds them
        // weakly), so this cannot deadlock. A child made meanwhile at the same path has a live
        // entry, which stays.
        if let Some(children) = self.children.as_ref().and_then(Weak::upgrade) {
            children.dropped(&self.path);
        }
    }
}

impl Namespace {
    pub(crate) fn new(
        path: &str,
        routes: Arc<HashMap<&'static str, Route>>,
        gateways: Vec<Arc<dyn ErasedGateway>>,
        adapter: Arc<dyn Adapter>,
        handshake_guards: Vec<BoxedHandshakeGuard>,
    ) -> Self {
        Namespace {
            path: path.into(),
            routes,
            gateways,
            adapter,
            handshake_guards,
            children: None,
            translation: Arc::default(),
        }
    }

    pub(crate) fn handshake_guards(&self) -> &[BoxedHandshakeGuard] {
        &self.handshake_guards
    }

    pub(crate) fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    pub(crate) fn store(&self) -> &Arc<LocalStore> {
        self.adapter.store()
    }

    /// The translation cache of this namespace's Socket.IO sockets.
    pub(crate) fn translation(&self) -> &Arc<crate::socketio::Translation> {
        &self.translation
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn route(&self, event: &str) -> Option<&Route> {
        self.routes.get(event)
    }

    pub(crate) fn gateways(&self) -> &[Arc<dyn ErasedGateway>] {
        &self.gateways
    }

    /// Runs every gateway's connection hook in order; the first rejection wins. A hook's error
    /// goes through its gateway's filters, then the app's; a filter's exception closes with 1008.
    /// A hook that panics rejects the connection with 1011.
    pub(crate) async fn connect(&self, socket: &Socket) -> Result<(), Reject> {
        for gateway in &self.gateways {
            let hook = gateway.on_connection(socket.clone());
            let failure = match AssertUnwindSafe(hook).catch_unwind().await {
                Ok(Ok(())) => continue,
                Ok(Err(failure)) => failure,
                Err(_) => {
                    tracing::error!(gateway = gateway.name(), "the on_connection hook panicked");
                    Failure::reject(Reject::new(
                        crate::close::INTERNAL,
                        crate::error::INTERNAL_SERVER_ERROR,
                    ))
                }
            };
            let host = ErrorHost::new(socket, None, "null");
            let filters = gateway.filters().iter().chain(&socket.runtime().filters);
            return Err(match failure.catch(filters, &host) {
                Ok(exception) => Reject::from(exception),
                Err(failure) => failure.fallback(),
            });
        }
        Ok(())
    }

    /// Runs every gateway's disconnect hook; a panicking hook is logged and the rest still run.
    pub(crate) async fn disconnect(&self, socket: &Socket, reason: &DisconnectReason) {
        for gateway in &self.gateways {
            let hook = gateway.on_disconnect(socket.clone(), reason.clone());
            if AssertUnwindSafe(hook).catch_unwind().await.is_err() {
                tracing::error!(gateway = gateway.name(), "the on_disconnect hook panicked");
            }
        }
    }
}
