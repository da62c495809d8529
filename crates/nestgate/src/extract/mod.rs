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
//!
//! [`Server`]: crate::Server

use crate::error::WsException;
use crate::protocol;
use crate::socket::Socket;
use axum::extract::ws::Utf8Bytes;
use std::future::Future;
use std::ops::Range;

mod args;
mod context;
mod data;
mod invalid;
mod needs;
mod serde_error;
#[cfg(feature = "validation")]
mod valid;

pub use args::{Args, Binary};
pub use context::{Event, Extension, MissingExtension, MissingState, State};
pub(crate) use data::decode_data;
pub use data::{Data, DataRejection};
pub use invalid::{FieldError, VALIDATION_FAILED};
pub use needs::Needs;
#[cfg(feature = "validation")]
pub use valid::{Valid, ValidRejection, field_errors};

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

    /// Declares what the extractor needs from the app (provided state, socket extensions), so
    /// that a missing piece stops the app at startup instead of failing every message. Nothing,
    /// unless the extractor says otherwise. See [`Needs`].
    fn needs(needs: &mut Needs) {
        let _ = needs;
    }
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

    /// Declares what the extractor needs from the app; see [`FromMessageParts::needs`].
    fn needs(needs: &mut Needs) {
        let _ = needs;
    }
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

    fn needs(needs: &mut Needs) {
        T::needs(needs);
    }
}
