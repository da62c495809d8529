//! Items used by the code the macros generate. Not public API: no semver guarantees.

use crate::error::{Reject, WsException};
use crate::reply::Reply;
use futures_util::stream::Stream;
use serde::Serialize;
use std::cell::Cell;

pub use futures_util::future::BoxFuture;
pub use inventory;

/// The reply for a failed extraction.
pub fn rejected<R: Into<WsException>>(rejection: R) -> Reply {
    Reply::error(rejection)
}

/// The reply for a handler returning `Result<T, E>`.
pub fn reply_result<T: Serialize, E: Into<WsException>>(result: Result<T, E>) -> Reply {
    match result {
        Ok(value) => Reply::json(&value),
        Err(err) => Reply::error(err),
    }
}

/// Holds a handler's return value while autoref specialization picks its conversion.
pub struct ReplyTag<T>(Cell<Option<T>>);

impl<T> std::fmt::Debug for ReplyTag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplyTag")
    }
}

impl<T> ReplyTag<T> {
    /// Wraps the value.
    pub fn new(value: T) -> Self {
        ReplyTag(Cell::new(Some(value)))
    }

    fn take(&self) -> T {
        // The generated code converts each tag exactly once, right after creating it.
        self.0.take().expect("a ReplyTag is converted once")
    }
}

/// Chosen first: a `Stream` becomes one frame per item.
pub trait ReplyViaStream {
    /// Converts the value.
    fn __nestgate_reply(&self) -> Reply;
}

impl<S> ReplyViaStream for &ReplyTag<S>
where
    S: Stream + Send + 'static,
    S::Item: Serialize,
{
    fn __nestgate_reply(&self) -> Reply {
        Reply::stream(self.take())
    }
}

/// Chosen otherwise: a `Serialize` value becomes one frame.
#[diagnostic::on_unimplemented(
    message = "a handler must return `()`, a `Serialize` value, `Result<T, E>` or a `Stream`",
    note = "`WsResponse<T>`, `Option<T>` and any `#[derive(Serialize)]` type are `Serialize`"
)]
pub trait ReplyViaSerialize {
    /// Converts the value.
    fn __nestgate_reply(&self) -> Reply;
}

impl<T: Serialize> ReplyViaSerialize for ReplyTag<T> {
    fn __nestgate_reply(&self) -> Reply {
        Reply::json(&self.take())
    }
}

/// What an `#[on_connection]` hook may return: `()` or `Result<(), E: Into<Reject>>`.
#[diagnostic::on_unimplemented(
    message = "an `#[on_connection]` hook returns `()` or `Result<(), E>` with `E: Into<Reject>`",
    note = "`WsException` and `Reject` both work as the error type"
)]
pub trait IntoConnectResult {
    /// Converts the hook's return value.
    fn into_connect_result(self) -> Result<(), Reject>;
}

impl IntoConnectResult for () {
    fn into_connect_result(self) -> Result<(), Reject> {
        Ok(())
    }
}

impl<E: Into<Reject>> IntoConnectResult for Result<(), E> {
    fn into_connect_result(self) -> Result<(), Reject> {
        self.map_err(Into::into)
    }
}

/// Converts an `#[on_connection]` hook's return value.
pub fn connect_result<R: IntoConnectResult>(result: R) -> Result<(), Reject> {
    result.into_connect_result()
}
