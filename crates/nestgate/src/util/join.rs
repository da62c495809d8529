//! Two futures on one task, the first polled only when something woke it.
//!
//! `futures_util::future::join` polls both of its futures on every wake-up of the task, whoever
//! caused it. A session's WebSocket runs its reader and its writer that way, on one task (so that
//! the replies to what the reader hands over are written in the same pass), and most of its
//! wake-ups are the writer's: every broadcast queued on the session. Polling the reader then
//! costs a trip through the split stream's lock, tungstenite's frame reader and tokio's
//! readiness check, only to learn that nothing came. [`join_woken`] gives the first future a
//! waker of its own, which records that it was woken ([`Woken`]), and polls it only then; the
//! second future is polled on every pass, after the first.

use futures_util::future::{MaybeDone, maybe_done};
use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// How a [`JoinWoken`]'s first future is woken: a flag, then the task's own waker. It lives in
/// something the caller shares anyway (an `Arc` it already has: see [`WokenBy`]), so that the
/// join allocates nothing of its own per connection.
#[derive(Debug, Default)]
pub(crate) struct Woken {
    woken: AtomicBool,
    /// The task's own waker, as of its last poll.
    task: AtomicWaker,
}

impl Woken {
    /// The first future's waker was woken: recorded, then passed on to the task.
    pub(crate) fn wake(&self) {
        // Recorded before the task is woken: the poll that follows sees it.
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// An `Arc`'d owner of a [`Woken`], whose [`Wake`] impl calls [`Woken::wake`]: the first
/// future's waker is made from it.
pub(crate) trait WokenBy: Wake + Send + Sync + 'static {
    fn woken(&self) -> &Woken;
}

/// Polls `first` when its own waker (made from `owner`) was woken, and on the first pass, then
/// `second` on every pass; completes with both outputs once both are done.
pub(crate) fn join_woken<W: WokenBy, A: Future, B: Future>(
    owner: Arc<W>,
    first: A,
    second: B,
) -> JoinWoken<W, A, B> {
    owner.woken().woken.store(true, Ordering::Release);
    JoinWoken {
        first: maybe_done(first),
        second: maybe_done(second),
        owner,
    }
}

pin_project_lite::pin_project! {
    /// See [`join_woken`].
    pub(crate) struct JoinWoken<W, A: Future, B: Future> {
        #[pin]
        first: MaybeDone<A>,
        #[pin]
        second: MaybeDone<B>,
        owner: Arc<W>,
    }
}

impl<W: WokenBy, A: Future, B: Future> Future for JoinWoken<W, A, B> {
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let woken = this.owner.woken();
        // Registered before the flag is read: a wake-up between the two is seen by this pass,
        // one after it wakes the task again.
        woken.task.register(cx.waker());
        let mut first_done = matches!(*this.first, MaybeDone::Done(_));
        if !first_done && woken.woken.swap(false, Ordering::AcqRel) {
            // Made per poll of the first future (an `Arc` clone), not kept: the join holds
            // nothing more than its owner.
            let waker = Waker::from(this.owner.clone());
            let mut first_cx = Context::from_waker(&waker);
            first_done = this.first.as_mut().poll(&mut first_cx).is_ready();
        }
        let second_done = this.second.as_mut().poll(cx).is_ready();
        if !(first_done && second_done) {
            return Poll::Pending;
        }
        // Both are `Done` (each was seen ready, now or on an earlier pass), and each output is
        // taken once: the join is not polled after it returns `Ready`.
        match (this.first.take_output(), this.second.take_output()) {
            (Some(first), Some(second)) => Poll::Ready((first, second)),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Woken, WokenBy, join_woken};
    use std::cell::Cell;
    use std::sync::Arc;
    use std::task::Wake;

    #[derive(Default)]
    struct Owner(Woken);

    impl Wake for Owner {
        fn wake(self: Arc<Self>) {
            self.0.wake();
        }
    }

    impl WokenBy for Owner {
        fn woken(&self) -> &Woken {
            &self.0
        }
    }
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn the_first_future_is_polled_only_after_its_waker_was_woken() {
        let polls = Cell::new(0);
        let parked = Cell::new(None::<Waker>);
        let ready = Cell::new(false);
        let first = std::future::poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if ready.get() {
                return Poll::Ready(1);
            }
            parked.set(Some(cx.waker().clone()));
            Poll::Pending
        });
        let second_polls = Cell::new(0);
        let second = std::future::poll_fn(|_| {
            second_polls.set(second_polls.get() + 1);
            match second_polls.get() {
                4.. => Poll::Ready(2),
                _ => Poll::Pending,
            }
        });
        let mut join = pin!(join_woken(Arc::new(Owner::default()), first, second));
        let mut cx = Context::from_waker(Waker::noop());
        // The first pass polls both.
        assert!(join.as_mut().poll(&mut cx).is_pending());
        assert_eq!((polls.get(), second_polls.get()), (1, 1));
        // A wake-up that is not the first future's polls the second only.
        assert!(join.as_mut().poll(&mut cx).is_pending());
        assert_eq!((polls.get(), second_polls.get()), (1, 2));
        // Woken: polled again.
        ready.set(true);
        parked
            .take()
            .expect("the first future parked its waker")
            .wake();
        assert!(join.as_mut().poll(&mut cx).is_pending());
        assert_eq!((polls.get(), second_polls.get()), (2, 3));
        // Done first: never polled again; the join completes with the second.
        assert_eq!(join.as_mut().poll(&mut cx), Poll::Ready((1, 2)));
        assert_eq!(polls.get(), 2);
    }
}
