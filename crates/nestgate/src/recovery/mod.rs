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
//! In memory, on one process: with a cluster adapter the app refuses to start
//! ([`Error::Unsupported`](crate::Error)) until the Redis adapter stores the log.

mod log;
mod sessions;

pub use crate::config::RecoveryConfig;
pub(crate) use log::Target;
pub(crate) use sessions::Saved;

use crate::util::sync::lock;
use axum::extract::ws::Utf8Bytes;
use log::{Bounds, Log};
use serde::Serialize;
use sessions::{Missing, Sessions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

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
    /// Sessions waiting now.
    pub sessions: usize,
    /// Messages stored now.
    pub messages: usize,
    /// Bytes of stored frames now.
    pub bytes: usize,
}

impl RecoveryStats {
    fn count(&mut self, why: NotRecovered) {
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
/// id, which other clients may know). Kept in the socket's extensions.
#[derive(Debug, Clone)]
pub(crate) struct SessionId {
    pub(crate) session: Arc<str>,
    /// The offset it was registered at: where a client that got no stored message since
    /// (a socket.io client then presents no offset) is recovered from.
    pub(crate) since: u64,
}

/// A session claimed by a reconnecting client: what the socket was, and the client's offset.
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) saved: Saved,
    pub(crate) session: Arc<str>,
    offset: u64,
    /// The newest offset when it was claimed: a direct emit after it reached the socket
    /// already (its hooks' emits), and is not replayed.
    claimed_at: u64,
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
pub(crate) struct Registration {
    /// The offset to present next time (the missed frames after it carry their own).
    pub(crate) offset: String,
    /// That offset's number.
    pub(crate) since: u64,
    pub(crate) outcome: Outcome,
}

/// Whether a socket was recovered.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Not recovered: a new socket (why, when it asked to be).
    Fresh(Option<NotRecovered>),
    /// Recovered: the frames it missed, in order.
    Recovered(Vec<Utf8Bytes>),
}

/// One namespace's recovery.
#[derive(Debug)]
pub(crate) struct Recovery {
    config: RecoveryConfig,
    epoch: Box<str>,
    state: Mutex<State>,
    sweeping: AtomicBool,
}

struct State {
    /// The offset of the newest stored message (0: none yet).
    last: u64,
    /// What must live while sessions wait: a dynamic path's namespace, which would otherwise
    /// go with its last socket, and its sessions with it. Dropped by the sweeper once none
    /// waits (a cycle — namespace, recovery, namespace — broken then).
    keep: Option<Arc<dyn std::any::Any + Send + Sync>>,
    log: Log,
    sessions: Sessions,
    stats: RecoveryStats,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("last", &self.last)
            .field("log", &self.log)
            .field("sessions", &self.sessions)
            .field("kept", &self.keep.is_some())
            .finish_non_exhaustive()
    }
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig) -> Arc<Self> {
        let bounds = Bounds {
            max_messages: config.max_messages,
            max_bytes: config.max_bytes,
            window: config.window,
        };
        Arc::new(Recovery {
            config,
            epoch: format!("{:08x}", rand::random::<u32>()).into(),
            state: Mutex::new(State {
                last: 0,
                keep: None,
                log: Log::new(bounds),
                sessions: Sessions::new(config.max_sessions),
                stats: RecoveryStats::default(),
            }),
            sweeping: AtomicBool::new(false),
        })
    }

    fn offset(&self, n: u64) -> String {
        format!("{}-{n}", self.epoch)
    }

    fn parse(&self, offset: &str) -> Result<u64, NotRecovered> {
        let (epoch, n) = offset.split_once('-').ok_or(NotRecovered::InvalidOffset)?;
        if epoch != &*self.epoch {
            return Err(NotRecovered::EpochChanged);
        }
        n.parse().map_err(|_| NotRecovered::InvalidOffset)
    }

    /// Stores `frame` for `target` with the next offset and hands the stamped frame to
    /// `deliver`, under the log's lock: a socket registering meanwhile either got it in its
    /// replay or gets it from `deliver`, never both, never neither.
    pub(crate) fn emit<R>(
        &self,
        frame: String,
        target: Target,
        deliver: impl FnOnce(&Utf8Bytes) -> R,
    ) -> R {
        let mut state = lock(&self.state);
        let offset = state.last + 1;
        let frame: Utf8Bytes = crate::protocol::with_offset(frame, &self.offset(offset)).into();
        state.last = offset;
        state
            .log
            .push(offset, frame.clone(), target, Instant::now());
        deliver(&frame)
    }

    /// Whether a connection presenting `session` skips the handshake guards: `skip_guards`
    /// is on and the session is waiting.
    pub(crate) fn skips_guards(&self, session: &str) -> bool {
        self.config.skip_guards && lock(&self.state).sessions.contains(session, Instant::now())
    }

    /// What a connection presenting `session` (if any) and `offset` brings: nothing, a
    /// session claimed, or why it could not be (counted, and logged at debug).
    pub(crate) fn attempt(&self, session: Option<&str>, offset: Option<&str>) -> Attempt {
        let Some(session) = session else {
            return Attempt::Fresh;
        };
        match self.claim(session, offset) {
            Ok(claim) => Attempt::Claimed(claim),
            Err(why) => {
                tracing::debug!(reason = %why, "connection not recovered");
                Attempt::Failed(why)
            }
        }
    }

    /// Takes the session a reconnecting client presents, if it can be recovered from
    /// `offset` (`None`: from where the session was registered, for a client that got no
    /// stored message since). A failure is counted, and the session (if any) is gone.
    pub(crate) fn claim(&self, session: &str, offset: Option<&str>) -> Result<Claim, NotRecovered> {
        let mut state = lock(&self.state);
        let result = self.claim_locked(&mut state, session, offset);
        if let Err(why) = result {
            state.stats.count(why);
        }
        result
    }

    fn claim_locked(
        &self,
        state: &mut State,
        session: &str,
        offset: Option<&str>,
    ) -> Result<Claim, NotRecovered> {
        let now = Instant::now();
        let saved = state
            .sessions
            .take(session, now)
            .map_err(|missing| match missing {
                Missing::Unknown => NotRecovered::UnknownSession,
                Missing::Expired => NotRecovered::Expired,
            })?;
        let offset = match offset {
            Some(offset) => self.parse(offset)?,
            None => saved.since,
        };
        state.log.trim(now);
        if state.log.after(offset, state.last).is_err() {
            return Err(if offset > state.last {
                NotRecovered::InvalidOffset
            } else {
                NotRecovered::Gap
            });
        }
        Ok(Claim {
            saved,
            session: Arc::from(session),
            offset,
            claimed_at: state.last,
        })
    }

    /// Registers a socket, under the log's lock: `register` is given what the socket is told
    /// (with the frames it missed: those after the claim's offset that reached its id or one
    /// of its saved rooms), and must make the socket a broadcast target before it returns.
    /// At most `capacity` (frames, bytes) are replayed: past it, [`NotRecovered::Overflow`].
    pub(crate) fn register<R>(
        &self,
        attempt: &Attempt,
        capacity: (usize, usize),
        register: impl FnOnce(Registration) -> R,
    ) -> R {
        let mut state = lock(&self.state);
        let fresh = |state: &State, why| Registration {
            offset: self.offset(state.last),
            since: state.last,
            outcome: Outcome::Fresh(why),
        };
        let registration = match attempt {
            Attempt::Fresh => fresh(&state, None),
            Attempt::Failed(why) => fresh(&state, Some(*why)),
            Attempt::Claimed(claim) => {
                let Saved { id, rooms, .. } = &claim.saved;
                let missed = state.log.after(claim.offset, state.last).map(|entries| {
                    entries
                        .filter(|entry| entry.target.reaches(id, rooms))
                        .filter(|entry| !(entry.target.direct && entry.offset > claim.claimed_at))
                        .map(|entry| entry.frame.clone())
                        .collect::<Vec<_>>()
                });
                let fits = |missed: &Vec<Utf8Bytes>| {
                    missed.len() <= capacity.0
                        && missed.iter().map(|frame| frame.len()).sum::<usize>() <= capacity.1
                };
                match missed {
                    Ok(missed) if !fits(&missed) => {
                        state.stats.count(NotRecovered::Overflow);
                        fresh(&state, Some(NotRecovered::Overflow))
                    }
                    Ok(missed) => {
                        state.stats.recovered += 1;
                        Registration {
                            offset: self.offset(claim.offset),
                            since: claim.offset,
                            outcome: Outcome::Recovered(missed),
                        }
                    }
                    // Trimmed while the hooks ran: nothing replayed, never a part.
                    Err(_) => {
                        state.stats.count(NotRecovered::Gap);
                        fresh(&state, Some(NotRecovered::Gap))
                    }
                }
            }
        };
        register(registration)
    }

    /// Keeps a lost socket's session for the window, and `keep` alive while any session waits.
    pub(crate) fn save(
        self: &Arc<Self>,
        session: Arc<str>,
        saved: Saved,
        keep: Arc<dyn std::any::Any + Send + Sync>,
    ) {
        let expires = Instant::now() + self.config.window;
        {
            let mut state = lock(&self.state);
            state.keep = Some(keep);
            let evicted = state.sessions.save(session, saved, expires);
            state.stats.saved += 1;
            state.stats.evicted_sessions += evicted as u64;
        }
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            tokio::spawn(sweep(Arc::downgrade(self), self.config.window));
        }
    }

    /// What it holds and has done.
    pub(crate) fn stats(&self) -> RecoveryStats {
        let state = lock(&self.state);
        RecoveryStats {
            sessions: state.sessions.len(),
            messages: state.log.len(),
            bytes: state.log.bytes(),
            ..state.stats.clone()
        }
    }
}

/// Drops expired sessions and old messages as time passes, so that what cannot be recovered
/// any more costs nothing; ends with the namespace.
async fn sweep(recovery: Weak<Recovery>, window: Duration) {
    let period = (window / 8).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(recovery) = recovery.upgrade() else {
            return;
        };
        let now = Instant::now();
        let released = {
            let mut state = lock(&recovery.state);
            state.sessions.sweep(now);
            state.log.trim(now);
            if state.sessions.len() == 0 {
                state.keep.take()
            } else {
                None
            }
        };
        // Dropped outside the lock: it may be the namespace that holds this recovery.
        drop(released);
    }
}
