//! [`Client`]: the handle a program holds — emit, request, listen, close.

use crate::events::{Events, Lifecycles, Receiver};
use crate::options::{ClientBuilder, Config};
use crate::shared::{Answerer, Handler, Kind, Outgoing, Pending, Shared};
use crate::{Error, driver, frame};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The first connection attempt is under way.
    Connecting,
    /// Connected: frames go out at once.
    Open,
    /// Waiting to reconnect, or reconnecting: frames are queued.
    Reconnecting,
    /// Closed for good (by [`Client::close`], a final close code, or reconnection giving up).
    Closed,
}

/// A listener added by [`Client::on`] or [`Client::on_request`], to remove with [`Client::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listener(u64);

/// A ws-json connection that reconnects by itself.
///
/// Cloning gives another handle to the same connection; when the last handle is dropped, the
/// connection is closed (1000).
///
/// ```no_run
/// # async fn run() -> Result<(), nestgate_client::Error> {
/// use nestgate_client::Client;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug)]
/// struct ChatMessage {
///     text: String,
/// }
///
/// let client = Client::connect("ws://127.0.0.1:3000/chat").await?;
/// client.on("said", |message: ChatMessage| println!("{}", message.text));
/// client.on_request("question", |n: u64| async move { n * 2 }); // the server asks, with an id
/// client.emit("say", &ChatMessage { text: "hello".into() }).await?; // queued while disconnected
/// let rooms: Vec<String> = client.request("rooms", &()).await?; // {"id"} answered by {"ack"}
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Closes the connection when the last [`Client`] handle goes (the task holds `Shared` too).
#[derive(Debug)]
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        close(&self.0, 1000, "");
    }
}

impl Client {
    /// Connects to `url` with the default settings (see [`ClientBuilder`]), and returns once
    /// connected.
    pub async fn connect(url: impl Into<String>) -> Result<Client, Error> {
        Client::builder(url).connect().await
    }

    /// Sets up a client for `url` (`ws://host:port/path`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Starts the connection task. Needs a Tokio runtime.
    pub(crate) fn spawn(config: Config, must_connect_first: bool) -> Client {
        let shared = Shared::new(config);
        tokio::spawn(driver::run(shared.clone(), must_connect_first));
        Client {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
        }
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        *self.shared.state.borrow()
    }

    /// Whether frames go out at once.
    pub fn is_connected(&self) -> bool {
        self.state() == State::Open
    }

    /// Frames waiting in the offline queue.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Waits until connected; fails with why the client closed, if it closes first.
    pub async fn wait_connected(&self) -> Result<(), Error> {
        let mut state = self.shared.state.subscribe();
        // `wait_for` fails only when the sender is gone, and `self` holds it.
        let _ = state
            .wait_for(|state| matches!(state, State::Open | State::Closed))
            .await;
        match self.closed_error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn closed_error(&self) -> Option<Error> {
        self.shared.lock().closed.clone()
    }

    /// Sends an event: at once when connected (waiting for room in the connection's write
    /// buffer), otherwise into the offline queue, where it waits for the connection at most
    /// the queue's timeout. Fails with [`Error::QueueFull`] past the queue's bounds, and
    /// [`Error::Disconnected`] once the client is closed.
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), Error> {
        let text = frame::event(event, data, None).map_err(Error::json)?;
        let writer = {
            let mut inner = self.shared.lock();
            if let Some(error) = &inner.closed {
                return Err(error.clone());
            }
            match &inner.writer {
                Some(writer) => writer.clone(),
                None => {
                    inner.queue.push_emit(event, text)?;
                    drop(inner);
                    self.shared.queued.notify_one();
                    return Ok(());
                }
            }
        };
        let outgoing = Outgoing {
            text,
            kind: Kind::Emit(event.to_owned()),
        };
        if let Err(mpsc::error::SendError(outgoing)) = writer.send(outgoing).await {
            // The connection closed meanwhile: the frame waits for the next one.
            let mut inner = self.shared.lock();
            if let Some(error) = &inner.closed {
                return Err(error.clone());
            }
            inner.queue.push_emit(event, outgoing.text)?;
            drop(inner);
            self.shared.queued.notify_one();
        }
        Ok(())
    }

    /// Sends an event with an id and waits for the server's answer (`{"ack": id, "data"}`),
    /// decoded into `R`, at most the [`ack_timeout`](ClientBuilder::ack_timeout).
    ///
    /// Fails with [`Error::Server`] (the server's exception), [`Error::Timeout`] (queued
    /// time included), [`Error::Disconnected`] (the connection closed while the request was
    /// in flight: the server may have handled it; a request still queued waits for the next
    /// connection instead), [`Error::QueueFull`] or [`Error::Json`].
    pub async fn request<R, T>(&self, event: &str, data: &T) -> Result<R, Error>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        self.request_timeout(event, data, self.shared.config.ack_timeout)
            .await
    }

    /// [`request`](Self::request) with its own timeout.
    pub async fn request_timeout<R, T>(
        &self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<R, Error>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        let deadline = Instant::now() + timeout;
        let (answer, answered) = oneshot::channel();
        let (id, writer, text) = {
            let mut inner = self.shared.lock();
            if let Some(error) = &inner.closed {
                return Err(error.clone());
            }
            let id = inner.next_id;
            inner.next_id += 1;
            let text = frame::event(event, data, Some(id)).map_err(Error::json)?;
            let writer = inner.writer.clone();
            if writer.is_none() {
                inner.queue.push_request(id, text.clone())?;
            }
            let sent = writer.is_some();
            inner.pending.insert(id, Pending { answer, sent });
            (id, writer, text)
        };
        // From here on, a cancelled or timed-out request forgets itself.
        let guard = Forget {
            shared: &self.shared,
            id,
        };
        if let Some(writer) = writer {
            let outgoing = Outgoing {
                text,
                kind: Kind::Request(id),
            };
            // When the connection is gone, it has rejected or queued this request already.
            let _ = writer.send(outgoing).await;
        } else {
            self.shared.queued.notify_one();
        }
        let result = match tokio::time::timeout_at(deadline, answered).await {
            Ok(Ok(result)) => result,
            // The task is gone without answering: the client closed.
            Ok(Err(_)) => Err(self
                .closed_error()
                .unwrap_or_else(|| Error::Disconnected("the client closed".into()))),
            Err(_) => {
                let queued = guard.forget();
                return Err(Error::Timeout {
                    event: event.to_owned(),
                    timeout,
                    queued,
                });
            }
        };
        drop(guard);
        let data = result?;
        serde_json::from_str(data.get()).map_err(Error::json)
    }

    /// Calls `handler` with the data of each `event` from the server, decoded into `T`; data
    /// that does not decode is reported on the [`lifecycle`](Self::lifecycle) stream.
    ///
    /// `handler` runs on the connection's task: keep it short (send to a channel, or spawn,
    /// for long work), or use [`events`](Self::events).
    pub fn on<T, F>(&self, event: &str, handler: F) -> Listener
    where
        T: DeserializeOwned,
        F: Fn(T) + Send + Sync + 'static,
    {
        let name = event.to_owned();
        let handler: Handler = Arc::new(move |data: &RawValue| {
            let data = serde_json::from_str(data.get()).map_err(|err| {
                Error::Json(format!("the data of {name:?} does not decode: {err}"))
            })?;
            handler(data);
            Ok(())
        });
        let mut inner = self.shared.lock();
        let id = inner.listeners.next_id();
        inner
            .listeners
            .on
            .entry(event.to_owned())
            .or_default()
            .push((id, handler));
        Listener(id)
    }

    /// Answers the server's requests for `event` (its `emit_with_ack`): `handler`'s future is
    /// spawned with the decoded data, and what it returns goes back as `{"ack": id, "data"}`.
    /// One handler per event: a second replaces the first.
    pub fn on_request<T, R, F, Fut>(&self, event: &str, handler: F) -> Listener
    where
        T: DeserializeOwned,
        R: Serialize,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let name = event.to_owned();
        let answerer: Answerer = Arc::new(move |data: &RawValue| {
            let data = serde_json::from_str(data.get()).map_err(|err| {
                Error::Json(format!("the data of {name:?} does not decode: {err}"))
            })?;
            let answer = handler(data);
            Ok(Box::pin(async move {
                let value = answer.await;
                serde_json::to_string(&value).map_err(Error::json)
            }) as _)
        });
        let mut inner = self.shared.lock();
        let id = inner.listeners.next_id();
        inner
            .listeners
            .answer
            .insert(event.to_owned(), (id, answerer));
        Listener(id)
    }

    /// Removes a listener added by [`on`](Self::on) or [`on_request`](Self::on_request).
    pub fn off(&self, listener: Listener) {
        let mut inner = self.shared.lock();
        let listeners = &mut inner.listeners;
        for handlers in listeners.on.values_mut() {
            handlers.retain(|(id, _)| *id != listener.0);
        }
        listeners.on.retain(|_, handlers| !handlers.is_empty());
        listeners.answer.retain(|_, (id, _)| *id != listener.0);
    }

    /// Every event from the server, in order, as a bounded stream (see
    /// [`event_buffer`](ClientBuilder::event_buffer)): while it is full the client stops
    /// reading from the server, so read it, or drop it. A request of the server's that no
    /// [`on_request`](Self::on_request) handler answers comes with an [`Ack`](crate::Ack)
    /// (to the first such stream).
    pub fn events(&self) -> Events {
        let (sender, receiver) = mpsc::channel(self.shared.config.event_buffer);
        let mut inner = self.shared.lock();
        if inner.closed.is_none() {
            inner.events.push(sender);
        }
        Receiver::new(receiver)
    }

    /// The connection's lifecycle — connected, disconnected, reconnecting, errors — as a
    /// stream. It holds 64 entries; a reader that falls behind misses the newest ones (the
    /// client never waits for it).
    pub fn lifecycle(&self) -> Lifecycles {
        let (sender, receiver) = mpsc::channel(64);
        let mut inner = self.shared.lock();
        if inner.closed.is_none() {
            inner.add_lifecycle(sender);
        }
        Receiver::new(receiver)
    }

    /// Closes the connection for good (1000): no reconnect; queued and in-flight requests
    /// fail with [`Error::Disconnected`].
    pub fn close(&self) {
        close(&self.shared, 1000, "");
    }

    /// [`close`](Self::close) with a code (1000, or 3000–4999) and a reason.
    pub fn close_with(&self, code: u16, reason: &str) {
        close(&self.shared, code, reason);
    }
}

fn close(shared: &Shared, code: u16, reason: &str) {
    {
        let mut inner = shared.lock();
        if inner.closed.is_some() {
            return;
        }
        inner.close_frame = (code, reason.to_owned());
        if inner.writer.is_some() {
            inner.lifecycle(crate::Lifecycle::Disconnected {
                code,
                reason: reason.to_owned(),
                will_reconnect: false,
            });
        }
        inner.shut_down(Error::Disconnected("the client was closed".into()));
    }
    shared.state.send_replace(State::Closed);
}

/// Removes a request from the waiting map and the offline queue when its caller stops waiting.
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Forget<'_> {
    /// Forgets the request now; whether it was still queued.
    fn forget(self) -> bool {
        let mut inner = self.shared.lock();
        inner.pending.remove(&self.id);
        let queued = inner.queue.remove_request(self.id);
        drop(inner);
        std::mem::forget(self);
        queued
    }
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.pending.remove(&self.id);
        inner.queue.remove_request(self.id);
    }
}
