//! Every session's heartbeat, driven by one task per engine rather than a task (and a timer) per
//! session: a schedule of instants, each naming the session that is due then.
//!
//! A session has at most one live entry (its key is in the session's state): the instant of its
//! next ping, or, once pinged, the instant its pong is due. An entry the session no longer
//! names (a pong came, the session closed) is stale and ignored when it comes up; the paths
//! that replace or drop an entry remove the old one, so stale entries are rare, and they hold a
//! `Weak`, never the session. The driver runs while there is an entry and stops when the
//! schedule is empty (the first new entry starts it again): an engine without sessions has no
//! task.
//!
//! Locks: a session's state, then the schedule — never the other way round (the driver takes
//! nothing from the schedule while it beats a session).

use super::session::Session;
use crate::util::sync::lock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// An entry: when, and a number that tells entries of the same instant apart.
pub(super) type Key = (Instant, u64);

/// The heartbeat of an engine's sessions.
pub(super) struct Heartbeats {
    /// How long after its last pong (or its start) a session is pinged.
    pub(super) interval: Duration,
    /// How long a pong may take.
    pub(super) timeout: Duration,
    schedule: Mutex<Schedule>,
    /// An entry earlier than the driver's next wake-up was added.
    earlier: Notify,
}

#[derive(Default)]
struct Schedule {
    entries: BTreeMap<Key, Weak<Session>>,
    /// The last number given to an entry.
    count: u64,
    /// The driver task is running.
    driving: bool,
    /// When the driver wakes up next, while it waits.
    wake_at: Option<Instant>,
}

impl Heartbeats {
    pub(super) fn new(interval: Duration, timeout: Duration) -> Self {
        Heartbeats {
            interval,
            timeout,
            schedule: Mutex::default(),
            earlier: Notify::new(),
        }
    }

    /// Adds an entry for `session` at `at` (starting the driver if it is not running).
    pub(super) fn schedule(self: &Arc<Self>, session: &Arc<Session>, at: Instant) -> Key {
        let mut schedule = lock(&self.schedule);
        schedule.count += 1;
        let key = (at, schedule.count);
        schedule.entries.insert(key, Arc::downgrade(session));
        if !schedule.driving {
            schedule.driving = true;
            tokio::spawn(drive(self.clone()));
        } else if schedule.wake_at.is_some_and(|wake_at| at < wake_at) {
            self.earlier.notify_one();
        }
        key
    }

    /// Removes an entry (if it is still there).
    pub(super) fn cancel(&self, key: Key) {
        lock(&self.schedule).entries.remove(&key);
    }

    /// The entries due at `now`, taken out; or when the next one is due; or `None` when there
    /// is none (the driver then stops).
    fn due(&self, now: Instant, out: &mut Vec<(Key, Weak<Session>)>) -> Option<Option<Instant>> {
        let mut schedule = lock(&self.schedule);
        while let Some(entry) = schedule.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(entry.remove_entry());
        }
        let next = schedule.entries.first_key_value().map(|(key, _)| key.0);
        if next.is_none() && out.is_empty() {
            schedule.driving = false;
            schedule.wake_at = None;
            return None;
        }
        schedule.wake_at = next;
        Some(next)
    }

    /// The number of entries (live and stale), and whether the driver runs.
    #[cfg(test)]
    fn entries(&self) -> (usize, bool) {
        let schedule = lock(&self.schedule);
        (schedule.entries.len(), schedule.driving)
    }
}

/// The driver: beats the sessions that are due, then sleeps until the next one is.
async fn drive(heartbeats: Arc<Heartbeats>) {
    let mut due = Vec::new();
    loop {
        let Some(next) = heartbeats.due(Instant::now(), &mut due) else {
            return;
        };
        if due.is_empty() {
            // `next` is set whenever nothing was due.
            let Some(next) = next else { continue };
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = heartbeats.earlier.notified() => {}
            }
            continue;
        }
        for (key, session) in due.drain(..) {
            if let Some(session) = session.upgrade() {
                session.beat(&heartbeats, key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engineio::packet::Packet;
    use crate::engineio::socket::CloseReason;
    use crate::engineio::{EngineConfig, EngineIo};
    use std::time::Duration;

    const INTERVAL: Duration = Duration::from_secs(25);
    const TIMEOUT: Duration = Duration::from_secs(20);
    const MS: Duration = Duration::from_millis(1);

    fn pings(session: &super::Session) -> usize {
        let state = session.state();
        state
            .packets
            .iter()
            .filter(|packet| matches!(packet, Packet::Ping(None)))
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn one_task_pings_every_session_and_closes_those_whose_pong_is_late() {
        let config = EngineConfig::default().heartbeat(INTERVAL, TIMEOUT);
        // The application holds its sockets and never reads.
        let engine = EngineIo::new(config, |socket| async move {
            std::future::pending::<()>().await;
            drop(socket);
        });
        let heartbeats = engine.inner.heartbeats.clone();
        assert_eq!(heartbeats.entries(), (0, false), "no session, no task");
        let [answers, silent, uncollected] = std::array::from_fn(|_| engine.test_session().session);
        assert_eq!(heartbeats.entries(), (3, true));

        tokio::time::sleep(INTERVAL - MS).await;
        assert_eq!(pings(&answers), 0, "not before the interval");
        tokio::time::sleep(2 * MS).await;
        for session in [&answers, &silent, &uncollected] {
            assert_eq!(pings(session), 1, "each session pinged once");
        }
        assert_eq!(
            heartbeats.entries().0,
            3,
            "one entry each: its pong's deadline"
        );
        // Two clients are handed their ping; one answers it.
        for session in [&answers, &silent] {
            session.take_packets(&mut Vec::new());
        }
        let answered = tokio::time::Instant::now();
        assert!(answers.receive_now(Packet::Pong(None)).is_none());

        tokio::time::sleep(TIMEOUT).await;
        assert_eq!(silent.reason(), Some(CloseReason::PingTimeout));
        assert_eq!(
            uncollected.reason(),
            Some(CloseReason::PingTimeout),
            "a ping nobody collected is not answered"
        );
        assert_eq!(answers.reason(), None);
        assert_eq!(heartbeats.entries(), (1, true), "closed sessions leave");

        // The next ping comes an interval after the pong.
        tokio::time::sleep_until(answered + INTERVAL - MS).await;
        assert_eq!(pings(&answers), 0);
        tokio::time::sleep(2 * MS).await;
        assert_eq!(pings(&answers), 1);

        answers.close(CloseReason::ServerClose);
        assert_eq!(heartbeats.entries().0, 0);
        // The driver notices the empty schedule when it next wakes, and stops.
        tokio::time::sleep(TIMEOUT + MS).await;
        assert_eq!(heartbeats.entries(), (0, false), "no session left, no task");
        let again = engine.test_session().session;
        assert_eq!(
            heartbeats.entries(),
            (1, true),
            "a new session starts it again"
        );
        again.close(CloseReason::ServerClose);
    }
}
