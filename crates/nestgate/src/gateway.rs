//! Gateways: the traits the macros implement, and their registration.
//!
//! `#[websocket_gateway(path = "/chat")]` on a struct implements [`GatewayMeta`] and submits a
//! [`GatewayRegistration`] to the `inventory` registry; `#[websocket_gateway]` on its impl block
//! implements [`GatewayHandlers`]. A type with both, buildable from the app's state
//! ([`FromAppState`]), is a [`Gateway`]. You normally never implement these traits by hand.

use crate::error::Error;
use crate::extract::{Message, Needs};
use crate::filter::{BoxedFilter, ExceptionFilter, Failure};
use crate::guard::{BoxedGuard, BoxedHandshakeGuard, Guard};
use crate::handler::pipeline::{self, BuiltGateway, Wrap};
use crate::handler::reply::Reply;
use crate::layer::{BoxError, HandlerService};
use crate::server::Server;
use crate::socket::{DisconnectReason, Socket};
use crate::state::AppState;
use futures_util::future::BoxFuture;
use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;

/// A gateway's name and path; implemented by `#[websocket_gateway(...)]` on the struct.
pub trait GatewayMeta {
    /// The struct's name, used in errors and logs.
    const NAME: &'static str;
    /// The URL path the gateway is served on (default `/`).
    const PATH: &'static str;

    /// The guards of the handshake on this gateway's path (the struct's
    /// `handshake_guards(...)` option).
    fn handshake_guards() -> Vec<BoxedHandshakeGuard> {
        Vec::new()
    }
}

/// A gateway's handlers and lifecycle hooks; implemented by `#[websocket_gateway]` on the impl.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no handlers: its impl block needs `#[websocket_gateway]`",
    note = "put `#[websocket_gateway]` on the `impl {Self} {{ ... }}` block that holds the `#[subscribe_message]` methods"
)]
pub trait GatewayHandlers: Sized + Send + Sync + 'static {
    /// The `#[subscribe_message]` handlers.
    fn handlers() -> Vec<HandlerDef<Self>>;

    /// The guards of every handler (`#[use_guards(...)]` on the impl block); they run before
    /// each handler's own.
    fn guards() -> Vec<BoxedGuard> {
        Vec::new()
    }

    /// Wraps a handler in the gateway's layers (`#[use_layers(...)]` on the impl block), outside
    /// the handler's own.
    fn layers(handler: HandlerDef<Self>) -> HandlerDef<Self> {
        handler
    }

    /// The exception filters of every handler and of the connection hook
    /// (`#[use_filters(...)]` on the impl block); tried after each handler's own.
    fn filters() -> Vec<BoxedFilter> {
        Vec::new()
    }

    /// The `#[after_init]` hook: runs once, when the server is ready, before it accepts clients.
    fn after_init(self: Arc<Self>, server: Server) -> BoxFuture<'static, ()> {
        let _ = server;
        Box::pin(async {})
    }

    /// The `#[on_connection]` hook: runs for each new client before any of its messages; an
    /// `Err` closes the connection.
    fn on_connection(
        self: Arc<Self>,
        socket: Socket,
    ) -> BoxFuture<'static, Result<(), Failure<crate::Reject>>> {
        let _ = socket;
        Box::pin(async { Ok(()) })
    }

    /// The `#[on_disconnect]` hook: runs once for each client that was accepted, with the reason.
    fn on_disconnect(
        self: Arc<Self>,
        socket: Socket,
        reason: DisconnectReason,
    ) -> BoxFuture<'static, ()> {
        let _ = (socket, reason);
        Box::pin(async {})
    }
}

/// How a gateway (or a provider, [`App::provider`](crate::App::provider)) is built from the
/// app's provided state, once, when the app starts.
///
/// Every `Default` type implements it. A gateway that needs services marks their fields
/// `#[inject]`, as a NestJS gateway lists them in its constructor: `#[websocket_gateway]` then
/// implements this trait, each `#[inject]` field a clone of the provided value of its type, every
/// other field `Default::default()`. A state nobody provided stops the app at
/// [`bind`](crate::App::bind), naming the gateway and the type.
///
/// ```
/// use nestgate::prelude::*;
/// use std::sync::{Arc, Mutex};
///
/// /// A service: its methods lock inside, so handlers never hold a lock.
/// #[derive(Clone, Default)]
/// struct Notes(Arc<Mutex<Vec<String>>>);
///
/// impl Notes {
///     fn add(&self, note: String) -> usize {
///         let mut notes = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
///         notes.push(note);
///         notes.len()
///     }
/// }
///
/// #[websocket_gateway(path = "/notes")]
/// struct NotesGateway {
///     #[inject]
///     notes: Notes,
/// }
///
/// #[websocket_gateway]
/// impl NotesGateway {
///     #[subscribe_message("add")]
///     fn add(&self, Data(note): Data<String>) -> usize {
///         self.notes.add(note)
///     }
/// }
///
/// let app = nestgate::App::bare().provide(Notes::default()).gateway::<NotesGateway>();
/// ```
///
/// `#[derive(FromAppState)]` does the same for any struct (a service built from other services),
/// and the trait can be implemented by hand with [`require`].
pub trait FromAppState: Sized {
    /// Builds the gateway; an `Err` stops the app from starting.
    fn from_app_state(state: &AppState) -> crate::Result<Self>;
}

#[cfg(feature = "macros")]
pub use nestgate_macros::FromAppState;

impl<T: Default> FromAppState for T {
    fn from_app_state(_: &AppState) -> crate::Result<Self> {
        Ok(T::default())
    }
}

/// A clone of the provided state of type `T`, or [`Error::MissingState`] naming who needs it
/// (the gateway or provider being built).
pub fn require<T: Clone + Send + Sync + 'static>(
    state: &AppState,
    needed_by: &'static str,
) -> crate::Result<T> {
    state.get::<T>().ok_or(Error::MissingState {
        needed_by,
        type_name: std::any::type_name::<T>(),
    })
}

/// A complete gateway: what [`App::gateway`](crate::App::gateway) takes.
pub trait Gateway: GatewayMeta + GatewayHandlers + FromAppState {}

impl<G: GatewayMeta + GatewayHandlers + FromAppState> Gateway for G {}

/// One `#[subscribe_message]` handler of gateway `G`, as the macro builds it.
pub struct HandlerDef<G> {
    pub(crate) event: &'static str,
    pub(crate) method: &'static str,
    pub(crate) call: Box<dyn Fn(Arc<G>, Message) -> BoxFuture<'static, Reply> + Send + Sync>,
    pub(crate) guards: Vec<BoxedGuard>,
    /// Innermost first.
    pub(crate) layers: Vec<Wrap>,
    pub(crate) filters: Vec<BoxedFilter>,
    /// What the handler's extractors need from the app, checked when the app is built.
    pub(crate) needs: Needs,
}

impl<G: Send + Sync + 'static> HandlerDef<G> {
    /// A handler for `event`: `call` extracts the arguments from the message, calls the method
    /// named `method` and turns its return value into a [`Reply`].
    pub fn new<F, Fut>(event: &'static str, method: &'static str, call: F) -> Self
    where
        F: Fn(Arc<G>, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        HandlerDef {
            event,
            method,
            call: Box::new(move |gateway, message| Box::pin(call(gateway, message))),
            guards: Vec::new(),
            layers: Vec::new(),
            filters: Vec::new(),
            needs: Needs::default(),
        }
    }

    /// Declares what the handler's arguments need from the app (the macro calls each
    /// extractor's [`FromMessageParts::needs`](crate::extract::FromMessageParts::needs)), so that
    /// the app refuses to start without it.
    pub fn needs(mut self, declare: impl FnOnce(&mut Needs)) -> Self {
        declare(&mut self.needs);
        self
    }

    /// Adds a guard, run after the ones already added.
    pub fn guard<T: Guard>(mut self, guard: T) -> Self {
        self.guards.push(BoxedGuard::new(guard));
        self
    }

    /// Wraps the handler (and the layers already added) in a tower layer.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<HandlerService> + Send + Sync + 'static,
        L::Service: tower_service::Service<Message, Response = Reply> + Send + 'static,
        <L::Service as tower_service::Service<Message>>::Error: Into<BoxError>,
        <L::Service as tower_service::Service<Message>>::Future: Send + 'static,
    {
        self.layers.push(pipeline::wrap(layer));
        self
    }

    /// Adds an exception filter, tried after the ones already added.
    pub fn filter<E: Send + 'static, F: ExceptionFilter<E>>(mut self, filter: F) -> Self {
        self.filters.push(BoxedFilter::new(filter));
        self
    }

    /// The event this handler answers.
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// The method's name.
    pub fn method(&self) -> &'static str {
        self.method
    }
}

impl<G> std::fmt::Debug for HandlerDef<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerDef")
            .field("event", &self.event)
            .field("method", &self.method)
            .field("guards", &self.guards.len())
            .field("layers", &self.layers.len())
            .field("filters", &self.filters.len())
            .field("needs", &self.needs)
            .finish()
    }
}

/// A gateway in the `inventory` registry, submitted by `#[websocket_gateway(...)]` on the struct.
#[derive(Debug)]
pub struct GatewayRegistration {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
    pub(crate) type_id: fn() -> TypeId,
    pub(crate) build: fn(&AppState) -> crate::Result<BuiltGateway>,
}

impl GatewayRegistration {
    /// The registration of gateway `G`.
    pub const fn of<G: Gateway>() -> Self {
        GatewayRegistration {
            name: G::NAME,
            path: G::PATH,
            type_id: TypeId::of::<G>,
            build: build::<G>,
        }
    }

    /// The gateway's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The gateway's path.
    pub fn path(&self) -> &'static str {
        self.path
    }
}

inventory::collect!(GatewayRegistration);

/// Every gateway linked into the binary.
pub(crate) fn discovered() -> impl Iterator<Item = &'static GatewayRegistration> {
    inventory::iter::<GatewayRegistration>.into_iter()
}

fn build<G: Gateway>(state: &AppState) -> crate::Result<BuiltGateway> {
    Ok(pipeline::instance(Arc::new(G::from_app_state(state)?)))
}
