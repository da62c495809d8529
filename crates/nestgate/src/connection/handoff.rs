//! Dispatch on the transport's own task: a transport that reads a socket's frames itself (a
//! Socket.IO namespace socket, whose frames its Engine.IO transport reads) may start their
//! handlers right where it read them, instead of queueing them for the socket's reader task —
//! but only while that task has nothing of its own: no frame queued, no handler running.
//!
//! A frame that waits (the reader is busy, or not reading yet) goes through the socket's queue
//! as before, in order; a handler started on the transport's task that does not finish at once
//! goes to the reader as [`Inbound::Started`](super::Inbound::Started), which keeps polling it.
//! So frames still start in the order they came, and the reader's bound on running handlers
//! (`max_in_flight`) still holds: the transport starts one only when none runs.

use super::{Inbound, dispatch};
use crate::socket::Socket;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// A handler that was started on the transport's task and did not finish at once.
pub(crate) type Started = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a socket's transport and its reader task share: how many frames the reader has not
/// done with (queued, or started and still running), plus one while it is not reading.
#[derive(Debug)]
pub(crate) struct Handoff {
    busy: AtomicUsize,
}

impl Handoff {
    /// A socket whose reader is not reading yet (its connection hooks run first).
    pub(crate) fn new() -> Arc<Handoff> {
        Arc::new(Handoff {
            busy: AtomicUsize::new(1),
        })
    }

    /// Starts `frame`'s handler here if the reader has nothing to do; `Err(frame)` otherwise,
    /// counted as one more frame for the reader: the caller must queue it (or, if the queue is
    /// closed, call [`Handoff::done`]). `Ok(Some(started))`: the handler runs on, and the
    /// reader must be given it to poll.
    ///
    /// Called by one transport at a time (a session reads from one transport at a time), so
    /// frames are offered in order.
    pub(crate) fn offer(
        self: &Arc<Self>,
        socket: &Socket,
        frame: Inbound,
    ) -> Result<Option<Started>, Inbound> {
        // A socket that is closing, or a server shutting down, starts nothing new: its reader
        // decides what becomes of the frame, as it would have.
        let stopping = socket.closing_signal().is_fired() || socket.runtime().shutdown.is_fired();
        if stopping
            || self
                .busy
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.busy.fetch_add(1, Ordering::AcqRel);
            return Err(frame);
        }
        let (text, decoded) = match frame {
            Inbound::Decoded(text, decoded) => (text, Some(decoded)),
            Inbound::Message(axum::extract::ws::Message::Text(text)) => (text, None),
            other => {
                // Only text frames start handlers; anything else is the reader's.
                return Err(other);
            }
        };
        // The first poll's waker is nobody's: a handler that waits is polled again by the
        // reader, which registers its own.
        match dispatch(socket, text, decoded, Waker::noop()) {
            None => {
                self.done();
                Ok(None)
            }
            Some(running) => Ok(Some(Box::pin(Counted::new(running, Some(self.busy()))))),
        }
    }

    /// The reader is done with one frame (or, the first time, has started reading).
    pub(crate) fn done(&self) {
        self.busy.fetch_sub(1, Ordering::Release);
    }

    /// The reader stopped reading: nothing is started here any more.
    pub(crate) fn stop(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// A guard that calls [`Handoff::done`] when dropped.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        Busy(self.clone())
    }
}

/// One frame the reader has not done with; done when dropped.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Handoff>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.done();
    }
}

pin_project_lite::pin_project! {
    /// A running handler, and (for a socket with a [`Handoff`]) the frame it counts as until it
    /// ends.
    pub(crate) struct Counted<F> {
        #[pin]
        running: F,
        busy: Option<Busy>,
    }
}

impl<F> Counted<F> {
    pub(crate) fn new(running: F, busy: Option<Busy>) -> Self {
        Counted { running, busy }
    }
}

impl<F: Future<Output = ()>> Future for Counted<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let polled = this.running.poll(cx);
        if polled.is_ready() {
            this.busy.take();
        }
        polled
    }
}
