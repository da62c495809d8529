//! The sessions of one namespace waiting to be recovered: what a socket was when its
//! connection was lost, kept for the window, bounded in number.

use crate::adapter::Room;
use axum::http::Extensions;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

/// What a lost socket was, to be again.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    /// Its id, which the recovered socket keeps.
    pub(crate) id: Arc<str>,
    /// Its rooms (not the one named by its id).
    pub(crate) rooms: Vec<Room>,
    /// Its extensions (what guards and hooks stored on it).
    pub(crate) extensions: Extensions,
    /// The offset it was registered at (as the client is told it).
    pub(crate) since: Arc<str>,
}

#[derive(Debug)]
struct Waiting {
    saved: Saved,
    expires: Instant,
}

/// Sessions by their private id, and their expiries in order.
#[derive(Debug)]
pub(crate) struct Sessions {
    max: usize,
    by_id: HashMap<Arc<str>, Waiting>,
    /// `(expiry, session)`, oldest first; an entry whose session was taken or saved again
    /// since is skipped when it comes up.
    expiries: VecDeque<(Instant, Arc<str>)>,
}

/// Why a session could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    Unknown,
    Expired,
}

impl Sessions {
    pub(crate) fn new(max: usize) -> Self {
        Sessions {
            max,
            by_id: HashMap::new(),
            expiries: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Keeps `saved` under `session` until `expires`; past the bound, the session closest to
    /// its expiry goes first. Returns how many were dropped that way.
    pub(crate) fn save(&mut self, session: Arc<str>, saved: Saved, expires: Instant) -> usize {
        let mut evicted = 0;
        while self.by_id.len() >= self.max && self.max > 0 {
            let Some((_, oldest)) = self.expiries.pop_front() else {
                break;
            };
            evicted += usize::from(self.by_id.remove(&oldest).is_some());
        }
        if self.max == 0 {
            return 1;
        }
        self.expiries.push_back((expires, session.clone()));
        self.by_id.insert(session, Waiting { saved, expires });
        evicted
    }

    /// Takes the session, if it is there and not expired at `now`.
    pub(crate) fn take(&mut self, session: &str, now: Instant) -> Result<Saved, Missing> {
        let waiting = self.by_id.remove(session).ok_or(Missing::Unknown)?;
        if waiting.expires <= now {
            return Err(Missing::Expired);
        }
        Ok(waiting.saved)
    }

    /// Whether the session is there and not expired at `now`.
    pub(crate) fn contains(&self, session: &str, now: Instant) -> bool {
        self.by_id
            .get(session)
            .is_some_and(|waiting| waiting.expires > now)
    }

    /// Drops every session expired at `now`; returns how many.
    pub(crate) fn sweep(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some((expires, _)) = self.expiries.front() {
            if *expires > now {
                break;
            }
            let Some((expires, session)) = self.expiries.pop_front() else {
                break;
            };
            // Only if this entry is the session's current one (not saved again since).
            if self
                .by_id
                .get(&session)
                .is_some_and(|waiting| waiting.expires == expires)
            {
                self.by_id.remove(&session);
                dropped += 1;
            }
        }
        if self.by_id.is_empty() {
            // Entries of taken sessions: nothing to keep them for.
            self.expiries.clear();
        }
        if self.expiries.capacity() > 64 && self.expiries.len() < self.expiries.capacity() / 4 {
            self.expiries.shrink_to_fit();
        }
        if self.by_id.capacity() > 64 && self.by_id.len() < self.by_id.capacity() / 4 {
            self.by_id.shrink_to_fit();
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn saved(id: &str) -> Saved {
        Saved {
            id: Arc::from(id),
            rooms: Vec::new(),
            extensions: Extensions::new(),
            since: Arc::from("x-0"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_and_are_taken_once() {
        let mut sessions = Sessions::new(10);
        let now = Instant::now();
        sessions.save("p1".into(), saved("a"), now + Duration::from_secs(2));
        sessions.save("p2".into(), saved("b"), now + Duration::from_secs(4));
        assert!(sessions.contains("p1", now));
        assert_eq!(sessions.take("p1", now).unwrap().id.as_ref(), "a");
        assert_eq!(sessions.take("p1", now).unwrap_err(), Missing::Unknown);
        let later = now + Duration::from_secs(5);
        assert_eq!(sessions.take("p2", later).unwrap_err(), Missing::Expired);
    }

    #[tokio::test(start_paused = true)]
    async fn ten_thousand_lost_sessions_are_all_freed_after_the_window() {
        let mut sessions = Sessions::new(100_000);
        let now = Instant::now();
        for n in 0..10_000 {
            let session: Arc<str> = Arc::from(format!("p{n}"));
            sessions.save(session, saved("x"), now + Duration::from_secs(120));
        }
        assert_eq!(sessions.len(), 10_000);
        assert_eq!(sessions.sweep(now + Duration::from_secs(119)), 0);
        assert_eq!(sessions.sweep(now + Duration::from_secs(120)), 10_000);
        assert_eq!(sessions.len(), 0);
        assert!(
            sessions.by_id.capacity() <= 64,
            "{}",
            sessions.by_id.capacity()
        );
        assert!(sessions.expiries.capacity() <= 64);
    }

    #[tokio::test(start_paused = true)]
    async fn the_bound_drops_the_oldest() {
        let mut sessions = Sessions::new(2);
        let now = Instant::now();
        assert_eq!(
            sessions.save("p1".into(), saved("a"), now + Duration::from_secs(1)),
            0
        );
        assert_eq!(
            sessions.save("p2".into(), saved("b"), now + Duration::from_secs(2)),
            0
        );
        assert_eq!(
            sessions.save("p3".into(), saved("c"), now + Duration::from_secs(3)),
            1
        );
        assert_eq!(sessions.take("p1", now).unwrap_err(), Missing::Unknown);
        assert!(sessions.contains("p2", now) && sessions.contains("p3", now));
    }
}
