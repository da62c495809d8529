//! Extractors: the typed arguments of handlers.
//!
//! A handler takes any number of [`FromMessageParts`] extractors ([`Socket`], [`Server`],
//! [`State<T>`], [`Event`], your own), in any order, and at most one [`FromMessage`] extractor
//! that consumes the payload ([`Data<T>`]), which must be the last argument — as in axum.
//!
//! An extractor that fails answers the client with its rejection (an exception frame, or an ack
//! error when the frame had an `id`), and the handler does not run.
//!
//! # Writing an extractor
//!
//! ```
//! use nestgate::extract::{FromMessageParts, MessageParts};
//! use nestgate::prelude::*;
//!
//! /// The `x-user` header the client connected with.
//! struct User(String);
//!
//! impl FromMessageParts for User {
//!     type Rejection = WsException;
//!
//!     async fn from_message_parts(parts: &MessageParts) -> Result<Self, Self::Rejection> {
//!         parts
//!             .socket()
//!             .handshake()
//!             .headers()
//!             .get("x-user")
//!             .and_then(|value| value.to_str().ok())
//!             .map(|name| User(name.to_owned()))
//!             .ok_or_else(|| WsException::new("who are you?"))
//!     }
//! }
//!
//! #[websocket_gateway]
//! #[derive(Default)]
//! struct Whoami;
//!
//! #[websocket_gateway]
//! impl Whoami {
//!     #[subscribe_message("whoami")]
//!     fn whoami(&self, User(name): User) -> String {
//!         name
//!     }
//! }
//! ```

use crate::error::WsException;
use crate::protocol;
use crate::server::Server;
use crate::socket::Socket;
pub use crate::socketio::{Args, Binary};
#[cfg(feature = "validation")]
pub use crate::validate::{FieldError, Valid, ValidRejection, field_errors};
use axum::extract::ws::Utf8Bytes;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::future::Future;
use std::ops::Range;

/// One client message on its way to a handler: its context and its payload.
#[derive(Debug)]
pub struct Message {
    parts: MessageParts,
    payload: Payload,
}

impl Message {
    pub(crate) fn new(parts: MessageParts, payload: Payload) -> Self {
        Message { parts, payload }
    }

    /// Splits the message into what every extractor can read and what only the last consumes.
    pub fn into_parts(self) -> (MessageParts, Payload) {
        (self.parts, self.payload)
    }

    /// The socket, event name and ack id (for layers that look at the message).
    pub fn parts(&self) -> &MessageParts {
        &self.parts
    }

    /// The message's `data`.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
}

/// What a message carries besides its payload: the socket, the event name and the ack id.
#[derive(Debug)]
pub struct MessageParts {
    pub(crate) socket: Socket,
    pub(crate) event: &'static str,
    pub(crate) id: Option<u64>,
    /// The number of Socket.IO arguments when `data` holds several, as an array.
    pub(crate) args: Option<u32>,
}

impl MessageParts {
    /// The client that sent the message.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The event name.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// The acknowledgement id the client asked for, if any.
    pub fn ack_id(&self) -> Option<u64> {
        self.id
    }
}

/// The message's `data`, still as JSON text inside the received frame (no copy was made).
#[derive(Debug, Clone)]
pub struct Payload {
    frame: Utf8Bytes,
    data: Option<Range<usize>>,
}

impl Payload {
    pub(crate) fn new(frame: Utf8Bytes, data: Option<Range<usize>>) -> Self {
        Payload { frame, data }
    }

    /// The JSON text of `data`; `null` when the frame had none.
    pub fn json(&self) -> &str {
        protocol::data_text(self.frame.as_str(), &self.data)
    }
}

/// An extractor that reads the message's context; any number, in any order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor that can precede the last argument",
    label = "not a `FromMessageParts` extractor",
    note = "handler arguments are extractors: `Socket`, `Server`, `State<T>`, `Extension<T>`, `Event`, or a type implementing `FromMessageParts`",
    note = "`Data<T>` consumes the payload and must be the last argument"
)]
pub trait FromMessageParts: Sized + Send {
    /// What the client is told when extraction fails.
    type Rejection: Into<WsException>;

    /// Extracts the value.
    fn from_message_parts(
        parts: &MessageParts,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

/// An extractor that may consume the payload; only the last argument.
///
/// The `M` parameter only keeps the blanket implementation for [`FromMessageParts`] types apart;
/// you never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message extractor",
    label = "not an extractor",
    note = "handler arguments are extractors: `Data<T>`, `Valid<T>`, `Socket`, `Server`, `State<T>`, `Extension<T>`, `Event`, or a type implementing `FromMessageParts` or `FromMessage`"
)]
pub trait FromMessage<M = private::ViaMessage>: Sized + Send {
    /// What the client is told when extraction fails.
    type Rejection: Into<WsException>;

    /// Extracts the value, consuming the payload.
    fn from_message(
        parts: &MessageParts,
        payload: Payload,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

mod private {
    /// Marks the blanket `FromMessage` implementation of `FromMessageParts` types.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaParts {}

    /// Marks extractors that implement `FromMessage` themselves.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaMessage {}
}

impl<T: FromMessageParts> FromMessage<private::ViaParts> for T {
    type Rejection = T::Rejection;

    fn from_message(
        parts: &MessageParts,
        _payload: Payload,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        T::from_message_parts(parts)
    }
}

impl FromMessageParts for Socket {
    type Rejection = Infallible;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, Infallible> {
        Ok(parts.socket.clone())
    }
}

impl FromMessageParts for Server {
    type Rejection = Infallible;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, Infallible> {
        Ok(parts.socket.server())
    }
}

/// The event name the message was sent with.
///
/// ```
/// use nestgate::extract::Event;
/// use nestgate::prelude::*;
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Logger;
///
/// #[websocket_gateway]
/// impl Logger {
///     #[subscribe_message("a")]
///     fn a(&self, Event(event): Event) -> &'static str {
///         event
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event(pub &'static str);

impl FromMessageParts for Event {
    type Rejection = Infallible;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, Infallible> {
        Ok(Event(parts.event))
    }
}

/// A clone of the state of type `T` given to [`App::provide`](crate::App::provide).
///
/// A missing state is a programming error: the client gets "Internal server error" and the log
/// names the type.
///
/// ```
/// use nestgate::extract::State;
/// use nestgate::prelude::*;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// #[derive(Clone, Default)]
/// struct Hits(Arc<AtomicU64>);
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Counter;
///
/// #[websocket_gateway]
/// impl Counter {
///     #[subscribe_message("hit")]
///     fn hit(&self, State(hits): State<Hits>) -> u64 {
///         hits.0.fetch_add(1, Ordering::Relaxed) + 1
///     }
/// }
///
/// let app = nestgate::App::bare().provide(Hits::default()).gateway::<Counter>();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

/// The rejection of [`State<T>`] when no such state was provided.
#[derive(Debug)]
pub struct MissingState(&'static str);

impl From<MissingState> for WsException {
    fn from(missing: MissingState) -> Self {
        WsException::internal(format_args!(
            "State<{}> was not provided; call App::provide with a value of that type",
            missing.0
        ))
    }
}

impl<T: Clone + Send + Sync + 'static> FromMessageParts for State<T> {
    type Rejection = MissingState;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, MissingState> {
        parts
            .socket
            .runtime()
            .state
            .get::<T>()
            .map(State)
            .ok_or(MissingState(std::any::type_name::<T>()))
    }
}

/// A clone of a value stored on the socket: what a
/// [`HandshakeGuard`](crate::guard::HandshakeGuard) established (a user, claims, a tenant), or
/// what a hook stored with [`Socket::insert_extension`].
///
/// A missing value means the guard that should have stored it did not run on this path: the
/// client gets "Unauthorized" (the same answer as an unauthenticated one) and the log names the
/// type.
///
/// ```
/// use nestgate::extract::Extension;
/// use nestgate::prelude::*;
///
/// #[derive(Clone)]
/// struct User {
///     name: String,
/// }
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Profile;
///
/// #[websocket_gateway]
/// impl Profile {
///     #[subscribe_message("whoami")]
///     fn whoami(&self, Extension(user): Extension<User>) -> String {
///         user.name
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Extension<T>(pub T);

/// The rejection of [`Extension<T>`] when the socket holds no such value.
#[derive(Debug)]
pub struct MissingExtension(&'static str);

impl From<MissingExtension> for WsException {
    fn from(missing: MissingExtension) -> Self {
        tracing::warn!(
            type_name = missing.0,
            "Extension<T> found no value of this type on the socket: no handshake guard stored one"
        );
        WsException::new("Unauthorized")
    }
}

impl<T: Clone + Send + Sync + 'static> FromMessageParts for Extension<T> {
    type Rejection = MissingExtension;

    async fn from_message_parts(parts: &MessageParts) -> Result<Self, MissingExtension> {
        parts
            .socket
            .extension::<T>()
            .map(Extension)
            .ok_or(MissingExtension(std::any::type_name::<T>()))
    }
}

/// The frame's `data`, deserialized with serde straight from the received bytes.
///
/// An absent `data` deserializes as `null`, so `Data<Option<T>>` and `Data<()>` accept it.
/// When deserialization fails the client is told why, naming the field:
/// `invalid data at \`room\`: invalid type: integer \`5\`, expected a string`.
///
/// ```
/// use nestgate::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Join {
///     room: String,
/// }
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Rooms;
///
/// #[websocket_gateway]
/// impl Rooms {
///     #[subscribe_message("join")]
///     fn join(&self, Data(join): Data<Join>) -> String {
///         format!("joined {}", join.room)
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Data<T>(pub T);

/// The rejection of [`Data<T>`]: the payload did not match the type.
#[derive(Debug)]
pub struct DataRejection(String);

impl DataRejection {
    /// The message the client receives.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<DataRejection> for WsException {
    fn from(rejection: DataRejection) -> Self {
        WsException::new(rejection.0)
    }
}

impl<T: DeserializeOwned + Send> FromMessage for Data<T> {
    type Rejection = DataRejection;

    async fn from_message(_parts: &MessageParts, payload: Payload) -> Result<Self, DataRejection> {
        decode_data(payload.json()).map(Data)
    }
}

/// The longest field path a data error names.
const MAX_PATH_IN_MESSAGE: usize = 64;

/// Deserializes `data`, naming the failing field in the error.
///
/// The path is tracked only when deserializing failed: a second pass over the same text fails
/// at the same place, and valid data (nearly all of it) does not pay for the bookkeeping.
pub(crate) fn decode_data<T: DeserializeOwned>(json: &str) -> Result<T, DataRejection> {
    match serde_json::from_str(json) {
        Ok(value) => Ok(value),
        Err(_) => Err(explain_data_error::<T>(json)),
    }
}

/// The error of deserializing `json` as `T`, with the path of the failing field.
#[cold]
fn explain_data_error<T: DeserializeOwned>(json: &str) -> DataRejection {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|err| {
        let mut path = err.path().to_string();
        if path.len() > MAX_PATH_IN_MESSAGE {
            // Deeply nested data (the recursion limit) would make the message as long as it.
            let end = crate::util::text::prefix(&path, MAX_PATH_IN_MESSAGE).len();
            path.truncate(end);
            path.push('…');
        }
        let inner = err.into_inner();
        // serde_json's position is relative to `data`, which the client does not see as a
        // document of its own: say only what and where.
        let what = strip_position(&inner.to_string());
        DataRejection(if path == "." {
            format!("invalid data: {what}")
        } else {
            format!("invalid data at `{path}`: {what}")
        })
    }) {
        Err(rejection) => rejection,
        // Not reachable for a deterministic `Deserialize`; said plainly if one is not.
        Ok(_) => DataRejection("invalid data".to_owned()),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Join {
        room: String,
        limit: u32,
    }

    #[test]
    fn data_errors_name_the_field() {
        let err = decode_data::<Join>(r#"{"room":"a","limit":"x"}"#).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid data at `limit`: invalid type: string \"x\", expected u32"
        );
        let err = decode_data::<Join>(r#"{"limit":1}"#).unwrap_err();
        assert_eq!(err.message(), "invalid data: missing field `room`");
        let err = decode_data::<u8>("null").unwrap_err();
        assert_eq!(
            err.message(),
            "invalid data: invalid type: null, expected u8"
        );
    }
}
