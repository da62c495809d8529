//! Items used by the code the macros generate. Not public API: no semver guarantees.

use crate::error::{Reject, WsException};
use crate::filter::Failure;
use crate::handler::reply::Reply;
use futures_util::stream::Stream;
use serde::Serialize;
use std::cell::Cell;

pub use futures_util::future::BoxFuture;
pub use inventory;

/// The reply for a failed extraction (filters see it as a `WsException`).
pub fn rejected<R: Into<WsException>>(rejection: R) -> Reply {
    Reply::failed(Failure::exception(rejection.into()))
}

/// Holds a handler's error while autoref specialization picks how filters will see it.
pub struct ErrTag<E>(Cell<Option<E>>);

impl<E> std::fmt::Debug for ErrTag<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrTag")
    }
}

impl<E> ErrTag<E> {
    /// Wraps the error.
    pub fn new(error: E) -> Self {
        ErrTag(Cell::new(Some(error)))
    }

    fn take(&self) -> E {
        // The generated code converts each tag exactly once, right after creating it.
        self.0.take().expect("an ErrTag is converted once")
    }
}

/// Chosen first: an error with `Into<WsException>` becomes that unless a filter catches it.
pub trait ErrViaInto {
    /// Converts the error.
    fn __nestgate_failure(&self) -> Reply;
}

impl<E: Into<WsException> + Send + 'static> ErrViaInto for &ErrTag<E> {
    fn __nestgate_failure(&self) -> Reply {
        Reply::failed(Failure::exception(self.take()))
    }
}

/// Chosen otherwise: a `std::error::Error` becomes "Internal server error" unless a filter
/// catches it.
#[diagnostic::on_unimplemented(
    message = "the error type of a handler's `Result` must implement `Into<WsException>` or `std::error::Error`",
    note = "implement `From<YourError> for WsException`, or derive `std::error::Error` and catch it with `#[use_filters(...)]`"
)]
pub trait ErrViaError {
    /// Converts the error.
    fn __nestgate_failure(&self) -> Reply;
}

impl<E: std::error::Error + Send + 'static> ErrViaError for ErrTag<E> {
    fn __nestgate_failure(&self) -> Reply {
        Reply::failed(Failure::internal(self.take()))
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
    fn into_connect_result(self) -> Result<(), Failure<Reject>>;
}

impl IntoConnectResult for () {
    fn into_connect_result(self) -> Result<(), Failure<Reject>> {
        Ok(())
    }
}

impl<E: Into<Reject> + Send + 'static> IntoConnectResult for Result<(), E> {
    fn into_connect_result(self) -> Result<(), Failure<Reject>> {
        self.map_err(Failure::reject)
    }
}

/// Converts an `#[on_connection]` hook's return value.
pub fn connect_result<R: IntoConnectResult>(result: R) -> Result<(), Failure<Reject>> {
    result.into_connect_result()
}

/// Chosen first for a hook's `Err(E)`: `E: Into<Reject>` becomes that unless a filter catches it.
pub trait RejectViaInto {
    /// Converts the error.
    fn __nestgate_reject(&self) -> Failure<Reject>;
}

impl<E: Into<Reject> + Send + 'static> RejectViaInto for &ErrTag<E> {
    fn __nestgate_reject(&self) -> Failure<Reject> {
        Failure::reject(self.take())
    }
}

/// Chosen otherwise: a `std::error::Error` closes with 1011 (logged) unless a filter catches it.
#[diagnostic::on_unimplemented(
    message = "an `#[on_connection]` hook's error type must implement `Into<Reject>` or `std::error::Error`",
    note = "`WsException` and `Reject` both work as the error type"
)]
pub trait RejectViaError {
    /// Converts the error.
    fn __nestgate_reject(&self) -> Failure<Reject>;
}

impl<E: std::error::Error + Send + 'static> RejectViaError for ErrTag<E> {
    fn __nestgate_reject(&self) -> Failure<Reject> {
        Failure::reject_internal(self.take())
    }
}
