//! Sending to one socket: [`SendError`], and the two ways a frame goes out — the outbound queue
//! (drained by the connection's writer task) or, for Socket.IO, the socket's text sink.

use super::outbound::{Outbound, Push};
use super::{DisconnectReason, Socket};
use crate::close;
use crate::error::WsException;
use axum::extract::ws::{Message, Utf8Bytes};
use std::borrow::Cow;

/// Why a frame could not be queued for a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The value could not be serialized.
    #[error("cannot serialize the frame: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The client is gone.
    #[error("the socket is closed")]
    Closed,
    /// The client's outbound queue was full; it is being closed with 1013.
    #[error("the client's outbound queue is full; it is being disconnected as a slow consumer")]
    SlowConsumer,
    /// The cluster backend that stores it for recovery could not take it
    /// ([`App::recovery`](crate::App::recovery) with a cluster adapter).
    #[error("the frame could not be stored for recovery: {0}")]
    Cluster(crate::adapter::AdapterError),
}

impl From<crate::adapter::AdapterError> for SendError {
    fn from(err: crate::adapter::AdapterError) -> Self {
        SendError::Cluster(err)
    }
}

impl From<SendError> for WsException {
    /// An emit that failed: serialization is an internal error; a client that is gone or too
    /// slow is not the handler's fault, and is said so (nobody may be listening anyway).
    fn from(err: SendError) -> Self {
        match err {
            SendError::Serialize(err) => err.into(),
            other => WsException::new(other.to_string()),
        }
    }
}

/// Socket.IO's text sink: where a Socket.IO socket's text frames go instead of the outbound
/// queue (its Engine.IO session, which translates them), set with [`Socket::set_text_sink`].
pub(crate) trait TextSink: Send + Sync {
    /// Sends a ws-json frame. `Ok(false)`: a volatile frame that was dropped.
    fn text(&self, frame: Utf8Bytes, delivery: Delivery<'_>) -> Result<bool, SendError>;

    /// Answers the client's ack `id` with `data` (JSON): written in the sink's own protocol
    /// at once, not as a ws-json frame first.
    fn ack(&self, id: u64, data: &str) -> Result<(), SendError>;
}

/// How a frame goes through a [`TextSink`].
#[derive(Clone, Copy)]
pub(crate) struct Delivery<'a> {
    /// Dropped, not fatal, when the session's queue is full.
    pub(crate) volatile: bool,
    /// The same frame goes to other sockets as well (a broadcast): what the sink makes of it
    /// is kept there for them. A frame for this socket alone (a reply, an emit) has none.
    pub(crate) shared: Option<&'a Shared>,
}

impl Delivery<'_> {
    /// A frame for this socket alone.
    pub(crate) const ALONE: Delivery<'static> = Delivery {
        volatile: false,
        shared: None,
    };
}

/// What a broadcast's text sinks make of its frame once, for all its recipients (Socket.IO's
/// translation): made by the first sink that needs it, alive for that broadcast only. One
/// thread walks a broadcast's recipients, so it is a plain cell, with no lock to take per
/// recipient.
#[derive(Default)]
pub(crate) struct Shared {
    made: std::cell::OnceCell<Box<dyn std::any::Any + Send + Sync>>,
}

impl Shared {
    /// What was made of the frame, made now by `make` if nobody has yet; `None` when what is
    /// kept is of another type than `T`.
    pub(crate) fn get_or_make<T: std::any::Any + Send + Sync>(
        &self,
        make: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.made.get_or_init(|| Box::new(make())).downcast_ref()
    }
}

impl Socket {
    /// Sends text frames through the text sink from now on (see the `text_sink` field).
    pub(crate) fn set_text_sink(&self, sink: Box<dyn TextSink>) {
        let _ = self.inner.text_sink.set(sink);
    }

    /// The text sink of a Socket.IO socket (`None` for ws-json); `Err(Closed)` once the socket
    /// is closing.
    fn open_sink(&self) -> Option<Result<&dyn TextSink, SendError>> {
        let sink = self.inner.text_sink.get()?;
        Some(if self.inner.closing.is_fired() {
            Err(SendError::Closed)
        } else {
            Ok(&**sink)
        })
    }

    /// Queues a text frame; a full queue closes the client as a slow consumer.
    pub(crate) fn send_text(&self, text: Utf8Bytes) -> Result<(), SendError> {
        self.inner.namespace.metrics().sent(1, text.len());
        if let Some(sink) = self.open_sink() {
            return sink?.text(text, Delivery::ALONE).map(drop);
        }
        match self.inner.outbound.push(Message::Text(text)) {
            Push::Queued(queued) => {
                self.inner.namespace.metrics().queued(queued);
                Ok(())
            }
            Push::Closed => Err(SendError::Closed),
            Push::Full => {
                if !self.inner.closing.is_fired() {
                    // The target this line had before `socket.rs` was split: logs are grouped by it.
                    tracing::warn!(target: "nestgate::socket", socket = %self.id(), "outbound queue full: closing a slow consumer with 1013");
                }
                self.abort(
                    DisconnectReason::SlowConsumer,
                    Some((close::TRY_AGAIN_LATER, Cow::Borrowed("slow consumer"))),
                );
                Err(SendError::SlowConsumer)
            }
        }
    }

    /// Answers the client's ack `id` with `data` (JSON text): `{"ack": id, "data": data}`.
    pub(crate) fn send_ack(&self, id: u64, data: &str) -> Result<(), SendError> {
        if let Some(sink) = self.open_sink() {
            self.inner.namespace.metrics().sent(1, data.len());
            return sink?.ack(id, data);
        }
        self.send_text(crate::protocol::encode_ack(id, data).into())
    }

    /// Queues a ping.
    pub(crate) fn send_ping(&self) {
        let _ = self.inner.outbound.push(Message::Ping(Default::default()));
    }

    /// Queues a frame; `volatile` frames are dropped when the queue is full, others close a
    /// slow consumer; `shared`: the same frame goes to other sockets too (a broadcast: see
    /// [`Shared`]). Returns whether the frame was queued.
    pub(crate) fn send_frame(
        &self,
        frame: Utf8Bytes,
        volatile: bool,
        shared: Option<&Shared>,
    ) -> bool {
        if let Some(sink) = self.open_sink() {
            let delivery = Delivery { volatile, shared };
            let sent = sink.is_ok_and(|sink| matches!(sink.text(frame, delivery), Ok(true)));
            if volatile && !sent && !self.inner.closing.is_fired() {
                self.inner.namespace.metrics().volatile_dropped();
            }
            return sent;
        }
        if volatile {
            let push = self.inner.outbound.push(Message::Text(frame));
            if matches!(push, Push::Full) {
                self.inner.namespace.metrics().volatile_dropped();
            }
            if let Push::Queued(queued) = push {
                self.inner.namespace.metrics().queued(queued);
            }
            matches!(push, Push::Queued(_))
        } else {
            self.send_text(frame).is_ok()
        }
    }

    /// The outbound queue, for the writer task.
    pub(crate) fn outbound(&self) -> &Outbound {
        &self.inner.outbound
    }
}
