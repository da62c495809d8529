//! [`Signal`]: a one-shot flag that tasks can wait for, stored inline (no allocation).
//!
//! A socket has two ("closing" and "abort") and the application one (shutdown). A
//! `CancellationToken` would do, but each one is a separate heap node, and an idle connection is
//! a memory budget; its `is_cancelled` also takes a lock.
//!
//! [`Fired`] is cheap to poll again: the connection loops wait on these signals in a biased
//! `select!` that polls them once per frame, and a `Notified` polled again takes its `Notify`'s
//! lock each time (it was 8 % of a ws-json echo's instructions). Once registered, `Fired` only
//! reads the flag while the waker stays the same.

use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

#[derive(Default)]
pub(crate) struct Signal {
    fired: AtomicBool,
    notify: Notify,
}

impl Signal {
    /// Fires the signal (once; later calls do nothing) and wakes every waiter.
    pub(crate) fn fire(&self) {
        if !self.fired.swap(true, Ordering::AcqRel) {
            self.notify.notify_waiters();
        }
    }

    /// Whether the signal has fired.
    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Completes once the signal has fired.
    pub(crate) fn fired(&self) -> Fired<'_> {
        Fired {
            signal: self,
            // Created now: a `fire` after this line completes it even before its first poll.
            notified: self.notify.notified(),
            registered: None,
        }
    }
}

pin_project! {
    /// The future of [`Signal::fired`].
    pub(crate) struct Fired<'a> {
        signal: &'a Signal,
        #[pin]
        notified: Notified<'a>,
        // The waker `notified` was last polled with: while the caller's waker is the same one,
        // polling `notified` again would only take its lock to find nothing new.
        registered: Option<Waker>,
    }
}

impl Future for Fired<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        loop {
            if this.signal.is_fired() {
                return Poll::Ready(());
            }
            if this
                .registered
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                return Poll::Pending;
            }
            match this.notified.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    // Only `fire` notifies, so the flag is set now; a fresh wait otherwise.
                    this.notified.set(this.signal.notify.notified());
                    *this.registered = None;
                }
                Poll::Pending => {
                    *this.registered = Some(cx.waker().clone());
                    // A `fire` between the check above and the registration has woken nobody.
                    if this.signal.is_fired() {
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waiters_before_and_after_the_fire_complete() {
        let signal = Arc::new(Signal::default());
        let early = tokio::spawn({
            let signal = signal.clone();
            async move { signal.fired().await }
        });
        tokio::task::yield_now().await;
        assert!(!signal.is_fired());
        signal.fire();
        early.await.unwrap();
        signal.fired().await;
        signal.fire();
        assert!(signal.is_fired());
    }

    #[tokio::test]
    async fn a_wait_polled_many_times_still_sees_the_fire() {
        let signal = Arc::new(Signal::default());
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move {
                let fired = signal.fired();
                tokio::pin!(fired);
                let mut polls = 0_u32;
                // Poll the same wait repeatedly, as the connection loop does, yielding between.
                std::future::poll_fn(|cx| {
                    polls += 1;
                    match fired.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(polls),
                        Poll::Pending if polls < 5 => {
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                        Poll::Pending => Poll::Pending,
                    }
                })
                .await
            }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        signal.fire();
        assert!(waiter.await.unwrap() >= 5);
    }

    #[tokio::test]
    async fn a_wait_moved_to_another_task_is_woken_there() {
        // Leaked so that the wait can move to a task of its own ('static).
        let signal: &'static Signal = Box::leak(Box::default());
        let mut fired = Box::pin(signal.fired());
        // Registered with this task's waker...
        let pending = std::future::poll_fn(|cx| Poll::Ready(fired.as_mut().poll(cx).is_pending()));
        assert!(pending.await);
        // ...then awaited by another task: it must register that task's waker.
        let waiter = tokio::spawn(fired);
        tokio::task::yield_now().await;
        signal.fire();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the other task was woken")
            .unwrap();
    }
}
