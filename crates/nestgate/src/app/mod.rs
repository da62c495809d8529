//! [`App`]: gathers gateways and state, then serves them or hands out an axum `Router`.
//!
//! The builder is here (its struct, gateways, state, merged routes, the wire modes); its other
//! methods are grouped by what they set: [`pipeline`] (guards, filters, origins), [`settings`]
//! (per-connection limits and timings), [`limits`] (admission). [`build`] turns it into the
//! runtime, [`router`] into the axum `Router`, [`handle`] holds what a running app hands out,
//! and [`serve`] is the accept loop of [`App::listen`].

use crate::adapter::{AdapterBuilder, LocalAdapter};
use crate::config::Config;
use crate::error::Result;
use crate::gateway::{self, Gateway, GatewayHandlers, GatewayMeta};
use crate::handler::pipeline::BuiltGateway;
use crate::state::AppState;
use axum::Router;
use std::any::TypeId;
use std::sync::Arc;

mod build;
mod handle;
mod limits;
mod pipeline;
mod providers;
mod router;
mod serve;
mod settings;

pub use handle::{AppHandle, Listening};
use pipeline::Pipeline;

/// A nestgate application: its gateways, state and limits.
///
/// [`App::new`] discovers every gateway linked into the binary; [`App::bare`] discovers none,
/// for tests and for explicit registration with [`App::gateway`].
///
/// ```no_run
/// use nestgate::prelude::*;
///
/// #[websocket_gateway(path = "/echo")]
/// #[derive(Default)]
/// struct Echo;
///
/// #[websocket_gateway]
/// impl Echo {
///     #[subscribe_message("echo")]
///     fn echo(&self, Data(value): Data<serde_json::Value>) -> WsResponse<serde_json::Value> {
///         WsResponse::new("echo", value)
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> nestgate::Result<()> {
///     nestgate::App::new().listen("127.0.0.1:3000").await
/// }
/// ```
pub struct App {
    discover: bool,
    adapter: Box<dyn AdapterBuilder>,
    routes: Router,
    state: AppState,
    providers: Vec<providers::Provider>,
    gateways: Vec<Pending>,
    config: Config,
    handle: AppHandle,
    pipeline: Pipeline,
    /// Set by [`App::socket_io`]: Socket.IO is served beside ws-json.
    socket_io: Option<crate::socketio::SocketIoConfig>,
    /// Set by [`App::adapter`]: not the in-memory default.
    custom_adapter: bool,
}

/// A gateway registered explicitly, not yet built.
enum Pending {
    Type {
        name: &'static str,
        type_id: TypeId,
        build: fn(&AppState) -> Result<BuiltGateway>,
    },
    Instance {
        type_id: TypeId,
        built: BuiltGateway,
    },
}

impl Pending {
    fn type_id(&self) -> TypeId {
        match self {
            Pending::Type { type_id, .. } | Pending::Instance { type_id, .. } => *type_id,
        }
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// An app with every gateway linked into the binary (registered by `#[websocket_gateway]`).
    pub fn new() -> Self {
        App {
            discover: true,
            ..App::bare()
        }
    }

    /// An app with no gateways but those added with [`App::gateway`]: what tests want, since a
    /// test binary links the gateways of every test file.
    pub fn bare() -> Self {
        App {
            discover: false,
            adapter: Box::new(LocalAdapter::builder()),
            routes: Router::new(),
            state: AppState::default(),
            providers: Vec::new(),
            gateways: Vec::new(),
            config: Config::default(),
            handle: AppHandle::new(),
            pipeline: Pipeline::default(),
            socket_io: None,
            custom_adapter: false,
        }
    }

    /// Provides shared state, extracted by handlers with [`State<T>`](crate::extract::State) and
    /// read by gateways built with [`FromAppState`](crate::gateway::FromAppState) (their
    /// `#[inject]` fields). One value per type; a second value of the same type replaces the
    /// first. A value built from other state is an [`App::provider`].
    pub fn provide<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Registers gateway `G`, built from the provided state when the app starts. With
    /// [`App::new`], a gateway both discovered and registered here is served once.
    pub fn gateway<G: Gateway>(mut self) -> Self {
        let build = gateway::GatewayRegistration::of::<G>().build;
        self.gateways.push(Pending::Type {
            name: G::NAME,
            type_id: TypeId::of::<G>(),
            build,
        });
        self
    }

    /// Registers an already built gateway instance.
    pub fn gateway_instance<G: GatewayMeta + GatewayHandlers>(mut self, gateway: G) -> Self {
        let built = crate::handler::pipeline::instance(Arc::new(gateway));
        self.gateways.push(Pending::Instance {
            type_id: TypeId::of::<G>(),
            built,
        });
        self
    }

    /// Serves these HTTP routes beside the gateways (a page, a health check, a REST API).
    ///
    /// ```
    /// use axum::routing::get;
    ///
    /// let app = nestgate::App::new().merge(axum::Router::new().route("/health", get(|| async { "ok" })));
    /// ```
    pub fn merge(mut self, routes: Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Sets the adapter that holds rooms and carries broadcasts and queries (default:
    /// [`LocalAdapter`], this process only). A cluster adapter makes several processes one server.
    pub fn adapter(mut self, builder: impl AdapterBuilder) -> Self {
        self.adapter = Box::new(builder);
        self.custom_adapter = true;
        self
    }

    /// Also serves every gateway to Socket.IO v5 clients (Engine.IO v4 at `/socket.io/`, each
    /// gateway path a namespace), beside ws-json. See [`socketio`](crate::socketio).
    ///
    /// ```
    /// use nestgate::socketio::SocketIoConfig;
    ///
    /// let app = nestgate::App::new().socket_io(SocketIoConfig::default());
    /// ```
    pub fn socket_io(mut self, config: crate::socketio::SocketIoConfig) -> Self {
        self.socket_io = Some(config);
        self
    }

    /// A handle to shut the app down and to reach its [`Server`](crate::Server)s from outside any
    /// handler.
    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("discover", &self.discover)
            .field("gateways", &self.gateways.len())
            .field("config", &self.config)
            .finish()
    }
}
