//! The running application: its namespaces, state, configuration and shutdown signal.

use crate::config::Config;
use crate::namespace::Namespace;
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every socket and `Server` handle shares. Built once by `App`, immutable afterwards.
pub(crate) struct Runtime {
    pub(crate) namespaces: HashMap<Box<str>, Arc<Namespace>>,
    pub(crate) state: AppState,
    pub(crate) config: Config,
    /// Cancelled when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// Every connection task, so that shutdown can wait for them.
    pub(crate) connections: TaskTracker,
}

impl Runtime {
    pub(crate) fn namespace(&self, path: &str) -> Option<&Arc<Namespace>> {
        self.namespaces.get(path)
    }
}
