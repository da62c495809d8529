//! When queuing a packet wakes the transport that writes it.
//!
//! A transport about to wait for packets says so ([`Wakeup::want`]); only then does queuing one
//! notify it, so that a broadcast to a session whose writer is busy costs no wake-up. And while
//! the WebSocket's reader hands the client's messages to the application, on the very task
//! its writer runs in ([`Wakeup::hold`]), the replies queued meanwhile notify nobody: the
//! writer is polled right after the reader in that same pass ([`Wakeup::take_held`]) instead
//! of the task being woken — and polled — once more per message.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[derive(Debug, Default)]
pub(super) struct Wakeup {
    /// A transport waits for packets.
    wanted: AtomicBool,
    /// The writer's own task is queuing packets: it looks for them itself when it is done.
    holding: AtomicBool,
    /// Packets were queued while holding, and nobody was notified.
    held: AtomicBool,
}

impl Wakeup {
    /// A transport is about to look for packets and wait (call it after enabling its
    /// `Notified`, before looking): the next queued packet notifies.
    pub(super) fn want(&self) {
        self.wanted.store(true, SeqCst);
    }

    /// Packets were queued: whether the waiting transport must be notified now.
    pub(super) fn queued(&self) -> bool {
        // A load first: a busy transport (a broadcast's usual recipient) costs no atomic write.
        // What a transport announced before it last looked is seen here: the session's lock
        // orders that look before this packet's queuing.
        if !self.wanted.load(SeqCst) || !self.wanted.swap(false, SeqCst) {
            return false;
        }
        if !self.holding.load(SeqCst) {
            return true;
        }
        self.held.store(true, SeqCst);
        // The hold may have ended since it was seen, and the writer looked before `held` was
        // set: then the wake-up is still owed — by whoever clears `held` first.
        !self.holding.load(SeqCst) && self.held.swap(false, SeqCst)
    }

    /// The writer's task starts queuing packets itself: until [`Wakeup::release`], queued
    /// packets notify nobody, and the writer must then call [`Wakeup::take_held`].
    pub(super) fn hold(&self) {
        self.holding.store(true, SeqCst);
    }

    pub(super) fn release(&self) {
        self.holding.store(false, SeqCst);
    }

    /// Whether packets were queued while held: the writer must look for them.
    pub(super) fn take_held(&self) -> bool {
        self.held.load(SeqCst) && self.held.swap(false, SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::Wakeup;

    #[test]
    fn a_waiting_writer_is_notified_unless_its_own_task_holds() {
        let wakeup = Wakeup::default();
        // Nobody waits: nobody is notified.
        assert!(!wakeup.queued());
        wakeup.want();
        assert!(wakeup.queued());
        // Once per wait.
        assert!(!wakeup.queued());
        wakeup.want();
        wakeup.hold();
        assert!(!wakeup.queued());
        wakeup.release();
        // The writer finds what was held, once.
        assert!(wakeup.take_held());
        assert!(!wakeup.take_held());
        // After the hold, queuing notifies again.
        wakeup.want();
        assert!(wakeup.queued());
    }
}
