//! Connection-state recovery in Redis, for [`App::recovery`](nestgate::App::recovery) on a
//! cluster: a client lost by one node recovers on any other, also after the first was killed.
//!
//! Per namespace:
//! - the **log** is the stream `{prefix}#recovery#{path}#log` (`XADD … MAXLEN ~ max_messages`).
//!   Its entry ids are the offsets clients are given. Every stored message — a broadcast or an
//!   emit to one socket — is appended and delivered *from the stream*, by every node (the
//!   sender too) reading it in order (the [`reader`]); a socket is registered by that same
//!   reader, between two entries. So what a recovering socket is replayed (the entries after
//!   its offset up to the reader's position) and what it then gets live meet exactly.
//! - a lost socket's **session** is `{prefix}#recovery#{path}#session#{pid}` (its id, rooms
//!   and registration offset, as JSON), set with the window as its TTL and taken with `GETDEL`.
//! - a connected socket's session is kept too, in this node's hash
//!   `{prefix}#recovery#{path}#live#{node}` (updated at each change of its rooms, its TTL the
//!   window past the node's last refresh): if the node dies without saving its sessions, a node
//!   that sees it gone (its heartbeat timeout) takes them from there. The session id starts with
//!   the node's id, so the node to look at is known.
//!
//! What costs what: each stored message is one `XADD` and is delivered one stream read later
//! (the sender's own sockets too); the log holds `max_messages` (not `max_bytes`, which Redis
//! streams cannot bound); a socket's rooms are written at each change.

mod claim;
mod conn;
mod reader;
mod stream;
mod writer;

use crate::node::{Node, lock};
use conn::Conn;
use futures_util::future::BoxFuture;
use nestgate::adapter::{AdapterError, LocalStore};
use nestgate::recovery::store::{Claimed, RecoveryStore, SessionState, Start, StoredTarget};
use nestgate::recovery::{NotRecovered, RecoveryConfig, RecoveryStats, Registration};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use writer::Op;

/// The Redis keys of one namespace's recovery.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) log: String,
    base: String,
}

impl Keys {
    fn new(prefix: &str, path: &str) -> Self {
        let base = format!("{prefix}#recovery#{path}");
        Keys {
            log: format!("{base}#log"),
            base,
        }
    }

    pub(crate) fn session(&self, pid: &str) -> String {
        format!("{}#session#{pid}", self.base)
    }

    pub(crate) fn live(&self, node: &str) -> String {
        format!("{}#live#{node}", self.base)
    }
}

/// A registration waiting for the reader.
pub(crate) struct Job {
    pub(crate) start: Start,
    pub(crate) register: Box<dyn FnOnce(Registration) + Send>,
    pub(crate) done: oneshot::Sender<()>,
}

/// What the parts share.
pub(crate) struct Shared {
    pub(crate) node: Arc<Node>,
    pub(crate) store: Arc<LocalStore>,
    pub(crate) keys: Keys,
    pub(crate) config: RecoveryConfig,
    pub(crate) conn: Conn,
    pub(crate) stats: Mutex<RecoveryStats>,
}

impl Shared {
    pub(crate) fn count(&self, update: impl FnOnce(&mut RecoveryStats)) {
        update(&mut lock(&self.stats));
    }
}

/// One namespace's recovery in Redis: the [`RecoveryStore`] the Redis adapter hands nestgate.
pub(crate) struct RedisRecovery {
    shared: Arc<Shared>,
    ops: mpsc::Sender<Op>,
    jobs: mpsc::Sender<Job>,
}

/// Stored messages, session writes and registrations waiting for Redis, at most (then
/// appends fail with [`AdapterError::Unavailable`]).
const QUEUE: usize = 8192;

impl RedisRecovery {
    /// Starts the namespace's writer and reader; they end with the node or when this is dropped.
    pub(crate) fn start(
        node: Arc<Node>,
        client: redis::Client,
        store: Arc<LocalStore>,
        config: RecoveryConfig,
    ) -> Self {
        let keys = Keys::new(&node.config.prefix, store.path());
        let shared = Arc::new(Shared {
            conn: Conn::new(client, &node.config),
            node,
            store,
            keys,
            config,
            stats: Mutex::default(),
        });
        let (ops, ops_rx) = mpsc::channel(QUEUE);
        let (jobs, jobs_rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer::run(shared.clone(), ops_rx));
        tokio::spawn(reader::run(shared.clone(), jobs_rx));
        RedisRecovery { shared, ops, jobs }
    }

    fn send(&self, op: Op) -> Result<(), AdapterError> {
        self.ops.try_send(op).map_err(|_| {
            self.shared.count(|stats| stats.dropped += 1);
            AdapterError::Unavailable("the recovery queue to Redis is full".to_owned())
        })
    }
}

impl RecoveryStore for RedisRecovery {
    fn new_session(&self) -> String {
        format!("{}.{}", self.shared.node.uid, crate::cluster::new_uid())
    }

    fn append(&self, frame: String, target: StoredTarget) -> Result<(), AdapterError> {
        self.send(Op::Append { frame, target })
    }

    fn claim<'a>(
        &'a self,
        session: &'a str,
        offset: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Claimed, NotRecovered>> {
        Box::pin(async move {
            let result = claim::claim(&self.shared, session, offset).await;
            if let Err(why) = result {
                self.shared.count(|stats| stats.count(why));
            }
            result
        })
    }

    fn register(
        &self,
        start: Start,
        register: Box<dyn FnOnce(Registration) + Send>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let (done, finished) = oneshot::channel();
            let job = Job {
                start,
                register,
                done,
            };
            if let Err(refused) = self.jobs.send(job).await {
                // The reader is gone (the node shut down): register at once, nothing replayed.
                let job = refused.0;
                (job.register)(Registration::fresh("0-0", None));
                return;
            }
            let _ = finished.await;
        })
    }

    fn live(&self, session: &str, state: SessionState) {
        let _ = self.send(Op::Live {
            session: session.to_owned(),
            state,
        });
    }

    fn save(&self, session: &str, state: SessionState) {
        self.shared.count(|stats| stats.saved += 1);
        let _ = self.send(Op::Save {
            session: session.to_owned(),
            state,
        });
    }

    fn forget(&self, session: &str) {
        let _ = self.send(Op::Forget {
            session: session.to_owned(),
        });
    }

    fn stats(&self) -> RecoveryStats {
        lock(&self.shared.stats).clone()
    }
}
