//! The extractors that read a message's context: [`Socket`], [`Server`], [`Event`], [`State<T>`]
//! and [`Extension<T>`], with the rejections of the last two.

use super::{FromMessageParts, MessageParts, Needs};
use crate::error::WsException;
use crate::server::Server;
use crate::socket::Socket;
use std::convert::Infallible;

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
/// A missing state is a programming error, found when the app starts:
/// [`App::bind`](crate::App::bind) fails naming the handler and the type.
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

impl<T> std::ops::Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

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

    fn needs(needs: &mut Needs) {
        needs.state::<T>();
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

/// As axum's: `user.sub` for `user: Extension<Claims>`.
impl<T> std::ops::Deref for Extension<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

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

    fn needs(needs: &mut Needs) {
        needs.extension::<T>();
    }
}
