//! Turning an [`App`] into an axum `Router`: one upgrade route per gateway path, the Engine.IO
//! routes when Socket.IO is on, and the `Host` check ([`crate::host`]) in front of them all.

use super::App;
use crate::error::Result;
use crate::host::HostCheck;
use crate::server::Server;
use crate::ws;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;

impl App {
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
    pub(super) async fn into_router_at(mut self, bound: Option<SocketAddr>) -> Result<Router> {
        let routes = std::mem::take(&mut self.routes);
        let socket_io = self.socket_io.take();
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
                axum::middleware::from_fn_with_state((check.clone(), engine_io), check_host)
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
}

/// The middleware in front of every gateway route: refuses a request whose `Host` the check
/// does not allow (403). The state is the check, and whether the route is Engine.IO's.
async fn check_host(
    State((check, engine_io)): State<(Arc<HostCheck>, bool)>,
    request: Request,
    next: Next,
) -> Response {
    if check.allows(request.headers()) {
        return next.run(request).await;
    }
    tracing::debug!(host = ?request.headers().get(HOST), "request refused: host not allowed");
    host_refusal(engine_io)
}

/// The 403 for a refused host: Engine.IO's error body on the Engine.IO path, a plain one
/// elsewhere (as the origin check's).
fn host_refusal(engine_io: bool) -> Response {
    if engine_io {
        // engine.io's `abortRequest`: 403 and `{"code": 4 (FORBIDDEN), "message"}`.
        let json = HeaderValue::from_static("application/json");
        (
            StatusCode::FORBIDDEN,
            [(axum::http::header::CONTENT_TYPE, json)],
            r#"{"code":4,"message":"Host not allowed"}"#,
        )
            .into_response()
    } else {
        crate::handshake::HandshakeRejection::forbidden("host not allowed").into_response()
    }
}
