//! What the client hands out: the server's events (with the means to answer them), and the
//! connection's own lifecycle, each as a bounded stream.

use crate::Error;
use crate::frame;
use crate::shared::{Kind, Outgoing};
use futures_core::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// An event from the server, as [`Client::events`](crate::Client::events) yields it.
#[derive(Debug)]
pub struct Event {
    /// Its name.
    pub name: String,
    /// Its data, as JSON (`null` when the frame had none).
    pub data: Box<RawValue>,
    /// The way to answer it, when the server asked with an `id` and no
    /// [`on_request`](crate::Client::on_request) handler answers it.
    pub ack: Option<Ack>,
}

impl Event {
    /// Its data, decoded.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.data.get()).map_err(Error::json)
    }
}

/// Answers one of the server's requests (an event that came with an `id`): the server's
/// `emit_with_ack` resolves with the value.
#[derive(Debug)]
pub struct Ack {
    id: u64,
    writer: mpsc::Sender<Outgoing>,
}

impl Ack {
    pub(crate) fn new(id: u64, writer: mpsc::Sender<Outgoing>) -> Self {
        Ack { id, writer }
    }

    /// Sends `{"ack": id, "data": value}` on the connection the request came on; fails with
    /// [`Error::Disconnected`] when that connection has closed since.
    pub async fn send<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        let text = frame::ack(self.id, value).map_err(Error::json)?;
        self.writer
            .send(Outgoing {
                text,
                kind: Kind::Ack,
            })
            .await
            .map_err(|_| Error::Disconnected("the connection the request came on is closed".into()))
    }
}

/// What happens to the connection, as [`Client::lifecycle`](crate::Client::lifecycle) yields it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Connected (again); the frames queued meanwhile have been sent.
    Connected,
    /// The connection closed.
    Disconnected {
        /// The close code (1006 when the connection was lost without one).
        code: u16,
        /// The close reason (`handshake refused: HTTP 401` when the handshake was refused).
        reason: String,
        /// Whether the client will reconnect by itself.
        will_reconnect: bool,
    },
    /// Reconnection attempt `attempt` (1 for the first) goes in `delay`.
    Reconnecting {
        /// Attempts in a row since the last connection, this one included.
        attempt: u32,
        /// How long until it goes.
        delay: Duration,
    },
    /// The server registered the connection (from now on its broadcasts reach it), and says
    /// whether it recovered the session of the connection before (connection-state recovery,
    /// when the server turned it on: the messages missed meanwhile come next, in order).
    /// Servers without recovery do not send it.
    Registered {
        /// Whether the session was recovered.
        recovered: bool,
        /// Why not, when the client asked to be (`expired`, `gap`, `unknown_session`, ...).
        reason: Option<String>,
    },
    /// Reconnection gave up after `attempts` attempts; the client is closed.
    ReconnectFailed {
        /// How many.
        attempts: u32,
    },
    /// Something the client could not do: a queued emit expired, a frame it could not read,
    /// an event whose data did not decode into an [`on`](crate::Client::on) handler's type.
    Error(Error),
}

/// A bounded stream; see [`Client::events`](crate::Client::events) and
/// [`Client::lifecycle`](crate::Client::lifecycle).
#[derive(Debug)]
pub struct Receiver<T> {
    inner: mpsc::Receiver<T>,
}

impl<T> Receiver<T> {
    pub(crate) fn new(inner: mpsc::Receiver<T>) -> Self {
        Receiver { inner }
    }

    /// The next item; `None` once the client is closed and everything was read.
    pub async fn next(&mut self) -> Option<T> {
        self.inner.recv().await
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }
}

/// The server's events, in order.
pub type Events = Receiver<Event>;

/// The connection's lifecycle, in order.
pub type Lifecycles = Receiver<Lifecycle>;
