//! The bounded outbound queue of one socket: many senders (replies, emits, broadcasts), one
//! receiver (the connection's writer task).
//!
//! It lives inside the socket and allocates nothing while empty: an idle connection holds no
//! queue buffer (a tokio channel would hold its first block, 1.3 KiB, for the connection's
//! lifetime). A buffer that grew during a burst is freed once drained.

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
}

#[derive(Default)]
struct State {
    frames: VecDeque<Message>,
    closed: bool,
}

/// What became of a pushed frame.
pub(crate) enum Push {
    Queued,
    Full,
    Closed,
}

impl Outbound {
    pub(crate) fn new(capacity: usize) -> Self {
        Outbound {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            waiting: AtomicBool::new(false),
            capacity: capacity.max(1),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section below leaves the state consistent, so a poisoned lock is usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a frame without waiting.
    pub(crate) fn push(&self, frame: Message) -> Push {
        {
            let mut state = self.state();
            if state.closed {
                return Push::Closed;
            }
            if state.frames.len() >= self.capacity {
                return Push::Full;
            }
            state.frames.push_back(frame);
        }
        // A busy receiver finds the frame on its own. One that is waiting, or about to wait, is
        // woken: `notify_one` keeps a permit if it has not parked yet, so no wake-up is lost.
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.ready.notify_one();
        }
        Push::Queued
    }

    /// The next frame, if one is queued.
    pub(crate) fn try_pop(&self) -> Option<Message> {
        let mut state = self.state();
        let frame = state.frames.pop_front();
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
                if let Some(frame) = state.frames.pop_front() {
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
            std::mem::take(&mut state.frames)
        };
        drop(dropped);
        self.waiting.store(false, Ordering::Release);
        self.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_ordered_and_closable() {
        let queue = Outbound::new(2);
        assert!(matches!(queue.push(Message::text("a")), Push::Queued));
        assert!(matches!(queue.push(Message::text("b")), Push::Queued));
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
        let queue = std::sync::Arc::new(Outbound::new(4));
        let receiver = tokio::spawn({
            let queue = queue.clone();
            async move { queue.pop().await }
        });
        tokio::task::yield_now().await;
        assert!(matches!(queue.push(Message::text("x")), Push::Queued));
        assert_eq!(receiver.await.unwrap(), Some(Message::text("x")));
    }

    #[test]
    fn a_drained_burst_frees_its_buffer() {
        let queue = Outbound::new(1024);
        for _ in 0..100 {
            let _ = queue.push(Message::text("x"));
        }
        while queue.try_pop().is_some() {}
        assert_eq!(queue.state().frames.capacity(), 0);
    }
}
