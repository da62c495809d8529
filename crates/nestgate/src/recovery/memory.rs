//! Recovery in this process's memory: one namespace's log and lost sessions, under one lock
//! (so that storing a message and registering a socket are ordered).

use super::log::{Bounds, Log, Target};
use super::sessions::{Missing, Saved, Sessions};
use super::{Attempt, Claim, From, NotRecovered, RecoveryConfig, RecoveryStats, Registration};
use crate::util::sync::lock;
use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// One namespace's recovery in this process's memory.
#[derive(Debug)]
pub(crate) struct Memory {
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

impl Memory {
    pub(crate) fn new(config: RecoveryConfig) -> Arc<Self> {
        let bounds = Bounds {
            max_messages: config.max_messages,
            max_bytes: config.max_bytes,
            window: config.window,
        };
        Arc::new(Memory {
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
        let offset = self.parse(offset.unwrap_or(&saved.since))?;
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
            from: From::Memory {
                offset,
                claimed_at: state.last,
            },
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
        let fresh = |state: &State, why| Registration::fresh(self.offset(state.last), why);
        let registration = match attempt {
            Attempt::Fresh => fresh(&state, None),
            Attempt::Failed(why) => fresh(&state, Some(*why)),
            Attempt::Claimed(Claim {
                saved: Saved { id, rooms, .. },
                from: From::Memory { offset, claimed_at },
                ..
            }) => {
                let (offset, claimed_at) = (*offset, *claimed_at);
                let missed = state.log.after(offset, state.last).map(|entries| {
                    entries
                        .filter(|entry| entry.target.reaches(id, rooms))
                        .filter(|entry| !(entry.target.direct && entry.offset > claimed_at))
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
                        Registration::recovered(self.offset(offset), missed)
                    }
                    // Trimmed while the hooks ran: nothing replayed, never a part.
                    Err(_) => {
                        state.stats.count(NotRecovered::Gap);
                        fresh(&state, Some(NotRecovered::Gap))
                    }
                }
            }
            // Claimed from a remote store: not this backend's.
            Attempt::Claimed(_) => fresh(&state, Some(NotRecovered::UnknownSession)),
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
async fn sweep(recovery: Weak<Memory>, window: Duration) {
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
