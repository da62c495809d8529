//! The log of one namespace: every message stored for recovery, with its offset and whom it
//! was for, bounded in messages, bytes and age.

use axum::extract::ws::Utf8Bytes;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) use super::store::StoredTarget as Target;

/// One stored message.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) offset: u64,
    /// The frame as it was sent, its offset in it.
    pub(crate) frame: Utf8Bytes,
    pub(crate) target: Target,
    at: Instant,
}

/// The bounds of the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_messages: usize,
    pub(crate) max_bytes: usize,
    pub(crate) window: Duration,
}

/// Messages in offset order, without holes: entry `i` has offset `first + i`.
#[derive(Debug)]
pub(crate) struct Log {
    bounds: Bounds,
    entries: VecDeque<Entry>,
    bytes: usize,
}

/// The messages after an offset are no longer all there.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Gap;

impl Log {
    pub(crate) fn new(bounds: Bounds) -> Self {
        Log {
            bounds,
            entries: VecDeque::new(),
            bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores the message of `offset` (the next one: one more than the last), then trims.
    pub(crate) fn push(&mut self, offset: u64, frame: Utf8Bytes, target: Target, now: Instant) {
        debug_assert!(
            self.entries
                .back()
                .is_none_or(|last| last.offset + 1 == offset)
        );
        self.bytes += frame.len();
        self.entries.push_back(Entry {
            offset,
            frame,
            target,
            at: now,
        });
        self.trim(now);
    }

    /// Drops the oldest messages past any bound.
    pub(crate) fn trim(&mut self, now: Instant) {
        while let Some(first) = self.entries.front() {
            let over = self.entries.len() > self.bounds.max_messages
                || self.bytes > self.bounds.max_bytes
                || now.saturating_duration_since(first.at) > self.bounds.window;
            if !over {
                break;
            }
            self.bytes -= first.frame.len();
            self.entries.pop_front();
        }
    }

    /// Every message after `offset` (the last one a client got), given `last`, the offset of
    /// the newest message ever stored: all of them, or [`Gap`] when some were trimmed.
    pub(crate) fn after(
        &self,
        offset: u64,
        last: u64,
    ) -> Result<impl Iterator<Item = &Entry>, Gap> {
        if offset > last {
            return Err(Gap);
        }
        let first_kept = self.entries.front().map_or(last + 1, |entry| entry.offset);
        if offset + 1 < first_kept {
            return Err(Gap);
        }
        let skip = usize::try_from(offset + 1 - first_kept).unwrap_or(usize::MAX);
        Ok(self.entries.iter().skip(skip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Room;
    use std::borrow::Cow;

    fn bounds(max_messages: usize, max_bytes: usize) -> Bounds {
        Bounds {
            max_messages,
            max_bytes,
            window: Duration::from_secs(120),
        }
    }

    fn room(name: &str) -> Room {
        Cow::Owned(name.to_owned())
    }

    #[test]
    fn targets_reach_who_the_emit_reached() {
        let everyone = Target::default();
        assert!(everyone.reaches("a", &[]));
        let lobby = Target {
            rooms: vec![room("lobby")],
            ..Target::default()
        };
        assert!(lobby.reaches("a", &[room("lobby")]));
        assert!(!lobby.reaches("a", &[room("other")]));
        let direct = Target {
            rooms: vec![room("a")],
            ..Target::default()
        };
        assert!(direct.reaches("a", &[]));
        assert!(!direct.reaches("b", &[]));
        let but_sender = Target {
            sender: Some("a".into()),
            ..Target::default()
        };
        assert!(!but_sender.reaches("a", &[]));
        assert!(but_sender.reaches("b", &[]));
        let except = Target {
            except: vec![room("muted")],
            ..Target::default()
        };
        assert!(!except.reaches("a", &[room("muted")]));
        assert!(except.reaches("a", &[room("lobby")]));
    }

    #[tokio::test(start_paused = true)]
    async fn the_log_is_bounded_and_tells_a_gap() {
        let mut log = Log::new(bounds(3, 100));
        for offset in 1..=5 {
            log.push(offset, "12345".into(), Target::default(), Instant::now());
        }
        // Three kept: 3, 4, 5.
        assert_eq!(log.len(), 3);
        assert_eq!(log.bytes(), 15);
        let after = |offset| {
            log.after(offset, 5)
                .map(|entries| entries.map(|entry| entry.offset).collect::<Vec<_>>())
        };
        assert_eq!(after(2), Ok(vec![3, 4, 5]));
        assert_eq!(after(4), Ok(vec![5]));
        assert_eq!(after(5), Ok(vec![]));
        assert_eq!(after(1), Err(Gap));
        assert_eq!(after(6), Err(Gap));

        let mut by_bytes = Log::new(bounds(100, 10));
        by_bytes.push(1, "123456".into(), Target::default(), Instant::now());
        by_bytes.push(2, "123456".into(), Target::default(), Instant::now());
        assert_eq!((by_bytes.len(), by_bytes.bytes()), (1, 6));

        let mut by_age = Log::new(bounds(100, 100));
        by_age.push(1, "1".into(), Target::default(), Instant::now());
        tokio::time::advance(Duration::from_secs(121)).await;
        by_age.trim(Instant::now());
        assert_eq!(by_age.len(), 0);
        // Nothing kept and nothing missed is no gap; something missed is.
        assert!(by_age.after(1, 1).is_ok());
        assert_eq!(by_age.after(0, 1).err(), Some(Gap));
    }
}
