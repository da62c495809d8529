//! What a handler's return value becomes: [`Reply`], and [`WsResponse`] for `{event, data}`.

use crate::error::WsException;
use crate::filter::Failure;
use futures_util::StreamExt as _;
use futures_util::stream::{BoxStream, Stream};
use serde::Serialize;
use std::borrow::Cow;

/// A handler's answer to one message, ready for the wire.
///
/// The `#[subscribe_message]` macro builds it from the method's return value: `()` → nothing,
/// any `Serialize` value → that value (`null` sends nothing), `Result<T, E>` → the value or the
/// error, a `Stream` → one frame per item. For a frame with an `id`, the answer is always exactly
/// one `{"ack": id, ...}` frame (a stream's items are collected into an array).
#[must_use]
pub struct Reply {
    pub(crate) kind: ReplyKind,
}

pub(crate) enum ReplyKind {
    None,
    Json(String),
    Stream(BoxStream<'static, Result<String, WsException>>),
    Error(WsException),
    /// A typed error, for the exception filters.
    Failed(Failure),
}

impl Reply {
    /// No answer (an ack with `null` data when the frame had an id).
    pub fn none() -> Self {
        Reply {
            kind: ReplyKind::None,
        }
    }

    /// A value, serialized now. A value that cannot be serialized becomes an internal error.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(json) => Reply {
                kind: ReplyKind::Json(json),
            },
            Err(err) => Reply::error(WsException::internal(format_args!(
                "cannot serialize the reply: {err}"
            ))),
        }
    }

    /// An error answer.
    pub fn error(exception: impl Into<WsException>) -> Self {
        Reply {
            kind: ReplyKind::Error(exception.into()),
        }
    }

    /// A typed error: exception filters see it as its own type (see [`crate::filter`]).
    pub fn failed(failure: Failure) -> Self {
        Reply {
            kind: ReplyKind::Failed(failure),
        }
    }

    /// One frame per item of the stream.
    pub fn stream<S>(stream: S) -> Self
    where
        S: Stream + Send + 'static,
        S::Item: Serialize,
    {
        let frames = stream.map(|item| {
            serde_json::to_string(&item).map_err(|err| {
                WsException::internal(format_args!("cannot serialize a stream item: {err}"))
            })
        });
        Reply {
            kind: ReplyKind::Stream(frames.boxed()),
        }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ReplyKind::None => f.write_str("Reply::None"),
            ReplyKind::Json(json) => f.debug_tuple("Reply::Json").field(json).finish(),
            ReplyKind::Stream(_) => f.write_str("Reply::Stream"),
            ReplyKind::Error(err) => f.debug_tuple("Reply::Error").field(err).finish(),
            ReplyKind::Failed(_) => f.write_str("Reply::Failed"),
        }
    }
}

/// A reply with its own event name: arrives as `{"event": event, "data": data}`, as NestJS's
/// `WsResponse`.
///
/// ```
/// use nestgate::prelude::*;
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Clock;
///
/// #[websocket_gateway]
/// impl Clock {
///     #[subscribe_message("time")]
///     fn time(&self) -> WsResponse<u64> {
///         WsResponse::new("time", 1_700_000_000)
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WsResponse<T> {
    /// The event name.
    pub event: Cow<'static, str>,
    /// The data.
    pub data: T,
}

impl<T> WsResponse<T> {
    /// A response for `event` with `data`.
    pub fn new(event: impl Into<Cow<'static, str>>, data: T) -> Self {
        WsResponse {
            event: event.into(),
            data,
        }
    }
}
