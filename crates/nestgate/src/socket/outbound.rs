//! The bounded outbound queue of one socket: many senders (replies, emits, broadcasts), one
//! receiver (the connection's writer task). It is bounded twice: in frames and in bytes, so that
//! neither many small frames nor a few large ones can pin more than the settings allow.
//!
//! It lives inside the socket and allocates nothing while empty: an idle connection holds no
//! queue buffer (a tokio channel would hold its first block, 1.3 KiB, for the connection's
//! lifetime). A buffer that grew during a burst is freed once drained.

use crate::util::sync::lock;
use axum::extract::ws::Message;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// How many slots a drained queue keeps, so that steady traffic does not reallocate (a burst
/// larger than this is freed once drained).
const RETAINED: usize = 64;

pub(crate) struct Outbound {
    state: Mutex<State>,
    ready: Notify,
    /// The receiver is (about to be) waiting: only then does a push need to wake it.
    waiting: AtomicBool,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Message>,
    /// The payload bytes of `frames`.
    bytes: usize,
    closed: bool,
}

/// The payload bytes a frame holds while queued.
fn size(frame: &Message) -> usize {
    match frame {
        Message::Text(text) => text.len(),
        Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data.len(),
        Message::Close(frame) => frame.as_ref().map_or(0, |frame| frame.reason.len()),
    }
}

/// What became of a pushed frame.
pub(crate) enum Push {
    /// Queued: the queue's length (in frames) with it.
    Queued(usize),
    Full,
    Closed,
}

impl Outbound {
    /// A queue of at most `capacity` frames and `max_bytes` payload bytes. A frame larger than
    /// `max_bytes` is still accepted into an empty queue, so one large frame does not by itself
    /// make a slow consumer.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Outbound {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            waiting: AtomicBool::new(false),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section below leaves the state consistent, so a poisoned lock is usable.
        lock(&self.state)
    }

    /// Queues a frame without waiting.
    pub(crate) fn push(&self, frame: Message) -> Push {
        let queued = {
            let mut state = self.state();
            if state.closed {
                return Push::Closed;
            }
            let len = size(&frame);
            let over_bytes = !state.frames.is_empty() && state.bytes + len > self.max_bytes;
            if state.frames.len() >= self.capacity || over_bytes {
                return Push::Full;
            }
            state.bytes += len;
            state.frames.push_back(frame);
            state.frames.len()
        };
        // A busy receiver finds the frame on its own. One that is waiting, or about to wait, is
        // woken: `notify_one` keeps a permit if it has not parked yet, so no wake-up is lost.
        // (A load first: a busy receiver costs no atomic write. The queue's lock orders a
        // receiver's announcement, made before its last look, before this push.)
        if self.waiting.load(Ordering::Acquire) && self.waiting.swap(false, Ordering::AcqRel) {
            self.ready.notify_one();
        }
        Push::Queued(queued)
    }

    /// The next frame, if one is queued.
    pub(crate) fn try_pop(&self) -> Option<Message> {
        let mut state = self.state();
        let frame = state.pop();
        if state.frames.is_empty() && state.frames.capacity() > RETAINED {
            state.frames = VecDeque::new();
        }
        frame
    }

    /// Waits for the next frame; `None` once the queue is closed.
    pub(crate) async fn pop(&self) -> Option<Message> {
        loop {
            if let Some(frame) = self.try_pop() {
                return Some(frame);
            }
            // Announce the wait before the last look, so that a push in between wakes us.
            self.waiting.store(true, Ordering::Release);
            {
                let mut state = self.state();
                if let Some(frame) = state.pop() {
                    self.waiting.store(false, Ordering::Release);
                    return Some(frame);
                }
                if state.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Closes the queue: what is queued is dropped, and later pushes fail.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut state = self.state();
            state.closed = true;
            state.bytes = 0;
            std::mem::take(&mut state.frames)
        };
        drop(dropped);
        self.waiting.store(false, Ordering::Release);
        self.ready.notify_one();
    }
}

impl State {
    fn pop(&mut self) -> Option<Message> {
        let frame = self.frames.pop_front()?;
        self.bytes -= size(&frame);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_ordered_and_closable() {
        let queue = Outbound::new(2, usize::MAX);
        assert!(matches!(queue.push(Message::text("a")), Push::Queued(_)));
        assert!(matches!(queue.push(Message::text("b")), Push::Queued(_)));
        assert!(matches!(queue.push(Message::text("c")), Push::Full));
        assert_eq!(queue.pop().await, Some(Message::text("a")));
        assert_eq!(queue.try_pop(), Some(Message::text("b")));
        assert_eq!(queue.try_pop(), None);
        queue.close();
        assert!(matches!(queue.push(Message::text("d")), Push::Closed));
        assert_eq!(queue.pop().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken() {
        let queue = std::sync::Arc::new(Outbound::new(4, usize::MAX));
        let receiver = tokio::spawn({
            let queue = queue.clone();
            async move { queue.pop().await }
        });
        tokio::task::yield_now().await;
        assert!(matches!(queue.push(Message::text("x")), Push::Queued(_)));
        assert_eq!(receiver.await.unwrap(), Some(Message::text("x")));
    }

    #[test]
    fn a_drained_burst_frees_its_buffer() {
        let queue = Outbound::new(1024, usize::MAX);
        for _ in 0..100 {
            let _ = queue.push(Message::text("x"));
        }
        while queue.try_pop().is_some() {}
        assert_eq!(queue.state().frames.capacity(), 0);
    }

    #[test]
    fn bounded_in_bytes_too() {
        const KIB: usize = 1024;
        let half = || Message::text("x".repeat(512 * KIB));
        let queue = Outbound::new(1024, 1024 * KIB);
        assert!(matches!(queue.push(half()), Push::Queued(_)));
        assert!(matches!(queue.push(half()), Push::Queued(_)));
        assert!(matches!(queue.push(half()), Push::Full));
        // Small frames still fit after a large one leaves.
        assert!(queue.try_pop().is_some());
        assert_eq!(queue.state().bytes, 512 * KIB);
        assert!(matches!(queue.push(Message::text("y")), Push::Queued(_)));
        assert!(matches!(queue.push(half()), Push::Full));
        while queue.try_pop().is_some() {}
        assert_eq!(queue.state().bytes, 0);
        // One frame larger than the whole bound is accepted into an empty queue only.
        let huge = || Message::text("z".repeat(2048 * KIB));
        assert!(matches!(queue.push(huge()), Push::Queued(_)));
        assert!(matches!(queue.push(Message::text("a")), Push::Full));
        assert!(queue.try_pop().is_some());
        assert!(matches!(queue.push(Message::text("a")), Push::Queued(_)));
        assert!(matches!(queue.push(huge()), Push::Full));
    }
}
