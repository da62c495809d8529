//! Errors: [`Error`] for the application (startup, binding), [`WsException`] for what a client is
//! told about one message, and [`Reject`] for a refused connection.

use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// The result type of nestgate's fallible application calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error that stops the application from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two handlers on one path claim the same event.
    #[error("event \"{event}\" on path \"{path}\" is handled twice: by {first} and by {second}")]
    DuplicateEvent {
        /// The event name.
        event: String,
        /// The gateway path both handlers live on.
        path: String,
        /// `Gateway::method` of the first handler.
        first: String,
        /// `Gateway::method` of the second handler.
        second: String,
    },
    /// A gateway or a provider needs state that was never provided with
    /// [`App::provide`](crate::App::provide) nor built by [`App::provider`](crate::App::provider).
    #[error(
        "{needed_by} needs state of type {type_name}; provide it with App::provide or App::provider"
    )]
    MissingState {
        /// The gateway or provider that needs it.
        needed_by: &'static str,
        /// The missing type.
        type_name: &'static str,
    },
    /// A handler reads [`State<T>`](crate::extract::State) of a type that was never provided.
    #[error(
        "handler {handler} (event \"{event}\" on path \"{path}\") reads State<{type_name}>, which was never provided; provide it with App::provide or App::provider"
    )]
    MissingHandlerState {
        /// `Gateway::method`.
        handler: String,
        /// The event it answers.
        event: String,
        /// Its gateway's path.
        path: String,
        /// The missing type.
        type_name: &'static str,
    },
    /// Providers given to [`App::provider`](crate::App::provider) that need each other: the
    /// cycle, its first provider repeated at its end.
    #[error("providers need each other in a cycle: {}", .0.join(" -> "))]
    ProviderCycle(Vec<&'static str>),
    /// The same gateway type was registered twice.
    #[error("gateway {0} is registered twice")]
    DuplicateGateway(&'static str),
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
    /// No gateway serves the path asked for (an in-process test socket, with the `testing`
    /// feature's `InProcess::new`).
    #[error("no gateway at {path}")]
    NoGateway {
        /// The path asked for.
        path: String,
    },
    /// A connection hook refused the connection (an in-process test socket, with the `testing`
    /// feature's `InProcess::new`).
    #[error("connection rejected: {} (close code {})", .0.reason(), .0.code())]
    Rejected(Reject),
    /// Settings that do not work together yet.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// The message a client sees for an internal error; the detail goes to the log only.
pub(crate) const INTERNAL_SERVER_ERROR: &str = "Internal server error";

/// The message a failed guard answers, as NestJS's.
pub const FORBIDDEN_RESOURCE: &str = "Forbidden resource";

/// The message of a rejected payload (`extract::VALIDATION_FAILED`, defined here, a leaf).
pub(crate) const VALIDATION_FAILED: &str = "Validation failed";

/// An error reported to the client for one message, as NestJS's `WsException`.
///
/// For a frame without `id` it arrives as NestJS 12 sends it:
/// `{"event":"exception","data":{"status":"error","message":"...","cause":{"pattern":<event>,"data":<data>}}}`;
/// for a frame with `id` as `{"ack":<id>,"error":{"status":"error","message":"..."}}`.
/// An exception built from an object ([`WsException::with_data`]) sends that object instead, as
/// it is and without `cause` (as NestJS does): `{"event":"exception","data":<the object>}`.
///
/// ```
/// use nestgate::WsException;
///
/// let not_found = WsException::new("room not found");
/// assert_eq!(not_found.message(), Some("room not found"));
///
/// #[derive(serde::Serialize)]
/// struct Detail { code: u32 }
/// let detailed = WsException::with_data(Detail { code: 42 });
/// assert_eq!(detailed.message(), None);
/// ```
#[derive(Debug, Clone)]
pub struct WsException {
    body: ExceptionBody,
}

#[derive(Debug, Clone)]
enum ExceptionBody {
    Message(Cow<'static, str>),
    Data(Value),
}

impl WsException {
    /// An exception with a message: `{"status":"error","message":...}`.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        WsException {
            body: ExceptionBody::Message(message.into()),
        }
    }

    /// An exception whose `data` is the given value, sent as it is (as NestJS does for objects).
    ///
    /// A value that cannot be serialized becomes an internal error.
    pub fn with_data(data: impl Serialize) -> Self {
        match serde_json::to_value(data) {
            Ok(value) => WsException {
                body: ExceptionBody::Data(value),
            },
            Err(err) => WsException::internal(err),
        }
    }

    /// An internal error: the client sees `"Internal server error"`, the log gets the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error while handling a message");
        WsException::new(INTERNAL_SERVER_ERROR)
    }

    /// The `"Forbidden resource"` exception that a failed guard answers.
    pub fn forbidden() -> Self {
        WsException::new(FORBIDDEN_RESOURCE)
    }

    /// What kind of handler error this is, as a metric label: `guard` ("Forbidden
    /// resource"), `validation` ("Validation failed"), else `exception`.
    pub(crate) fn metric_kind(&self) -> &'static str {
        let message = match &self.body {
            ExceptionBody::Message(message) => Some(&**message),
            ExceptionBody::Data(data) => data.get("message").and_then(|message| message.as_str()),
        };
        match message {
            Some(FORBIDDEN_RESOURCE) => "guard",
            Some(VALIDATION_FAILED) => "validation",
            _ => "exception",
        }
    }

    /// The message, when this exception carries one rather than an object.
    pub fn message(&self) -> Option<&str> {
        match &self.body {
            ExceptionBody::Message(message) => Some(message),
            ExceptionBody::Data(_) => None,
        }
    }

    /// The object, when this exception carries one ([`WsException::with_data`],
    /// [`WsException::validation`]) rather than a message: what an app-wide exception filter
    /// reads to rewrite it.
    ///
    /// ```
    /// use nestgate::WsException;
    ///
    /// let err = WsException::with_data(serde_json::json!({"code": 42}));
    /// assert_eq!(err.data().and_then(|data| data["code"].as_u64()), Some(42));
    /// assert!(WsException::new("plain").data().is_none());
    /// ```
    pub fn data(&self) -> Option<&Value> {
        match &self.body {
            ExceptionBody::Message(_) => None,
            ExceptionBody::Data(value) => Some(value),
        }
    }

    /// What the client is sent: a message, or an object as it is.
    pub(crate) fn body(&self) -> Result<&str, &Value> {
        match &self.body {
            ExceptionBody::Message(message) => Ok(message),
            ExceptionBody::Data(value) => Err(value),
        }
    }
}

impl std::fmt::Display for WsException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            ExceptionBody::Message(message) => f.write_str(message),
            ExceptionBody::Data(value) => write!(f, "{value}"),
        }
    }
}

impl std::error::Error for WsException {}

impl From<&'static str> for WsException {
    fn from(message: &'static str) -> Self {
        WsException::new(message)
    }
}

impl From<String> for WsException {
    fn from(message: String) -> Self {
        WsException::new(message)
    }
}

impl From<serde_json::Error> for WsException {
    /// A value that cannot be serialized is a bug on the server: an internal error.
    fn from(err: serde_json::Error) -> Self {
        WsException::internal(format_args!("cannot serialize: {err}"))
    }
}

impl From<std::convert::Infallible> for WsException {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// A refused connection, returned by an `#[on_connection]` hook.
///
/// The client receives the exception frame (if any), then a close frame with the code and
/// reason. The default code is 1008 (policy violation).
///
/// ```
/// use nestgate::{Reject, WsException};
///
/// let reject = Reject::new(4001, "unauthorized").with_exception(WsException::new("missing token"));
/// assert_eq!(reject.code(), 4001);
/// // A `WsException` converts into a rejection with code 1008 and the message as the reason.
/// let reject: Reject = WsException::new("banned").into();
/// assert_eq!((reject.code(), reject.reason()), (1008, "banned"));
/// ```
#[derive(Debug, Clone)]
pub struct Reject {
    code: u16,
    reason: Cow<'static, str>,
    exception: Option<WsException>,
}

impl Reject {
    /// A rejection with a close code and reason, and no exception frame.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Reject {
            code,
            reason: reason.into(),
            exception: None,
        }
    }

    /// Sends this exception frame before the close frame.
    pub fn with_exception(mut self, exception: impl Into<WsException>) -> Self {
        self.exception = Some(exception.into());
        self
    }

    /// The close code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The close reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn exception(&self) -> Option<&WsException> {
        self.exception.as_ref()
    }
}

impl From<WsException> for Reject {
    fn from(exception: WsException) -> Self {
        let reason: Cow<'static, str> = match exception.message() {
            Some(message) => Cow::Owned(truncate_reason(message)),
            None => Cow::Borrowed("connection rejected"),
        };
        Reject {
            code: crate::close::POLICY,
            reason,
            exception: Some(exception),
        }
    }
}

/// A close reason must fit in a control frame: 123 bytes of UTF-8.
pub(crate) fn truncate_reason(reason: &str) -> String {
    crate::util::text::prefix(reason, 123).to_owned()
}
