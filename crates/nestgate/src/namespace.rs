//! A namespace: the gateways sharing one path, their dispatch table and their sockets.

use crate::adapter::{Adapter, LocalStore};
use crate::error::Reject;
use crate::filter::{ErrorHost, Failure};
use crate::guard::BoxedHandshakeGuard;
use crate::handler::{GatewayHooks, Route};
use crate::metrics::PathMetrics;
use crate::recovery::{Recovery, RecoveryConfig};
use crate::runtime::Children;
use crate::socket::{DisconnectReason, Socket};
use futures_util::FutureExt as _;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

/// What the namespaces of a gateway path share: the dispatch table, the gateways' hooks and the
/// handshake guards. A static path's is made into its namespace; a dynamic path's is kept and
/// instantiated per concrete path.
#[derive(Clone)]
pub(crate) struct Template {
    pub(crate) routes: Arc<HashMap<&'static str, Route>>,
    pub(crate) hooks: Vec<Arc<dyn GatewayHooks>>,
    pub(crate) handshake_guards: Vec<BoxedHandshakeGuard>,
    /// Connection-state recovery: each namespace gets its own log and sessions.
    pub(crate) recovery: Option<RecoveryConfig>,
    /// The path's metrics (a dynamic path's instances share them: the label is the pattern).
    pub(crate) metrics: Arc<PathMetrics>,
}

impl Template {
    /// A namespace for `path` that removes its entry from `children` when it is dropped.
    pub(crate) fn instantiate(
        &self,
        path: &str,
        adapter: Arc<dyn Adapter>,
        children: Weak<Children>,
    ) -> Namespace {
        let mut namespace = Namespace::new(path, self.clone(), adapter);
        namespace.children = Some(children);
        namespace
    }
}

/// The gateways of one path, and its adapter (which holds its sockets and rooms).
pub(crate) struct Namespace {
    path: Box<str>,
    routes: Arc<HashMap<&'static str, Route>>,
    hooks: Vec<Arc<dyn GatewayHooks>>,
    adapter: Arc<dyn Adapter>,
    /// The app's handshake guards, then each gateway's.
    handshake_guards: Vec<BoxedHandshakeGuard>,
    /// For a dynamic gateway's namespace: the table it is listed in.
    children: Option<Weak<Children>>,
    recovery: Option<Arc<Recovery>>,
    metrics: Arc<PathMetrics>,
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
    /// The namespace of `path`, serving `template` (the one constructor: a static path's
    /// namespace is made from its template, a dynamic one by [`Template::instantiate`]).
    pub(crate) fn new(path: &str, template: Template, adapter: Arc<dyn Adapter>) -> Self {
        let Template {
            routes,
            hooks,
            handshake_guards,
            recovery,
            metrics,
        } = template;
        Namespace {
            path: path.into(),
            routes,
            hooks,
            recovery: recovery.map(|config| Recovery::new(config, &*adapter)),
            adapter,
            handshake_guards,
            children: None,
            metrics,
        }
    }

    /// Its path's metrics.
    pub(crate) fn metrics(&self) -> &Arc<PathMetrics> {
        &self.metrics
    }

    /// Its connection-state recovery, when the app turned it on.
    pub(crate) fn recovery(&self) -> Option<&Arc<Recovery>> {
        self.recovery.as_ref()
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

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn route(&self, event: &str) -> Option<&Route> {
        self.routes.get(event)
    }

    pub(crate) fn hooks(&self) -> &[Arc<dyn GatewayHooks>] {
        &self.hooks
    }

    /// Runs every gateway's connection hook in order; the first rejection wins. A hook's error
    /// goes through its gateway's filters, then the app's; a filter's exception closes with 1008.
    /// A hook that panics rejects the connection with 1011.
    pub(crate) async fn connect(&self, socket: &Socket) -> Result<(), Reject> {
        for hooks in &self.hooks {
            let hook = hooks.on_connection(socket.clone());
            let failure = match AssertUnwindSafe(hook).catch_unwind().await {
                Ok(Ok(())) => continue,
                Ok(Err(failure)) => failure,
                Err(_) => {
                    tracing::error!(gateway = hooks.name(), "the on_connection hook panicked");
                    Failure::reject(Reject::new(
                        crate::close::INTERNAL,
                        crate::error::INTERNAL_SERVER_ERROR,
                    ))
                }
            };
            let host = ErrorHost::new(socket, None, "null");
            let filters = hooks.filters().iter().chain(&socket.runtime().filters);
            return Err(match failure.catch(filters, &host) {
                Ok(exception) => Reject::from(exception),
                Err(failure) => failure.fallback(),
            });
        }
        Ok(())
    }

    /// Runs every gateway's disconnect hook; a panicking hook is logged and the rest still run.
    pub(crate) async fn disconnect(&self, socket: &Socket, reason: &DisconnectReason) {
        for hooks in &self.hooks {
            let hook = hooks.on_disconnect(socket.clone(), reason.clone());
            if AssertUnwindSafe(hook).catch_unwind().await.is_err() {
                tracing::error!(gateway = hooks.name(), "the on_disconnect hook panicked");
            }
        }
    }
}
