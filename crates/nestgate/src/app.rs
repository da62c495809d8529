//! [`App`]: gathers gateways and state, then serves them or hands out an axum `Router`.

use crate::adapter::{AdapterBuilder, LocalAdapter, LocalStore};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::filter::{BoxedFilter, ExceptionFilter};
use crate::gateway::{self, Gateway, GatewayHandlers, GatewayMeta};
use crate::guard::{BoxedGuard, BoxedHandshakeGuard, Guard, HandshakeGuard, OriginPolicy};
use crate::handler::pipeline::{self, BuiltGateway};
use crate::handler::{GatewayHooks, Route};
use crate::namespace::{Namespace, Template};
use crate::pattern::Pattern;
use crate::runtime::Runtime;
use crate::server::Server;
use crate::state::AppState;
use crate::util::signal::Signal;
use crate::ws;
use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use std::any::TypeId;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::task::TaskTracker;

mod limits;

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
    gateways: Vec<Pending>,
    config: Config,
    handle: AppHandle,
    pipeline: Pipeline,
}

/// What the app adds around every gateway: guards, filters, the origin check.
#[derive(Default)]
struct Pipeline {
    handshake_guards: Vec<BoxedHandshakeGuard>,
    guards: Vec<BoxedGuard>,
    filters: Vec<BoxedFilter>,
    origins: OriginPolicy,
    socket_io: Option<crate::socketio::SocketIoConfig>,
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
            gateways: Vec::new(),
            config: Config::default(),
            handle: AppHandle::new(),
            pipeline: Pipeline::default(),
        }
    }

    /// Adds a handshake guard for every path: it runs on each upgrade request, before the
    /// gateways' own (`handshake_guards(...)` on a gateway struct), and a rejection answers
    /// the HTTP status before any socket exists. See [`guard`](crate::guard).
    pub fn handshake_guard(mut self, guard: impl HandshakeGuard) -> Self {
        self.pipeline
            .handshake_guards
            .push(BoxedHandshakeGuard::new(guard));
        self
    }

    /// Adds a message guard for every handler, run before the gateways' and handlers' own (as
    /// NestJS's `useGlobalGuards`).
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.pipeline.guards.push(BoxedGuard::new(guard));
        self
    }

    /// Adds an exception filter for every handler and connection hook, tried after the
    /// handlers' and gateways' own (as NestJS's `useGlobalFilters`); it also sees the errors of
    /// frames that reach no handler (malformed JSON, unknown events). See
    /// [`filter`](crate::filter).
    pub fn exception_filter<E: Send + 'static>(mut self, filter: impl ExceptionFilter<E>) -> Self {
        self.pipeline.filters.push(BoxedFilter::new(filter));
        self
    }

    /// Which browser origins may connect; the default, [`OriginPolicy::SameHost`], lets a page
    /// connect to the host that served it, and any client that sends no `Origin` (non-browser).
    ///
    /// ```
    /// use nestgate::guard::OriginPolicy;
    ///
    /// let app = nestgate::App::bare().origins(OriginPolicy::AllowList(vec![
    ///     "https://app.example.com".into(),
    /// ]));
    /// ```
    pub fn origins(mut self, policy: OriginPolicy) -> Self {
        self.pipeline.origins = policy;
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
        self.pipeline.socket_io = Some(config);
        self
    }

    /// Provides shared state, extracted by handlers with [`State<T>`](crate::extract::State) and
    /// read by gateways built with [`FromAppState`](crate::gateway::FromAppState). One value per
    /// type; a second value of the same type replaces the first.
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
        let built = pipeline::instance(Arc::new(gateway));
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
        self
    }

    /// How long `emit_with_ack` waits for a client's answer by default (default 5 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// How long before a socket's token expires the server asks the client for a fresh one
    /// (default 30 s; never before half the time left has passed). Only sockets whose handshake
    /// guard set an expiry ([`HandshakeRequest::expires_at`](crate::guard::HandshakeRequest::expires_at))
    /// are asked; see [`refresh`](crate::refresh).
    pub fn token_refresh(mut self, lead: Duration) -> Self {
        self.config.refresh_lead = lead;
        self
    }

    /// The largest message a client may send, in bytes (default 1 MiB). A larger one closes the
    /// connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// How many frames may wait for one client (default 1024). A client whose queue is full is
    /// closed with 1013 as a slow consumer; nobody else waits for it.
    pub fn outbound_queue(mut self, frames: usize) -> Self {
        self.config.outbound_queue = frames.max(1);
        self
    }

    /// How long, and for how many bytes at most, a ws-json connection that the server closed
    /// keeps reading (and discarding) what its client still sends (defaults: 2 s, 64 MiB).
    ///
    /// A server that drops a connection while the client is still sending (the rest of an
    /// oversized message, a flood) makes the kernel answer with a TCP reset, and the client then
    /// loses the close frame it had not read yet: it sees 1006 instead of 1009, 1013, 1008 or
    /// 1001. So after its close frame the server half-closes the connection and drains it until
    /// the client closes its side or one of these limits is reached; then it drops it. A zero
    /// timeout drops it at once, as before this setting existed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let app = nestgate::App::new().lingering_close(Duration::from_secs(5), 256 * 1024 * 1024);
    /// # drop(app);
    /// ```
    pub fn lingering_close(mut self, timeout: Duration, max_bytes: usize) -> Self {
        self.config.linger_timeout = timeout;
        self.config.linger_bytes = max_bytes;
        self
    }

    /// How many payload bytes may wait for one client (default 16 MiB), beside
    /// [`outbound_queue`](App::outbound_queue)'s frame count: a client whose queued frames would
    /// exceed it is closed with 1013 as a slow consumer. A single frame larger than this is still
    /// queued when nothing else is, so one large emit does not by itself close a client.
    ///
    /// The default holds 16 messages of the default [`max_message_size`](App::max_message_size)
    /// (an echo of each), and bounds what one client that stops reading can pin to 16 MiB rather
    /// than 1,024 frames of any size.
    ///
    /// ```
    /// let app = nestgate::App::new().outbound_queue_bytes(4 * 1024 * 1024);
    /// # drop(app);
    /// ```
    pub fn outbound_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.outbound_queue_bytes = bytes.max(1);
        self
    }

    /// How many messages one ws-json connection, or one Socket.IO (Engine.IO) session, may send
    /// per second on average (default 100), and at once after a quiet period (`burst`, default
    /// 200). Past it the connection's reading pauses until the next message is due: the client
    /// is slowed down by backpressure, not answered with an error or closed. On ws-json every
    /// frame counts (text, binary, ping); on Socket.IO every packet (EVENT, ACK, CONNECT, …,
    /// binary attachments going with their packet) of all the session's namespaces together,
    /// while Engine.IO's pings, pongs and upgrade are never held back: a paused client is not
    /// closed for a ping timeout. A polling POST is held while its messages wait, at most
    /// [`EngineConfig::post_timeout`](crate::engineio::EngineConfig::post_timeout).
    ///
    /// This is what keeps one client that floods a fan-out event (`server.emit` of what it
    /// sends) from filling every other client's outbound queue: each recipient then gets at
    /// most this rate from it. Turn it off with [`App::without_message_rate_limit`] (for both
    /// protocols) where clients are trusted or a layer limits them (the benchmarks' echo
    /// server does).
    ///
    /// ```
    /// // A game: 60 position updates per second and some room for bursts.
    /// let app = nestgate::App::new().max_messages_per_second(120, 240);
    /// # drop(app);
    /// ```
    pub fn max_messages_per_second(mut self, per_second: u32, burst: u32) -> Self {
        self.config.message_rate = Some(crate::util::rate::Rate {
            per_second: per_second.max(1),
            burst: burst.max(1),
        });
        self
    }

    /// Removes the inbound message rate limit (see [`App::max_messages_per_second`]), for
    /// ws-json connections and Socket.IO sessions alike.
    ///
    /// ```
    /// let app = nestgate::App::new().without_message_rate_limit();
    /// # drop(app);
    /// ```
    pub fn without_message_rate_limit(mut self) -> Self {
        self.config.message_rate = None;
        self
    }

    /// How many handlers of one connection may run at once (default 128); past it, the
    /// connection's reading pauses until one finishes.
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.config.max_in_flight = handlers.max(1);
        self
    }

    /// Pings a client idle for `interval` and closes it (1008, "heartbeat timeout") when it has
    /// not answered within `timeout` (defaults 25 s and 20 s).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.ping_interval = interval;
        self.config.ping_timeout = timeout;
        self
    }

    /// How long running handlers get to finish at shutdown before the sockets close with 1001
    /// (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// The WebSocket read buffer of each connection (default 2 KiB).
    ///
    /// It is allocated for every connection, idle or not, and is the largest part of an idle
    /// connection's memory; a larger message only takes more reads. Raise it for clients that
    /// mostly send large messages.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.read_buffer_size = bytes;
        self
    }

    /// How long a new connection has to send its HTTP request head before it is closed
    /// (default 10 s), so that idle TCP connections cannot pile up. Applies under
    /// [`App::listen`] and [`App::bind`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// A handle to shut the app down and to reach its [`Server`]s from outside any handler.
    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    /// Builds the gateways, runs their `#[after_init]` hooks, and returns a `Router` serving
    /// each gateway path, to merge into an existing axum app.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` for
    /// [`Handshake::remote_addr`](crate::Handshake::remote_addr), and set `TCP_NODELAY` on
    /// accepted sockets (see [`App::listen`], which does both).
    ///
    /// ```no_run
    /// # async fn run() -> nestgate::Result<()> {
    /// use axum::routing::get;
    ///
    /// let app = nestgate::App::new();
    /// let router = axum::Router::new()
    ///     .route("/health", get(|| async { "ok" }))
    ///     .merge(app.into_router().await?);
    /// # Ok(()) }
    /// ```
    pub async fn into_router(self) -> Result<Router> {
        self.into_router_at(None).await
    }

    /// [`App::into_router`] for an app bound to `bound` (under [`App::bind`]), which decides
    /// whether the `Host` check applies by default.
    async fn into_router_at(mut self, bound: Option<SocketAddr>) -> Result<Router> {
        let routes = std::mem::take(&mut self.routes);
        let socket_io = self.pipeline.socket_io.take();
        let hosts = self.config.admission.hosts.resolve(bound);
        let runtime = self.build()?;
        let mut gateways = Router::new();
        for (index, (pattern, _)) in runtime.dynamic.iter().enumerate() {
            // One route per dynamic path; the namespace of the concrete path is made once the
            // request has passed its checks.
            let runtime_for_route = runtime.clone();
            let handler = move |request: Request| {
                ws::upgrade(
                    runtime_for_route.clone(),
                    ws::Target::Dynamic(index),
                    request,
                )
            };
            gateways = gateways.route(pattern.path(), get(handler));
        }
        for namespace in runtime.namespaces.values() {
            let (runtime_for_route, target) =
                (runtime.clone(), ws::Target::Static(namespace.clone()));
            let handler = move |request: Request| {
                ws::upgrade(runtime_for_route.clone(), target.clone(), request)
            };
            gateways = gateways.route(namespace.path(), get(handler));
            for hooks in namespace.hooks() {
                hooks
                    .after_init(Server::new(namespace.clone(), runtime.clone()))
                    .await;
            }
        }
        let mut engine_io = socket_io
            .map(|config| crate::socketio::engine(runtime.clone(), &config).router(&config.path));
        if let Some(check) = hosts {
            // Before anything else a gateway route does, the origin check included.
            let check = Arc::new(check);
            let layer = |engine_io| {
                axum::middleware::from_fn_with_state((check.clone(), engine_io), crate::host::check)
            };
            if !(runtime.dynamic.is_empty() && runtime.namespaces.is_empty()) {
                gateways = gateways.route_layer(layer(false));
            }
            engine_io = engine_io.map(|router| router.route_layer(layer(true)));
        }
        let mut router = routes.merge(gateways);
        if let Some(engine_io) = engine_io {
            router = router.merge(engine_io);
        }
        Ok(router)
    }

    /// Binds `addr` and builds the app; [`Listening::run`] then serves it.
    pub async fn bind(self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<Listening> {
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr()?;
        let handle = self.handle.clone();
        let admission = &self.config.admission;
        let settings = crate::serve::ServeSettings {
            handshake_timeout: self.config.handshake_timeout,
            max_header_size: admission.max_header_size,
            // Nothing to count when neither cap is set.
            limits: (admission.max_connections.is_some()
                || admission.max_connections_per_ip.is_some())
            .then(|| {
                crate::util::caps::Caps::new(
                    admission.max_connections,
                    admission.max_connections_per_ip,
                )
            }),
        };
        let router = self.into_router_at(Some(local_addr)).await?;
        Ok(Listening {
            listener,
            local_addr,
            router,
            handle,
            settings,
        })
    }

    /// Serves the app on `addr` until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn listen(self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<()> {
        let listening = self.bind(addr).await?;
        tracing::info!(addr = %listening.local_addr(), "nestgate listening");
        listening.run().await
    }

    /// Builds the runtime for in-process tests (`#[after_init]` hooks do not run).
    #[cfg(feature = "testing")]
    pub(crate) fn build_for_tests(self) -> Result<Arc<Runtime>> {
        self.build()
    }

    /// Builds every gateway and the namespaces, checking for duplicate events.
    fn build(self) -> Result<Arc<Runtime>> {
        let App {
            discover,
            state,
            gateways: explicit,
            config,
            handle,
            routes: _,
            adapter: adapter_builder,
            pipeline,
        } = self;
        let mut seen: Vec<TypeId> = Vec::new();
        let mut built = Vec::new();
        for pending in explicit {
            let type_id = pending.type_id();
            if seen.contains(&type_id) {
                let name = match &pending {
                    Pending::Type { name, .. } => name,
                    Pending::Instance { built, .. } => &built.name,
                };
                return Err(Error::DuplicateGateway(name));
            }
            seen.push(type_id);
            built.push(match pending {
                Pending::Type { build, .. } => build(&state)?,
                Pending::Instance { built, .. } => built,
            });
        }
        if discover {
            for registration in gateway::discovered() {
                if !seen.contains(&(registration.type_id)()) {
                    built.push((registration.build)(&state)?);
                }
            }
        }
        // inventory's order is unspecified: sort so that hooks run in a stable order.
        built.sort_by(|a, b| (a.path, a.name).cmp(&(b.path, b.name)));

        let mut paths: Vec<PathEntry> = Vec::new();
        for gateway in built {
            if paths.last().is_none_or(|entry| entry.path != gateway.path) {
                paths.push(PathEntry {
                    path: gateway.path,
                    routes: HashMap::new(),
                    hooks: Vec::new(),
                    handshake_guards: pipeline.handshake_guards.clone(),
                });
            }
            let Some(PathEntry {
                path,
                routes,
                hooks,
                handshake_guards,
            }) = paths.last_mut()
            else {
                unreachable!("an entry for this path was pushed just above")
            };
            handshake_guards.extend(gateway.handshake_guards);
            for mut route in gateway.routes {
                if !pipeline.guards.is_empty() {
                    route.call =
                        crate::handler::pipeline::guarded(pipeline.guards.clone(), route.call);
                }
                match routes.entry(route.event) {
                    Entry::Occupied(first) => {
                        return Err(Error::DuplicateEvent {
                            event: route.event.to_owned(),
                            path: (*path).to_owned(),
                            first: first.get().handler_name.clone(),
                            second: route.handler_name,
                        });
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(route);
                    }
                }
            }
            hooks.push(gateway.hooks);
        }
        let mut namespaces = HashMap::new();
        let mut dynamic = Vec::new();
        for mut entry in paths {
            if !entry.handshake_guards.is_empty() {
                // Tokens the guards check may expire: the refresh event is answered on this path.
                let refresh = crate::refresh::route();
                if let Some(taken) = entry.routes.get(refresh.event) {
                    return Err(Error::DuplicateEvent {
                        event: refresh.event.to_owned(),
                        path: entry.path.to_owned(),
                        first: refresh.handler_name,
                        second: taken.handler_name.clone(),
                    });
                }
                entry.routes.insert(refresh.event, refresh);
            }
            let template = Template {
                routes: Arc::new(entry.routes),
                hooks: entry.hooks,
                handshake_guards: entry.handshake_guards,
            };
            if let Some(pattern) = Pattern::parse(entry.path) {
                dynamic.push((pattern, template));
                continue;
            }
            let store = Arc::new(LocalStore::new(entry.path));
            let adapter = adapter_builder.build(entry.path, store);
            let namespace = Namespace::new(entry.path, template, adapter);
            namespaces.insert(entry.path.into(), Arc::new(namespace));
        }
        let runtime = Arc::new(Runtime {
            namespaces,
            dynamic,
            children: Arc::default(),
            adapter_builder,
            state: Arc::new(state),
            config,
            shutdown: handle.shutdown.clone(),
            connections: handle.connections.clone(),
            last_ack_id: AtomicU64::new(0),
            filters: pipeline.filters,
            origins: pipeline.origins,
        });
        let _ = handle.runtime.set(runtime.clone());
        Ok(runtime)
    }
}

/// The gateways of one path while the namespaces are assembled.
struct PathEntry {
    path: &'static str,
    routes: HashMap<&'static str, Route>,
    hooks: Vec<Arc<dyn GatewayHooks>>,
    handshake_guards: Vec<BoxedHandshakeGuard>,
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

/// A handle to a running app: shut it down, or reach a gateway path's [`Server`] from an axum
/// route or a background task.
#[derive(Clone)]
pub struct AppHandle {
    shutdown: Arc<Signal>,
    connections: TaskTracker,
    runtime: Arc<OnceLock<Arc<Runtime>>>,
}

impl AppHandle {
    fn new() -> Self {
        AppHandle {
            shutdown: Arc::default(),
            connections: TaskTracker::new(),
            runtime: Arc::new(OnceLock::new()),
        }
    }

    /// Starts a graceful shutdown: no new clients; running handlers get the shutdown timeout to
    /// answer; every socket then closes with 1001.
    pub fn shutdown(&self) {
        self.shutdown.fire();
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_fired()
    }

    /// Waits until every connection has ended (after [`AppHandle::shutdown`]).
    pub async fn wait_closed(&self) {
        self.connections.close();
        self.connections.wait().await;
    }

    /// How many connections are open: HTTP connections and WebSocket sessions (an upgraded
    /// connection counts once for each until its HTTP side is done).
    pub fn active_connections(&self) -> usize {
        self.connections.len()
    }

    /// How many namespaces dynamic gateways (`path = "/tenant/{id}"`) have made and are still
    /// in use (see [`App::max_dynamic_namespaces`]).
    pub fn dynamic_namespaces(&self) -> usize {
        self.runtime
            .get()
            .map_or(0, |runtime| runtime.dynamic_namespaces())
    }

    /// The server of a gateway path, once the app is built. For a dynamic gateway's path the
    /// namespace is made if needed, and kept while the returned `Server` (or a clone) is.
    pub fn server(&self, path: &str) -> Option<Server> {
        let runtime = self.runtime.get()?;
        let namespace = runtime.namespace(path)?;
        Some(Server::new(namespace, runtime.clone()))
    }
}

impl std::fmt::Debug for AppHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppHandle")
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

/// A bound, built app, ready to serve: see [`App::bind`].
#[derive(Debug)]
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    handle: AppHandle,
    settings: crate::serve::ServeSettings,
}

impl Listening {
    /// The address the app listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to shut the app down.
    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    /// Serves until Ctrl-C or SIGTERM (or [`AppHandle::shutdown`]), then shuts down gracefully.
    pub async fn run(self) -> Result<()> {
        self.run_until(termination()).await
    }

    /// Serves until `signal` completes (or [`AppHandle::shutdown`]), then shuts down gracefully:
    /// stops accepting, lets running handlers finish within the shutdown timeout, closes every
    /// socket with 1001 and waits for the connections to end.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Listening {
            listener,
            router,
            handle,
            settings,
            ..
        } = self;
        let token = handle.shutdown.clone();
        let stop = async move {
            tokio::select! {
                () = signal => {}
                () = token.fired() => {}
            }
            token.fire();
        };
        let accepting = crate::serve::serve(
            listener,
            router,
            settings,
            handle.shutdown.clone(),
            handle.connections.clone(),
        );
        tokio::join!(stop, accepting);
        handle.wait_closed().await;
        Ok(())
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn termination() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
