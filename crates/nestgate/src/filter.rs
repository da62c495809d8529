//! Exception filters: turn a handler's error type into the frame the client sees, as NestJS's
//! `@Catch(...)` filters.
//!
//! A handler returning `Result<T, E>` keeps `E` typed until its answer is written. Filters are
//! tried in order — the handler's own (`#[use_filters(...)]` on the method), the gateway's (on
//! the impl block), then the app's ([`App::exception_filter`](crate::App::exception_filter)) —
//! and the first one whose error type matches makes the [`WsException`]. When none matches, `E`
//! becomes the exception its `Into<WsException>` gives, or "Internal server error" (logged) for
//! an `E` that is only a `std::error::Error`.
//!
//! Extractor rejections (`DataRejection`, `ValidRejection`, ...), guard refusals and layer errors
//! arrive as [`WsException`], so a filter for `WsException` sees every error of a message. Errors
//! returned by an `#[on_connection]` hook go through the gateway's and the app's filters too
//! (the connection is then closed with 1008 and the filter's message).
//!
//! ```
//! use nestgate::filter::ErrorHost;
//! use nestgate::prelude::*;
//!
//! #[derive(Debug, thiserror::Error)]
//! enum ShopError {
//!     #[error("out of stock: {0}")]
//!     OutOfStock(String),
//! }
//!
//! /// The client gets a code it can switch on.
//! fn shop_errors(error: ShopError, host: &ErrorHost<'_>) -> WsException {
//!     match error {
//!         ShopError::OutOfStock(item) => WsException::with_data(serde_json::json!({
//!             "status": "error",
//!             "code": "OUT_OF_STOCK",
//!             "item": item,
//!             "event": host.event(),
//!         })),
//!     }
//! }
//!
//! #[websocket_gateway]
//! #[derive(Default)]
//! struct Shop;
//!
//! #[websocket_gateway]
//! impl Shop {
//!     #[subscribe_message("buy")]
//!     #[use_filters(shop_errors)]
//!     fn buy(&self, Data(item): Data<String>) -> Result<String, ShopError> {
//!         Err(ShopError::OutOfStock(item))
//!     }
//! }
//! ```

use crate::error::{INTERNAL_SERVER_ERROR, Reject, WsException};
use crate::socket::Socket;
use std::any::Any;
use std::sync::Arc;

/// Where an error happened: the socket, and the message when there was one.
#[derive(Debug)]
pub struct ErrorHost<'a> {
    socket: &'a Socket,
    event: Option<&'a str>,
    data: &'a str,
}

impl<'a> ErrorHost<'a> {
    pub(crate) fn new(socket: &'a Socket, event: Option<&'a str>, data: &'a str) -> Self {
        ErrorHost {
            socket,
            event,
            data,
        }
    }

    /// The client.
    pub fn socket(&self) -> &Socket {
        self.socket
    }

    /// The message's event; `None` for an error of the connection hook.
    pub fn event(&self) -> Option<&str> {
        self.event
    }

    /// The message's `data` as JSON text (`null` when absent, or for a connection hook).
    pub fn data_json(&self) -> &str {
        self.data
    }
}

/// Turns errors of type `E` into an exception frame. Implemented by every
/// `Fn(E, &ErrorHost<'_>) -> WsException`.
pub trait ExceptionFilter<E>: Send + Sync + 'static {
    /// The exception the client receives.
    fn catch(&self, error: E, host: &ErrorHost<'_>) -> WsException;
}

impl<E, F> ExceptionFilter<E> for F
where
    F: Fn(E, &ErrorHost<'_>) -> WsException + Send + Sync + 'static,
{
    fn catch(&self, error: E, host: &ErrorHost<'_>) -> WsException {
        self(error, host)
    }
}

/// An [`ExceptionFilter`] without its types, as handlers, gateways and the app store it.
#[derive(Clone)]
pub struct BoxedFilter(Arc<dyn DynFilter>);

impl BoxedFilter {
    /// Erases a filter's types; `E` is inferred from the filter.
    pub fn new<E: Send + 'static, F: ExceptionFilter<E>>(filter: F) -> Self {
        BoxedFilter(Arc::new(Typed {
            filter,
            _error: std::marker::PhantomData::<fn(E)>,
        }))
    }
}

impl std::fmt::Debug for BoxedFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedFilter")
    }
}

trait DynFilter: Send + Sync {
    /// The exception, or the error back when it is not of this filter's type.
    fn try_catch(
        &self,
        error: Box<dyn Any + Send>,
        host: &ErrorHost<'_>,
    ) -> Result<WsException, Box<dyn Any + Send>>;
}

struct Typed<E, F> {
    filter: F,
    _error: std::marker::PhantomData<fn(E)>,
}

impl<E: Send + 'static, F: ExceptionFilter<E>> DynFilter for Typed<E, F> {
    fn try_catch(
        &self,
        error: Box<dyn Any + Send>,
        host: &ErrorHost<'_>,
    ) -> Result<WsException, Box<dyn Any + Send>> {
        let error = error.downcast::<E>()?;
        Ok(self.filter.catch(*error, host))
    }
}

/// A typed error on its way to the filters, with what it becomes when none catches it.
pub struct Failure<T = WsException> {
    error: Box<dyn Any + Send>,
    fallback: fn(Box<dyn Any + Send>) -> T,
}

impl<T> std::fmt::Debug for Failure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Failure")
    }
}

impl<T> Failure<T> {
    /// Tries `filters` in order; the first that catches the error answers.
    pub(crate) fn catch<'f>(
        mut self,
        filters: impl IntoIterator<Item = &'f BoxedFilter>,
        host: &ErrorHost<'_>,
    ) -> Result<WsException, Self> {
        for filter in filters {
            match filter.0.try_catch(self.error, host) {
                Ok(exception) => return Ok(exception),
                Err(error) => self.error = error,
            }
        }
        Err(self)
    }

    /// What the error becomes without a filter.
    pub(crate) fn fallback(self) -> T {
        (self.fallback)(self.error)
    }
}

impl Failure<WsException> {
    /// An error that becomes its `Into<WsException>` unless a filter catches it.
    pub fn exception<E: Into<WsException> + Send + 'static>(error: E) -> Self {
        Failure {
            error: Box::new(error),
            fallback: |error| into_exception::<E>(error),
        }
    }

    /// An error that is only a `std::error::Error`: "Internal server error" (and a log line)
    /// unless a filter catches it.
    pub fn internal<E: std::error::Error + Send + 'static>(error: E) -> Self {
        Failure {
            error: Box::new(error),
            fallback: |error| match error.downcast::<E>() {
                Ok(error) => {
                    tracing::error!(error = %error, type_name = std::any::type_name::<E>(), "a handler failed with an error no filter caught");
                    WsException::new(INTERNAL_SERVER_ERROR)
                }
                Err(_) => WsException::new(INTERNAL_SERVER_ERROR),
            },
        }
    }

    /// The exception the error becomes after `filters`: the first filter of its own type, else
    /// its fallback — which filters for `WsException` then see, so that they catch everything.
    pub(crate) fn resolve<'f, I>(self, filters: I, host: &ErrorHost<'_>) -> WsException
    where
        I: IntoIterator<Item = &'f BoxedFilter> + Clone,
    {
        let is_exception = self.error.is::<WsException>();
        match self.catch(filters.clone(), host) {
            Ok(exception) => exception,
            Err(failure) if is_exception => failure.fallback(),
            Err(failure) => Failure::exception(failure.fallback())
                .catch(filters, host)
                .unwrap_or_else(Failure::fallback),
        }
    }
}

impl Failure<Reject> {
    /// A connection hook's error: its `Into<Reject>` unless a filter catches it.
    pub fn reject<E: Into<Reject> + Send + 'static>(error: E) -> Self {
        Failure {
            error: Box::new(error),
            fallback: |error| match error.downcast::<E>() {
                Ok(error) => (*error).into(),
                // `Failure::reject` boxed an `E`, and filters hand back what they did not take.
                Err(_) => Reject::new(crate::close::INTERNAL, INTERNAL_SERVER_ERROR),
            },
        }
    }

    /// A connection hook's error that is only a `std::error::Error`: closes with 1011 (and a log
    /// line) unless a filter catches it.
    pub fn reject_internal<E: std::error::Error + Send + 'static>(error: E) -> Self {
        Failure {
            error: Box::new(error),
            fallback: |error| {
                if let Ok(error) = error.downcast::<E>() {
                    tracing::error!(error = %error, type_name = std::any::type_name::<E>(), "an on_connection hook failed with an error no filter caught");
                }
                Reject::new(crate::close::INTERNAL, INTERNAL_SERVER_ERROR)
            },
        }
    }
}

fn into_exception<E: Into<WsException> + 'static>(error: Box<dyn Any + Send>) -> WsException {
    match error.downcast::<E>() {
        Ok(error) => (*error).into(),
        // `Failure::exception` boxed an `E`, and filters hand back what they did not take.
        Err(_) => WsException::new(INTERNAL_SERVER_ERROR),
    }
}
