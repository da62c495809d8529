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

/// What a handler may return besides `()` and `Result`: a `Serialize` value (one frame) or a
/// `Stream` of them (one frame per item). The marker `M` keeps the two implementations apart;
/// inference picks the one that applies.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to the client: a handler's return value must be `Serialize`",
    label = "the return type of this handler is sent to the client as JSON",
    note = "derive it: `#[derive(serde::Serialize)]`; or return `()`, `Result<T, E>`, `WsResponse<T>`, or a `Stream` whose items are `Serialize`"
)]
pub trait IntoReply<M> {
    /// Converts the value.
    fn into_reply(self) -> Reply;
}

/// Marks [`IntoReply`] for `Serialize` values.
#[derive(Debug)]
pub enum ViaSerialize {}

/// Marks [`IntoReply`] for streams.
#[derive(Debug)]
pub enum ViaStream {}

impl<T: Serialize> IntoReply<ViaSerialize> for T {
    fn into_reply(self) -> Reply {
        Reply::json(&self)
    }
}

impl<S> IntoReply<ViaStream> for S
where
    S: Stream + Send + 'static,
    S::Item: Serialize,
{
    fn into_reply(self) -> Reply {
        Reply::stream(self)
    }
}

/// A handler's return value as its reply.
pub fn into_reply<M, T: IntoReply<M>>(value: T) -> Reply {
    value.into_reply()
}

/// The value of a handler's `Ok`: it must be `Serialize`.
pub fn ok_reply<T: OkReply>(value: T) -> Reply {
    value.ok_reply()
}

/// What a handler's `Result` may hold in its `Ok`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to the client: the `Ok` value of a handler's `Result` must be `Serialize`",
    label = "the `Ok` value of this handler's `Result` is sent to the client as JSON",
    note = "derive it: `#[derive(serde::Serialize)]`, or return `Result<(), E>`"
)]
pub trait OkReply {
    /// Converts the value.
    fn ok_reply(self) -> Reply;
}

impl<T: Serialize> OkReply for T {
    fn ok_reply(self) -> Reply {
        Reply::json(&self)
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
