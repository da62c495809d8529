//! What the client's calls fail with.

use serde_json::Value;
use std::time::Duration;

/// An error of the client.
///
/// Every variant is cheap to clone: the same error reaches each waiting request when the
/// connection closes, and the [`Lifecycle`](crate::Lifecycle) stream.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered a request with an error: `{"ack": id, "error": {...}}`.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A request got no answer within its timeout (counted from the call, queued time
    /// included). `queued`: it was still waiting for the connection, so it never went out.
    #[error("request {event:?} {}", if *.queued { format!("timed out after {timeout:?} waiting for the connection") } else { format!("got no answer within {timeout:?}") })]
    Timeout {
        /// The request's event.
        event: String,
        /// Its timeout.
        timeout: Duration,
        /// Whether it was still in the offline queue.
        queued: bool,
    },
    /// A queued emit waited longer than the queue's timeout for the connection, and was
    /// dropped (reported on the [`Lifecycle`](crate::Lifecycle) stream).
    #[error("a queued emit of {event:?} waited {timeout:?} for the connection and was dropped")]
    Expired {
        /// The emit's event.
        event: String,
        /// The queue's timeout.
        timeout: Duration,
    },
    /// The offline queue is full (by count or by bytes): nothing was queued.
    #[error("the offline queue is full ({0}): not connected, and nothing more is kept")]
    QueueFull(String),
    /// The connection is gone: a request was in flight when it closed (the server may or may
    /// not have handled it), or the client closed for good with requests still waiting.
    #[error("{0}")]
    Disconnected(String),
    /// The first connection attempt of [`ClientBuilder::connect`](crate::ClientBuilder::connect)
    /// failed: the server is unreachable, or refused the handshake.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The data did not encode, or an answer did not decode into the type asked for.
    #[error("{0}")]
    Json(String),
    /// A frame from the server that the client cannot read (not JSON, or binary).
    #[error("{0}")]
    Protocol(String),
    /// The token function failed.
    #[error("the auth function failed: {0}")]
    Auth(String),
}

impl Error {
    pub(crate) fn json(err: serde_json::Error) -> Self {
        Error::Json(err.to_string())
    }
}

/// The server's error answer to a request, as it came: nestgate and NestJS send
/// `{"status": "error", "message": ...}`, and a failed validation adds `errors`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ServerError {
    /// Its `message` (the whole object as JSON when it has none).
    pub message: String,
    /// Its `status`, when it has one (`"error"` for nestgate and NestJS).
    pub status: Option<String>,
    /// The error object itself.
    pub error: Value,
}

impl ServerError {
    pub(crate) fn new(error: Value) -> Self {
        let message = match error.get("message").and_then(Value::as_str) {
            Some(message) => message.to_owned(),
            None => error.to_string(),
        };
        let status = error
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned);
        ServerError {
            message,
            status,
            error,
        }
    }
}
