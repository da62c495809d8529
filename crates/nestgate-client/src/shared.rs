//! The state the client handles and the connection task share: the current connection's
//! writer, the offline queue, the requests waiting for answers, the listeners.
//!
//! One `std::sync::Mutex` guards it; no lock is held across an `.await`.

use crate::events::{Event, Lifecycle};
use crate::options::Config;
use crate::queue::{self, OfflineQueue};
use crate::{Error, State};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// A frame for the connection's writer.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) text: String,
    pub(crate) kind: Kind,
}

/// What an outgoing frame is, so that one that never reached the wire can be queued again.
#[derive(Debug)]
pub(crate) enum Kind {
    Emit(String),
    Request(u64),
    Ack,
}

/// What a request waits with.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) answer: oneshot::Sender<Result<Box<RawValue>, Error>>,
    /// Handed to a connection (not in the offline queue).
    pub(crate) sent: bool,
}

/// An `on` listener: decodes the data into its type and calls the user's closure.
pub(crate) type Handler = Arc<dyn Fn(&RawValue) -> Result<(), Error> + Send + Sync>;

/// An `on_request` handler: decodes the data, and answers with the JSON its future gives.
pub(crate) type Answerer = Arc<
    dyn Fn(
            &RawValue,
        )
            -> Result<futures_util::future::BoxFuture<'static, Result<String, Error>>, Error>
        + Send
        + Sync,
>;

#[derive(Default)]
pub(crate) struct Listeners {
    next: u64,
    pub(crate) on: HashMap<String, Vec<(u64, Handler)>>,
    pub(crate) answer: HashMap<String, (u64, Answerer)>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("on", &self.on.keys().collect::<Vec<_>>())
            .field("answer", &self.answer.keys().collect::<Vec<_>>())
            .finish()
    }
}

pub(crate) struct Inner {
    /// The open connection's writer; `None` while not connected (frames are queued).
    pub(crate) writer: Option<mpsc::Sender<Outgoing>>,
    pub(crate) queue: OfflineQueue,
    pub(crate) pending: HashMap<u64, Pending>,
    pub(crate) next_id: u64,
    pub(crate) listeners: Listeners,
    pub(crate) events: Vec<mpsc::Sender<Event>>,
    lifecycle: Vec<mpsc::Sender<Lifecycle>>,
    /// Why the client closed, once it has.
    pub(crate) closed: Option<Error>,
    /// The close frame `close_with` asked for.
    pub(crate) close_frame: (u16, String),
    /// Connection-state recovery: the session the server gave, and the offset of the last
    /// stored message received, presented when reconnecting.
    pub(crate) session: Option<(String, String)>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("connected", &self.writer.is_some())
            .field("queued", &self.queue.len())
            .field("pending", &self.pending.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Tells every lifecycle stream; a stream that is full misses it (they are bounded, and
    /// a client never waits for its reader), one that was dropped is forgotten.
    pub(crate) fn lifecycle(&mut self, event: Lifecycle) {
        if self.lifecycle.is_empty() {
            if let Lifecycle::Error(error) = &event {
                // Nobody listens: say it where a developer looks, rather than lose it.
                tracing::warn!(%error, "nestgate-client");
            }
            return;
        }
        self.lifecycle
            .retain(|stream| match stream.try_send(event.clone()) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }

    pub(crate) fn add_lifecycle(&mut self, stream: mpsc::Sender<Lifecycle>) {
        self.lifecycle.push(stream);
    }

    /// The client is done: nothing queued or waiting survives, and every stream ends.
    pub(crate) fn shut_down(&mut self, why: Error) {
        if self.closed.is_some() {
            return;
        }
        self.writer = None;
        for item in self.queue.take() {
            if let queue::Kind::Request { id } = item.kind
                && let Some(pending) = self.pending.remove(&id)
            {
                let _ = pending.answer.send(Err(why.clone()));
            }
        }
        for (_, pending) in self.pending.drain() {
            let _ = pending.answer.send(Err(why.clone()));
        }
        self.events.clear();
        self.lifecycle.clear();
        self.closed = Some(why);
    }

    /// The connection ended: frames its writer never took are queued again (or dropped, past
    /// the queue's bounds), and requests that were in flight are rejected with `why`.
    pub(crate) fn connection_ended(&mut self, mut unsent: mpsc::Receiver<Outgoing>, why: &Error) {
        self.writer = None;
        unsent.close();
        while let Ok(outgoing) = unsent.try_recv() {
            match outgoing.kind {
                Kind::Emit(event) => {
                    if let Err(error) = self.queue.push_emit(&event, outgoing.text) {
                        self.lifecycle(Lifecycle::Error(error));
                    }
                }
                Kind::Request(id) => {
                    let Some(pending) = self.pending.get_mut(&id) else {
                        continue; // Timed out already.
                    };
                    pending.sent = false;
                    if let Err(error) = self.queue.push_request(id, outgoing.text)
                        && let Some(pending) = self.pending.remove(&id)
                    {
                        let _ = pending.answer.send(Err(error));
                    }
                }
                // An answer to a request of the connection that is gone: it means nothing now.
                Kind::Ack => {}
            }
        }
        let in_flight: Vec<u64> = self
            .pending
            .iter()
            .filter_map(|(id, pending)| pending.sent.then_some(*id))
            .collect();
        for id in in_flight {
            if let Some(pending) = self.pending.remove(&id) {
                let _ = pending.answer.send(Err(why.clone()));
            }
        }
    }
}

/// What the handles and the connection task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    inner: Mutex<Inner>,
    /// The connection's state; `Closed` also tells the task to stop.
    pub(crate) state: watch::Sender<State>,
    /// Something was queued: the task looks at the queue's expiries again.
    pub(crate) queued: Notify,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Arc<Self> {
        let queue = OfflineQueue::new(config.queue);
        Arc::new(Shared {
            config,
            inner: Mutex::new(Inner {
                writer: None,
                queue,
                pending: HashMap::new(),
                next_id: 1,
                listeners: Listeners::default(),
                events: Vec::new(),
                lifecycle: Vec::new(),
                closed: None,
                close_frame: (1000, String::new()),
                session: None,
            }),
            state: watch::Sender::new(State::Connecting),
            queued: Notify::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while locked leaves maps that are still consistent (every update is a
        // single insert or remove): go on with them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the state, unless the client is closed (which is for good).
    pub(crate) fn set_state(&self, state: State) {
        self.state.send_if_modified(|current| {
            if *current == State::Closed || *current == state {
                return false;
            }
            *current = state;
            true
        });
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.state.borrow() == State::Closed
    }

    /// Ends the client with `why`, after telling the lifecycle streams `last` (what they read
    /// before they end).
    pub(crate) fn shut_down(&self, last: Option<Lifecycle>, why: Error) {
        {
            let mut inner = self.lock();
            if let Some(last) = last {
                inner.lifecycle(last);
            }
            inner.shut_down(why);
        }
        self.state.send_replace(State::Closed);
    }

    /// Resolves once the client is closed.
    pub(crate) async fn closed(&self) {
        let mut state = self.state.subscribe();
        // `wait_for` fails only when the sender is gone, and `self` holds it.
        let _ = state.wait_for(|state| *state == State::Closed).await;
    }
}

impl Listeners {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}
