//! Server-side acknowledgements: the server emits with an id and the client answers
//! `{"ack": <id>, "data": ...}`.

use futures_util::stream::{BoxStream, Stream, StreamExt as _};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Why a client's acknowledgement did not arrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The client did not answer in time.
    #[error("the client did not acknowledge in time")]
    Timeout,
    /// The client disconnected before answering.
    #[error("the client disconnected before acknowledging")]
    Disconnected,
    /// The frame could not be queued for the client (it is gone, or too slow).
    #[error("the frame could not be sent to the client")]
    NotSent,
    /// The client's answer did not match the expected type.
    #[error("the client's answer did not match the expected type: {0}")]
    Decode(String),
}

impl From<AckError> for crate::WsException {
    /// The client's answer is missing or wrong: said as it is, since the handler asked a client.
    fn from(err: AckError) -> Self {
        crate::WsException::new(err.to_string())
    }
}

/// Deserializes a client's raw answer.
pub(crate) fn decode_answer<T: DeserializeOwned>(raw: &RawValue) -> Result<T, AckError> {
    serde_json::from_str(raw.get()).map_err(|err| AckError::Decode(err.to_string()))
}

/// One client's answer to an acknowledged emit.
#[derive(Debug)]
pub struct AckResponse<T> {
    /// The id of the socket that answered (or failed to).
    pub socket: String,
    /// The answer.
    pub result: Result<T, AckError>,
}

/// What a socket's pending acknowledgement reports to.
pub(crate) type AckSender = mpsc::Sender<AckResponse<Box<RawValue>>>;

/// Every targeted client's answer to an acknowledged broadcast, as they arrive; clients that did
/// not answer in time end the stream with [`AckError::Timeout`].
///
/// Items carry the raw JSON answer; [`AckStream::decode`] deserializes them.
pub struct AckStream {
    inner: BoxStream<'static, AckResponse<Box<RawValue>>>,
}

impl AckStream {
    /// Wraps any stream of answers: a cluster adapter merges the local stream with the other
    /// nodes' answers.
    pub fn new(inner: BoxStream<'static, AckResponse<Box<RawValue>>>) -> Self {
        AckStream { inner }
    }

    /// Deserializes each answer into `T`.
    pub fn decode<T: DeserializeOwned>(
        self,
    ) -> impl Stream<Item = AckResponse<T>> + Send + 'static {
        self.inner.map(|response| AckResponse {
            socket: response.socket,
            result: response.result.and_then(|raw| decode_answer(&raw)),
        })
    }
}

impl Stream for AckStream {
    type Item = AckResponse<Box<RawValue>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for AckStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckStream")
    }
}
