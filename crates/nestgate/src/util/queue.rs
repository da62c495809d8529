//! [`channel`]: a bounded queue from one or more tasks to one, that holds no buffer while it
//! is empty.
//!
//! Each Socket.IO connection has two queues on its way in (the Engine.IO session's messages,
//! and each namespace socket's frames). A `tokio::sync::mpsc` channel allocates its first block
//! of 32 slots and a cache-padded channel when it is made: about 2 KiB per queue, held by every
//! idle connection. Here the items live in a `VecDeque` that grows on the first message and is
//! given back when the queue is drained, so an idle connection holds one small node per queue.
//! The queues carry a few messages at a time, so one lock per operation costs less than the
//! allocation it saves.

use crate::util::sync::lock;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::sync::Notify;

/// How many slots a drained queue may keep; past this its buffer is given back.
const KEPT: usize = 4;

/// A bounded queue of at most `capacity` items (at least one).
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            senders: 1,
            receiving: true,
            receiver: None,
        }),
        room: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Senders waiting for room.
    room: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    capacity: usize,
    senders: usize,
    /// The receiver is alive.
    receiving: bool,
    /// The receiver's waker, while it waits.
    receiver: Option<Waker>,
}

/// The sending half; cheap to clone.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The receiving half: the queue ends (`None`) once every sender is gone and it is drained.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

impl<T> Sender<T> {
    /// Queues `item`, waiting for room; gives it back when the receiver is gone.
    pub(crate) async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            let room = self.0.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySend::Closed(back)) => return Err(back),
                Err(TrySend::Full(back)) => item = back,
            }
            room.await;
        }
    }

    /// Queues `item` if there is room.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySend<T>> {
        let mut state = lock(&self.0.state);
        if !state.receiving {
            return Err(TrySend::Closed(item));
        }
        if state.items.len() >= state.capacity {
            return Err(TrySend::Full(item));
        }
        state.items.push_back(item);
        let waker = state.receiver.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// Why [`Sender::try_send`] gave an item back.
#[derive(Debug)]
pub(crate) enum TrySend<T> {
    Full(T),
    Closed(T),
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.0.state).senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        state.senders -= 1;
        let waker = (state.senders == 0)
            .then(|| state.receiver.take())
            .flatten();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once every sender is gone and the queue is drained.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.0.state);
        if let Some(item) = state.items.pop_front() {
            let was_full = state.items.len() + 1 >= state.capacity;
            if state.items.is_empty() && state.items.capacity() > KEPT {
                state.items = VecDeque::new();
            }
            drop(state);
            if was_full {
                self.0.room.notify_one();
            }
            return Poll::Ready(Some(item));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        if !state
            .receiver
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            state.receiver = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The next item; `None` once every sender is gone and the queue is drained.
    pub(crate) fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        std::future::poll_fn(|cx| self.poll_recv(cx))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = lock(&self.0.state);
            state.receiving = false;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: an item's own drop may take other locks.
        drop(items);
        self.0.room.notify_waiters();
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &lock(&self.0.state).items.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn items_arrive_in_order_and_the_queue_ends_with_its_senders() {
        let (tx, mut rx) = channel(8);
        let second = tx.clone();
        tx.send(1).await.unwrap();
        second.send(2).await.unwrap();
        drop((tx, second));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_full_queue_makes_senders_wait_for_room() {
        let (tx, mut rx) = channel(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert!(matches!(tx.try_send(3), Err(TrySend::Full(3))));
        let sender = tokio::spawn(async move { tx.send(3).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished(), "the third waits for room");
        assert_eq!(rx.recv().await, Some(1));
        sender.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn without_a_receiver_items_come_back_and_waiting_senders_wake() {
        let (tx, rx) = channel(1);
        tx.send("kept").await.unwrap();
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send("waits").await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(waiting.await.unwrap(), Err("waits"));
        assert!(matches!(tx.try_send("late"), Err(TrySend::Closed("late"))));
    }

    #[tokio::test]
    async fn a_drained_queue_gives_its_buffer_back() {
        let (tx, mut rx) = channel(64);
        for item in 0..32 {
            tx.send(item).await.unwrap();
        }
        for _ in 0..32 {
            rx.recv().await.unwrap();
        }
        assert_eq!(lock(&rx.0.state).items.capacity(), 0);
    }
}
