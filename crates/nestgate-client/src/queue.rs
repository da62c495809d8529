//! The offline queue: what `emit` and `request` keep while the client is not connected, bounded
//! in frames and bytes, each emit with an expiry.

use crate::Error;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The bounds of the offline queue.
///
/// ```
/// use nestgate_client::QueueLimits;
///
/// let small = QueueLimits { max_items: 10, ..QueueLimits::default() };
/// assert_eq!(small.max_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// At most this many frames. Default 100.
    pub max_items: usize,
    /// At most this many bytes of frames. Default 1 MiB.
    pub max_bytes: usize,
    /// How long an emit waits for the connection; then it is dropped and reported on the
    /// [`Lifecycle`](crate::Lifecycle) stream ([`Error::Expired`]). A request waits at most
    /// its own timeout. Default 30 s.
    pub timeout: Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_items: 100,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a queued frame is.
#[derive(Debug)]
pub(crate) enum Kind {
    /// An emit of `event`, dropped at `expires`.
    Emit { event: String, expires: Instant },
    /// Request `id`: its caller's timeout removes it.
    Request { id: u64 },
}

/// A frame waiting for the connection.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) frame: String,
    pub(crate) kind: Kind,
}

/// A bounded FIFO of frames.
#[derive(Debug)]
pub(crate) struct OfflineQueue {
    limits: QueueLimits,
    items: VecDeque<Item>,
    bytes: usize,
}

impl OfflineQueue {
    pub(crate) fn new(limits: QueueLimits) -> Self {
        OfflineQueue {
            limits,
            items: VecDeque::new(),
            bytes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Queues an emit of `event`, dropped after the queue's timeout.
    pub(crate) fn push_emit(&mut self, event: &str, frame: String) -> Result<(), Error> {
        let expires = Instant::now() + self.limits.timeout;
        let kind = Kind::Emit {
            event: event.to_owned(),
            expires,
        };
        self.push(Item { frame, kind })
    }

    /// Queues request `id`.
    pub(crate) fn push_request(&mut self, id: u64, frame: String) -> Result<(), Error> {
        self.push(Item {
            frame,
            kind: Kind::Request { id },
        })
    }

    fn push(&mut self, item: Item) -> Result<(), Error> {
        let QueueLimits {
            max_items,
            max_bytes,
            ..
        } = self.limits;
        if self.items.len() >= max_items {
            return Err(Error::QueueFull(format!("{max_items} frames")));
        }
        let bytes = item.frame.len();
        if self.bytes + bytes > max_bytes {
            return Err(Error::QueueFull(format!(
                "{} of {max_bytes} bytes; this frame is {bytes}",
                self.bytes
            )));
        }
        self.bytes += bytes;
        self.items.push_back(item);
        Ok(())
    }

    /// Removes request `id`; whether it was queued.
    pub(crate) fn remove_request(&mut self, id: u64) -> bool {
        let Some(index) = self
            .items
            .iter()
            .position(|item| matches!(item.kind, Kind::Request { id: queued } if queued == id))
        else {
            return false;
        };
        if let Some(item) = self.items.remove(index) {
            self.bytes -= item.frame.len();
        }
        true
    }

    /// Removes and returns the emits expired by `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Item> {
        let (expired, kept): (Vec<Item>, Vec<Item>) = self
            .items
            .drain(..)
            .partition(|item| matches!(item.kind, Kind::Emit { expires, .. } if expires <= now));
        self.items = kept.into();
        self.bytes = self.items.iter().map(|item| item.frame.len()).sum();
        expired
    }

    /// When the next emit expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|item| match item.kind {
                Kind::Emit { expires, .. } => Some(expires),
                Kind::Request { .. } => None,
            })
            .min()
    }

    /// Takes every item, oldest first.
    pub(crate) fn take(&mut self) -> Vec<Item> {
        self.bytes = 0;
        self.items.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_items: usize, max_bytes: usize) -> QueueLimits {
        QueueLimits {
            max_items,
            max_bytes,
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn both_bounds_refuse_the_overflow() {
        let mut queue = OfflineQueue::new(limits(2, 10));
        queue.push_request(1, "12345".into()).unwrap();
        let err = queue.push_request(2, "123456".into()).unwrap_err();
        assert!(err.to_string().contains("5 of 10 bytes"), "{err}");
        queue.push_emit("e", "12345".into()).unwrap();
        let err = queue.push_emit("e", "1".into()).unwrap_err();
        assert!(err.to_string().contains("2 frames"), "{err}");
        // Taking frees both bounds.
        assert_eq!(queue.take().len(), 2);
        queue.push_request(3, "1234567890".into()).unwrap();
    }

    #[test]
    fn a_removed_request_frees_its_bytes() {
        let mut queue = OfflineQueue::new(limits(10, 10));
        queue.push_request(1, "12345".into()).unwrap();
        queue.push_request(2, "12345".into()).unwrap();
        assert!(queue.remove_request(1));
        assert!(!queue.remove_request(1));
        queue.push_request(3, "12345".into()).unwrap();
        let ids: Vec<_> = queue
            .take()
            .into_iter()
            .map(|item| match item.kind {
                Kind::Request { id } => id,
                Kind::Emit { .. } => 0,
            })
            .collect();
        assert_eq!(ids, [2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn emits_expire_and_requests_do_not() {
        let mut queue = OfflineQueue::new(limits(10, 100));
        queue.push_emit("a", "a".into()).unwrap();
        queue.push_request(1, "r".into()).unwrap();
        tokio::time::advance(Duration::from_secs(10)).await;
        queue.push_emit("b", "b".into()).unwrap();
        assert_eq!(
            queue.next_expiry(),
            Some(Instant::now() + Duration::from_secs(20))
        );
        tokio::time::advance(Duration::from_secs(25)).await;
        let expired = queue.expire(Instant::now());
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].frame, "a");
        assert_eq!(queue.len(), 2);
    }
}
