//! Guards: who may connect, and who may send an event.
//!
//! - A [`HandshakeGuard`] runs on the HTTP upgrade request, before any socket exists. It reads the
//!   headers, query, cookies and remote address, may store what it establishes (a user, claims, a
//!   tenant) with [`HandshakeRequest::insert`] — handlers read it back with the
//!   [`Extension`](crate::extract::Extension) extractor — and rejects with an HTTP status and a
//!   body ([`HandshakeRejection`]). Register one for every path with
//!   [`App::handshake_guard`](crate::App::handshake_guard), or for one gateway's path with
//!   `#[websocket_gateway(path = "/chat", handshake_guards(MyGuard))]`.
//! - A [`Guard`] runs before a message's handler (and before its extractors), as NestJS's
//!   `CanActivate`: `Ok(false)` answers "Forbidden resource", an `Err` answers that error, and
//!   the handler does not run. Attach guards with `#[use_guards(...)]` on a gateway's impl block
//!   (every handler) or on one handler.
//!
//! ```
//! use nestgate::guard::{Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest};
//! use nestgate::prelude::*;
//!
//! /// Lets in clients that present the API key; remembers who they are.
//! struct ApiKey;
//!
//! #[derive(Clone)]
//! struct Caller(String);
//!
//! impl HandshakeGuard for ApiKey {
//!     async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
//!         match request.header("x-api-key") {
//!             Some("secret") => {
//!                 request.insert(Caller("service-a".into()));
//!                 Ok(())
//!             }
//!             Some(_) => Err(HandshakeRejection::forbidden("unknown API key")),
//!             None => Err(HandshakeRejection::unauthorized("missing API key")),
//!         }
//!     }
//! }
//!
//! /// Lets only `service-a` send the event.
//! struct OnlyServiceA;
//!
//! impl Guard for OnlyServiceA {
//!     async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException> {
//!         Ok(context.extension::<Caller>().is_some_and(|caller| caller.0 == "service-a"))
//!     }
//! }
//!
//! #[websocket_gateway(path = "/jobs", handshake_guards(ApiKey))]
//! #[derive(Default)]
//! struct Jobs;
//!
//! #[websocket_gateway]
//! impl Jobs {
//!     #[subscribe_message("run")]
//!     #[use_guards(OnlyServiceA)]
//!     fn run(&self, Extension(caller): Extension<Caller>) -> String {
//!         format!("started by {}", caller.0)
//!     }
//! }
//! ```

use crate::error::WsException;
use crate::extract::{Message, Payload};
use crate::socket::Socket;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;

pub(crate) mod handshake;

pub use crate::error::FORBIDDEN_RESOURCE;
pub use crate::handshake::HandshakeRejection;
pub use crate::origin::OriginPolicy;
pub(crate) use handshake::check_all;
pub use handshake::{BoxedHandshakeGuard, HandshakeGuard, HandshakeRequest};

/// What a message [`Guard`] sees: the socket, the event and its data, the app's state.
#[derive(Debug)]
pub struct GuardContext {
    socket: Socket,
    event: &'static str,
    payload: Payload,
}

impl GuardContext {
    pub(crate) fn of(message: &Message) -> Self {
        GuardContext {
            socket: message.parts().socket().clone(),
            event: message.parts().event(),
            payload: message.payload().clone(),
        }
    }

    /// The client that sent the message.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The event name.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// The message's `data` as the JSON text it came as (`null` when absent).
    pub fn data_json(&self) -> &str {
        self.payload.json()
    }

    /// The message's `data` deserialized (the handler deserializes it again for itself).
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, WsException> {
        crate::extract::decode_data(self.payload.json()).map_err(Into::into)
    }

    /// A value stored on the socket (by a handshake guard or a hook).
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.socket.extension::<T>()
    }

    /// A clone of the state of type `T` provided with [`App::provide`](crate::App::provide).
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.socket.runtime().state.get::<T>()
    }
}

/// Decides whether a message may reach its handler, as NestJS's `CanActivate`. See the
/// [module docs](self).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message guard",
    label = "not a `Guard`",
    note = "implement `nestgate::guard::Guard` for it: `async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException>`"
)]
pub trait Guard: Send + Sync + 'static {
    /// `Ok(true)` runs the handler; `Ok(false)` answers "Forbidden resource"; `Err` answers
    /// that error.
    fn can_activate(
        &self,
        context: &GuardContext,
    ) -> impl Future<Output = Result<bool, WsException>> + Send;
}

/// A [`Guard`] without its type, as a handler stores it.
#[derive(Clone)]
pub struct BoxedGuard(Arc<dyn DynGuard>);

impl BoxedGuard {
    /// Erases a guard's type.
    pub fn new<G: Guard>(guard: G) -> Self {
        BoxedGuard(Arc::new(guard))
    }

    /// Runs the guard: `None` lets the message through, `Some` is the error to answer.
    pub(crate) async fn check(&self, context: &GuardContext) -> Option<WsException> {
        match self.0.can_activate_boxed(context).await {
            Ok(true) => None,
            Ok(false) => Some(WsException::new(FORBIDDEN_RESOURCE)),
            Err(exception) => Some(exception),
        }
    }
}

impl std::fmt::Debug for BoxedGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedGuard")
    }
}

trait DynGuard: Send + Sync {
    fn can_activate_boxed<'a>(
        &'a self,
        context: &'a GuardContext,
    ) -> BoxFuture<'a, Result<bool, WsException>>;
}

impl<G: Guard> DynGuard for G {
    fn can_activate_boxed<'a>(
        &'a self,
        context: &'a GuardContext,
    ) -> BoxFuture<'a, Result<bool, WsException>> {
        Box::pin(self.can_activate(context))
    }
}
