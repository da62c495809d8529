//! Connection-state recovery: a client whose connection was lost comes back within a window
//! and gets every message it missed, in order, exactly once — or is told it was not recovered,
//! and why. Never a partial replay.
//!
//! Turned on with [`App::recovery`](crate::App::recovery). Each namespace then keeps:
//! - a **log** of what its emits sent (room broadcasts, `server.emit`, `socket.emit`, a
//!   handler's event reply to a frame without an id; not acks, exceptions or `volatile`
//!   emits), each message stamped with an **offset**
//!   (`"<epoch>-<n>"`: the epoch is random per namespace and process, `n` counts up), bounded by
//!   [`RecoveryConfig::max_messages`], [`max_bytes`](RecoveryConfig::max_bytes) and the
//!   [`window`](RecoveryConfig::window);
//! - the **sessions** of sockets whose connection was lost (a transport error, a heartbeat
//!   timeout, the server shutting down — not a close the client or the server asked for): the
//!   socket's id, rooms and extensions, kept for the window, at most
//!   [`max_sessions`](RecoveryConfig::max_sessions).
//!
//! The ws-json protocol: when a connection is registered (after its `#[on_connection]` hooks;
//! from then on every broadcast reaches it) the server sends
//! `{"event":"nestgate:connected","data":{"id","session","offset","recovered","reason"?}}`;
//! every stored message carries `"offset":"…"` beside `event` and `data`; a client that
//! reconnects presents `?session=<session>&offset=<the last offset it got>`. Recovered, the
//! socket has its old id, rooms and extensions, and the missed messages follow the
//! `nestgate:connected` frame, before anything new. The clients of `clients/js` and
//! `nestgate-client` do this by themselves.
//!
//! Memory: up to `max_bytes` of frames per namespace (8 MiB by default) plus, per lost session,
//! its id, room names and extensions, for the window.
//!
//! By default all of it is in this process's memory. A cluster adapter may keep it elsewhere
//! ([`Adapter::recovery`](crate::adapter::Adapter::recovery), [`store`]): the Redis adapter
//! keeps the log in a Redis stream and the sessions in Redis keys, so a client lost by one node
//! recovers on another, also when the first was killed. A cluster adapter that does not is
//! refused at start ([`Error::Unsupported`](crate::Error)).

mod log;
mod memory;
mod sessions;
pub mod store;

pub use crate::config::RecoveryConfig;
pub(crate) use log::Target;
pub(crate) use sessions::Saved;

use crate::adapter::{Adapter, AdapterError, BroadcastOptions};
use axum::extract::ws::Utf8Bytes;
use axum::http::Extensions;
use memory::Memory;
use serde::Serialize;
use std::sync::Arc;
use store::{Claimed, RecoveryStore, SessionState, Start};

/// Why a connection was not recovered (it starts fresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotRecovered {
    /// No such session: never known, already recovered, or dropped after its window.
    UnknownSession,
    /// The session's window has passed.
    Expired,
    /// Messages after the client's offset were trimmed from the log (its bounds).
    Gap,
    /// The offset is of another epoch: the server restarted, or it is another process's.
    EpochChanged,
    /// The offset is not one the server ever gave.
    InvalidOffset,
    /// More missed messages than the socket's outbound queue holds
    /// ([`App::outbound_queue`](crate::App::outbound_queue) and its bytes).
    Overflow,
}

impl NotRecovered {
    /// The reason as the client is told it (`unknown_session`, `expired`, `gap`,
    /// `epoch_changed`, `invalid_offset`).
    pub fn as_str(self) -> &'static str {
        match self {
            NotRecovered::UnknownSession => "unknown_session",
            NotRecovered::Expired => "expired",
            NotRecovered::Gap => "gap",
            NotRecovered::EpochChanged => "epoch_changed",
            NotRecovered::InvalidOffset => "invalid_offset",
            NotRecovered::Overflow => "overflow",
        }
    }
}

impl std::fmt::Display for NotRecovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a namespace's recovery holds and has done: [`Server::recovery_stats`](crate::Server::recovery_stats).
///
/// It serializes as an object of its counters, for a metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecoveryStats {
    /// Sessions saved when their connection was lost.
    pub saved: u64,
    /// Connections recovered.
    pub recovered: u64,
    /// Connections that asked and were not, by reason.
    pub unknown_session: u64,
    /// See [`NotRecovered::Expired`].
    pub expired: u64,
    /// See [`NotRecovered::Gap`].
    pub gap: u64,
    /// See [`NotRecovered::EpochChanged`].
    pub epoch_changed: u64,
    /// See [`NotRecovered::InvalidOffset`].
    pub invalid_offset: u64,
    /// See [`NotRecovered::Overflow`].
    pub overflow: u64,
    /// Sessions dropped before their window because of [`RecoveryConfig::max_sessions`].
    pub evicted_sessions: u64,
    /// Messages a store outside this process could not take (its backend unreachable or its
    /// queue full): not stored, and not delivered.
    pub dropped: u64,
    /// Sessions waiting now (in memory; a store in Redis does not count them).
    pub sessions: usize,
    /// Messages stored now.
    pub messages: usize,
    /// Bytes of stored frames now.
    pub bytes: usize,
}

impl RecoveryStats {
    /// Counts a connection that was not recovered, by its reason.
    pub fn count(&mut self, why: NotRecovered) {
        let counter = match why {
            NotRecovered::UnknownSession => &mut self.unknown_session,
            NotRecovered::Expired => &mut self.expired,
            NotRecovered::Gap => &mut self.gap,
            NotRecovered::EpochChanged => &mut self.epoch_changed,
            NotRecovered::InvalidOffset => &mut self.invalid_offset,
            NotRecovered::Overflow => &mut self.overflow,
        };
        *counter += 1;
    }
}

/// The private id of a socket's session: what a client presents to recover (not its public
/// id, which other clients may know). Kept in the socket's extensions from its registration.
#[derive(Debug, Clone)]
pub(crate) struct SessionId {
    pub(crate) session: Arc<str>,
    /// The offset it was registered at: where a client that got no stored message since
    /// (a socket.io client then presents no offset) is recovered from.
    pub(crate) since: Arc<str>,
}

/// A session claimed by a reconnecting client: what the socket was, and where to replay from.
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) saved: Saved,
    pub(crate) session: Arc<str>,
    from: From,
}

/// Where a claim replays from, as its backend counts.
#[derive(Debug)]
enum From {
    /// The client's offset, and the newest offset when it was claimed: a direct emit after it
    /// reached the socket already (its hooks' emits), and is not replayed.
    Memory { offset: u64, claimed_at: u64 },
    /// The client's offset in the store's log.
    Remote { offset: String },
}

/// What a connection brought: no session, a session that could not be recovered, or one
/// claimed.
#[derive(Debug, Default)]
pub(crate) enum Attempt {
    #[default]
    Fresh,
    Failed(NotRecovered),
    Claimed(Claim),
}

/// What a socket is told when it is registered.
#[derive(Debug)]
#[non_exhaustive]
pub struct Registration {
    /// The offset to present next time (the missed frames after it carry their own).
    pub offset: String,
    /// Whether it was recovered.
    pub outcome: Outcome,
}

impl Registration {
    /// A new socket, or one that asked and was not recovered (why).
    pub fn fresh(offset: impl Into<String>, why: Option<NotRecovered>) -> Self {
        Registration {
            offset: offset.into(),
            outcome: Outcome::Fresh(why),
        }
    }

    /// A recovered socket, with the frames it missed, in order.
    pub fn recovered(offset: impl Into<String>, missed: Vec<Utf8Bytes>) -> Self {
        Registration {
            offset: offset.into(),
            outcome: Outcome::Recovered(missed),
        }
    }
}

/// Whether a socket was recovered.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Not recovered: a new socket (why, when it asked to be).
    Fresh(Option<NotRecovered>),
    /// Recovered: the frames it missed, in order.
    Recovered(Vec<Utf8Bytes>),
}

/// One namespace's recovery: in this process's memory, or in its adapter's store.
pub(crate) enum Recovery {
    Memory(Arc<Memory>),
    Remote(Arc<dyn RecoveryStore>),
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovery::Memory(memory) => memory.fmt(f),
            Recovery::Remote(_) => f.write_str("Recovery::Remote"),
        }
    }
}

impl Recovery {
    /// The recovery of a namespace whose adapter is `adapter`: its store's, or in memory.
    pub(crate) fn new(config: RecoveryConfig, adapter: &dyn Adapter) -> Arc<Self> {
        Arc::new(match adapter.recovery(&config) {
            Some(store) => Recovery::Remote(store),
            None => Recovery::Memory(Memory::new(config)),
        })
    }

    /// A new session's private id.
    pub(crate) fn new_session(&self) -> Arc<str> {
        match self {
            Recovery::Memory(_) => crate::util::id::new_id(),
            Recovery::Remote(store) => Arc::from(store.new_session()),
        }
    }

    /// A broadcast through `adapter`, stored with its offset.
    pub(crate) fn broadcast(
        &self,
        frame: String,
        options: &BroadcastOptions,
        adapter: &Arc<dyn Adapter>,
    ) -> Result<(), AdapterError> {
        match self {
            Recovery::Memory(memory) => memory.emit(frame, Target::of(options), |frame| {
                adapter.broadcast(frame.clone(), options)
            }),
            Recovery::Remote(store) => store.append(frame, Target::of(options)),
        }
    }

    /// A frame for the socket `id` alone (`socket.emit`, an event reply), stored with its
    /// offset and handed to `send`. Remote, before the socket is `registered` (its hooks'
    /// emits), it is sent as it is: its session starts after it.
    pub(crate) fn direct<E: std::convert::From<AdapterError>>(
        &self,
        id: &str,
        registered: impl FnOnce() -> bool,
        frame: String,
        send: impl FnOnce(Utf8Bytes) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Recovery::Memory(memory) => {
                memory.emit(frame, Target::socket(id), |frame| send(frame.clone()))
            }
            Recovery::Remote(_) if !registered() => send(frame.into()),
            Recovery::Remote(store) => Ok(store.append(frame, Target::socket(id))?),
        }
    }

    /// Whether a connection presenting `session` skips the handshake guards: `skip_guards`
    /// is on and the session is waiting (in memory only: the app refuses `skip_guards` with a
    /// cluster adapter).
    pub(crate) fn skips_guards(&self, session: &str) -> bool {
        match self {
            Recovery::Memory(memory) => memory.skips_guards(session),
            Recovery::Remote(_) => false,
        }
    }

    /// What a connection presenting `session` (if any) and `offset` brings: nothing, a
    /// session claimed, or why it could not be (counted, and logged at debug).
    pub(crate) async fn attempt(&self, session: Option<&str>, offset: Option<&str>) -> Attempt {
        let Some(session) = session else {
            return Attempt::Fresh;
        };
        let claimed = match self {
            Recovery::Memory(memory) => memory.claim(session, offset),
            Recovery::Remote(store) => store.claim(session, offset).await.map(|claimed| {
                let Claimed { state, offset } = claimed;
                Claim {
                    saved: Saved {
                        id: Arc::from(state.id),
                        rooms: state.rooms,
                        extensions: Extensions::new(),
                        since: Arc::from(state.since),
                    },
                    session: Arc::from(session),
                    from: From::Remote { offset },
                }
            }),
        };
        match claimed {
            Ok(claim) => Attempt::Claimed(claim),
            Err(why) => {
                tracing::debug!(reason = %why, "connection not recovered");
                Attempt::Failed(why)
            }
        }
    }

    /// Registers a socket in log order: `register` is given what the socket is told (with
    /// the frames it missed, when it recovers), and must make the socket a broadcast target
    /// before it returns. At most `capacity` (frames, bytes) are replayed: past it,
    /// [`NotRecovered::Overflow`].
    pub(crate) async fn register(
        &self,
        attempt: &Attempt,
        capacity: (usize, usize),
        register: impl FnOnce(Registration) + Send + 'static,
    ) {
        match self {
            Recovery::Memory(memory) => memory.register(attempt, capacity, register),
            Recovery::Remote(store) => {
                let start = match attempt {
                    Attempt::Claimed(Claim {
                        saved,
                        from: From::Remote { offset },
                        ..
                    }) => Start::Recovering {
                        id: saved.id.to_string(),
                        rooms: saved.rooms.clone(),
                        offset: offset.clone(),
                        capacity,
                    },
                    _ => Start::Fresh,
                };
                let why = match attempt {
                    Attempt::Failed(why) => Some(*why),
                    _ => None,
                };
                let register = move |mut registration: Registration| {
                    if let Outcome::Fresh(None) = registration.outcome {
                        registration.outcome = Outcome::Fresh(why);
                    }
                    register(registration)
                };
                store.register(start, Box::new(register)).await;
            }
        }
    }

    /// A registered socket's session, or its rooms changed: a remote store keeps it, to
    /// recover it if this process dies.
    pub(crate) fn live(
        &self,
        session: &SessionId,
        id: &str,
        rooms: impl FnOnce() -> Vec<crate::adapter::Room>,
    ) {
        if let Recovery::Remote(store) = self {
            let state = SessionState::new(id, rooms(), &*session.since);
            store.live(&session.session, state);
        }
    }

    /// Keeps a lost socket's session for the window, and `keep` alive while any session waits
    /// (in memory).
    pub(crate) fn save(
        &self,
        session: Arc<str>,
        saved: Saved,
        keep: Arc<dyn std::any::Any + Send + Sync>,
    ) {
        match self {
            Recovery::Memory(memory) => memory.save(session, saved, keep),
            Recovery::Remote(store) => {
                let state = SessionState::new(&*saved.id, saved.rooms, &*saved.since);
                store.save(&session, state);
            }
        }
    }

    /// A socket closed on purpose: its session will not be recovered.
    pub(crate) fn forget(&self, session: &str) {
        if let Recovery::Remote(store) = self {
            store.forget(session);
        }
    }

    /// What it holds and has done.
    pub(crate) fn stats(&self) -> RecoveryStats {
        match self {
            Recovery::Memory(memory) => memory.stats(),
            Recovery::Remote(store) => store.stats(),
        }
    }
}
