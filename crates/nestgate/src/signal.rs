//! [`Signal`]: a one-shot flag that tasks can wait for, stored inline (no allocation).
//!
//! A socket has two: "closing" and "abort". A `CancellationToken` would do, but each one is a
//! separate heap node, and an idle connection is a memory budget.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

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
    pub(crate) async fn fired(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a `fire` between the check and the wait is seen.
            notified.as_mut().enable();
            if self.is_fired() {
                return;
            }
            notified.await;
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
}
