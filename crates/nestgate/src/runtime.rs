//! The running application: its namespaces, state, configuration and shutdown signal.

use crate::adapter::{AdapterBuilder, LocalStore};
use crate::config::Config;
use crate::filter::BoxedFilter;
use crate::guard::OriginPolicy;
use crate::namespace::{Namespace, Template};
use crate::pattern::Pattern;
use crate::signal::Signal;
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::task::TaskTracker;

/// The most namespaces dynamic gateways may make: each client could otherwise make one.
pub(crate) const MAX_DYNAMIC_NAMESPACES: usize = 10_000;

/// What every socket and `Server` handle shares. Built once by `App`, immutable afterwards.
pub(crate) struct Runtime {
    pub(crate) namespaces: HashMap<Box<str>, Arc<Namespace>>,
    /// Gateways whose path has `{param}` segments: their namespaces are made on demand.
    pub(crate) dynamic: Vec<(Pattern, Template)>,
    /// The namespaces made from `dynamic` so far.
    pub(crate) children: dashmap::DashMap<Box<str>, Arc<Namespace>>,
    /// Builds the adapters of dynamic namespaces.
    pub(crate) adapter_builder: Box<dyn AdapterBuilder>,
    pub(crate) state: AppState,
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
}

impl Runtime {
    /// The namespace of `path`: a static one, or one of a dynamic gateway (made on first use,
    /// up to [`MAX_DYNAMIC_NAMESPACES`]).
    pub(crate) fn namespace(&self, path: &str) -> Option<Arc<Namespace>> {
        if let Some(namespace) = self.namespaces.get(path) {
            return Some(namespace.clone());
        }
        if self.dynamic.is_empty() {
            return None;
        }
        if let Some(child) = self.children.get(path) {
            return Some(child.clone());
        }
        let (_, template) = self
            .dynamic
            .iter()
            .find(|(pattern, _)| pattern.matches(path))?;
        if self.children.len() >= MAX_DYNAMIC_NAMESPACES {
            tracing::warn!(path, "too many dynamic namespaces: refusing a new one");
            return None;
        }
        let child = self
            .children
            .entry(path.into())
            .or_insert_with(|| {
                let store = Arc::new(LocalStore::new(path));
                let adapter = self.adapter_builder.build(path, store);
                Arc::new(template.instantiate(path, adapter))
            })
            .clone();
        Some(child)
    }

    /// A fresh id for a server emit that expects an acknowledgement.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.last_ack_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}
