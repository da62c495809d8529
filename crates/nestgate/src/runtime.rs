//! The running application: its namespaces, state, configuration and shutdown signal.

use crate::config::Config;
use crate::filter::BoxedFilter;
use crate::guard::OriginPolicy;
use crate::namespace::Namespace;
use crate::signal::Signal;
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::task::TaskTracker;

/// What every socket and `Server` handle shares. Built once by `App`, immutable afterwards.
pub(crate) struct Runtime {
    pub(crate) namespaces: HashMap<Box<str>, Arc<Namespace>>,
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
    pub(crate) fn namespace(&self, path: &str) -> Option<&Arc<Namespace>> {
        self.namespaces.get(path)
    }

    /// A fresh id for a server emit that expects an acknowledgement.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.last_ack_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}
