//! The running application: its namespaces, state, configuration and shutdown signal.

use crate::adapter::{AdapterBuilder, LocalStore};
use crate::config::Config;
use crate::filter::BoxedFilter;
use crate::guard::BoxedHandshakeGuard;
use crate::namespace::{Namespace, Template};
use crate::origin::OriginPolicy;
use crate::pattern::Pattern;
use crate::state::AppState;
use crate::util::signal::Signal;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use tokio_util::task::TaskTracker;

/// The namespaces dynamic gateways have made, by path. The table holds them weakly: a child
/// lives as long as something uses it (a socket, a `Server` handle) and its entry goes when it
/// is dropped (see [`Namespace`]'s `Drop`), so a socket can only ever join a namespace that is
/// in the table.
#[derive(Default)]
pub(crate) struct Children {
    pub(crate) map: dashmap::DashMap<Box<str>, Weak<Namespace>>,
    /// Children made and not yet dropped (`map.len()` would take every shard's lock).
    pub(crate) live: AtomicUsize,
}

impl Children {
    /// Called by a child's `Drop`: forgets it, unless a new child has taken its path.
    pub(crate) fn dropped(&self, path: &str) {
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.map.remove_if(path, |_, weak| weak.strong_count() == 0);
    }
}

/// What every socket and `Server` handle shares. Built once by `App`, immutable afterwards.
pub(crate) struct Runtime {
    pub(crate) namespaces: HashMap<Box<str>, Arc<Namespace>>,
    /// Gateways whose path has `{param}` segments: their namespaces are made on demand.
    pub(crate) dynamic: Vec<(Pattern, Template)>,
    /// The namespaces made from `dynamic` and still in use.
    pub(crate) children: Arc<Children>,
    /// Builds the adapters of dynamic namespaces.
    pub(crate) adapter_builder: Box<dyn AdapterBuilder>,
    pub(crate) state: Arc<AppState>,
    pub(crate) config: Config,
    /// Fired when the server starts shutting down.
    pub(crate) shutdown: Arc<Signal>,
    /// Every connection task, so that shutdown can wait for them.
    pub(crate) connections: TaskTracker,
    /// The app's exception filters, tried after a handler's and its gateway's.
    pub(crate) filters: Vec<BoxedFilter>,
    /// Which browser origins may connect.
    pub(crate) origins: OriginPolicy,
    /// The last ack id handed out for server emits.
    pub(crate) last_ack_id: AtomicU64,
    /// Told of every socket's life, if anyone is.
    pub(crate) observer: Option<Arc<dyn crate::observer::Observer>>,
}

impl Runtime {
    /// The namespace of `path`: a static one, or one of a dynamic gateway (made on first use,
    /// up to `App::max_dynamic_namespaces` at once).
    ///
    /// Call it for a dynamic path only once the request has passed its checks (see
    /// [`Runtime::handshake_guards`]): each call may make a namespace.
    pub(crate) fn namespace(&self, path: &str) -> Option<Arc<Namespace>> {
        if let Some(namespace) = self.namespaces.get(path) {
            return Some(namespace.clone());
        }
        if self.dynamic.is_empty() {
            return None;
        }
        if let Some(child) = self.children.map.get(path).and_then(|weak| weak.upgrade()) {
            return Some(child);
        }
        let (_, template) = self
            .dynamic
            .iter()
            .find(|(pattern, _)| pattern.matches(path))?;
        let max = self.config.admission.max_dynamic_namespaces;
        // Under the entry's lock: a child found alive here is returned; a dead one (dropped,
        // its entry not yet removed) is replaced, and its `Drop` then leaves the new entry be.
        let mut entry = self.children.map.entry(path.into()).or_default();
        if let Some(child) = entry.upgrade() {
            return Some(child);
        }
        if self.children.live.fetch_add(1, Ordering::Relaxed) >= max {
            self.children.live.fetch_sub(1, Ordering::Relaxed);
            drop(entry);
            // Removes the empty entry just added, unless a child has been made there meanwhile.
            self.children
                .map
                .remove_if(path, |_, weak| weak.strong_count() == 0);
            tracing::warn!(path, max, "too many dynamic namespaces: refusing a new one");
            return None;
        }
        let store = Arc::new(LocalStore::new(path, template.metrics.clone()));
        let adapter = self.adapter_builder.build(path, store);
        let child = Arc::new(template.instantiate(path, adapter, Arc::downgrade(&self.children)));
        *entry = Arc::downgrade(&child);
        Some(child)
    }

    /// The handshake guards of `path`: its namespace's, or its dynamic gateway's (without
    /// making a namespace); `None` if no gateway serves the path.
    pub(crate) fn handshake_guards(&self, path: &str) -> Option<&[BoxedHandshakeGuard]> {
        if let Some(namespace) = self.namespaces.get(path) {
            return Some(namespace.handshake_guards());
        }
        self.dynamic
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map(|(_, template)| template.handshake_guards.as_slice())
    }

    /// The metrics of `path`: its namespace's, or its dynamic gateway's.
    pub(crate) fn metrics(&self, path: &str) -> Option<&Arc<crate::metrics::PathMetrics>> {
        if let Some(namespace) = self.namespaces.get(path) {
            return Some(namespace.metrics());
        }
        self.dynamic
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map(|(_, template)| &template.metrics)
    }

    /// How many namespaces dynamic gateways have made and are still in use.
    pub(crate) fn dynamic_namespaces(&self) -> usize {
        self.children.live.load(Ordering::Relaxed)
    }

    /// A fresh id for a server emit that expects an acknowledgement.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.last_ack_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}
