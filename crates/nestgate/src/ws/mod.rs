//! The ws-json transport: the HTTP handler of a gateway path (the checks before the upgrade,
//! then the socket and its driver), over nestgate's own WebSocket (`util::websocket`).

use crate::connection::{Inbound, Recovering, Transport, accept, serve};
use crate::guard::{HandshakeRejection, HandshakeRequest};
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::runtime::Runtime;
use crate::util::linger::LingerLimits;
use crate::util::websocket::{self, Upgrade, WebSocket};
use axum::extract::ws::Message;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use futures_util::{FutureExt as _, StreamExt as _};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a gateway route serves: one namespace, or the namespaces of a dynamic gateway's path.
#[derive(Clone)]
pub(crate) enum Target {
    Static(Arc<Namespace>),
    /// The index of the pattern in `Runtime::dynamic`: the namespace of the request's path is
    /// made (or found) only once the request has passed every check.
    Dynamic(usize),
}

/// The HTTP handler of a gateway path: checks the upgrade and starts the connection.
///
/// The checks run in order, cheapest first: the upgrade headers, the size of the request's
/// headers, the origin, the handshake guards. Only then is the namespace found (for a dynamic
/// path, made), so a request that fails any check leaves nothing behind.
pub(crate) async fn upgrade(runtime: Arc<Runtime>, target: Target, request: Request) -> Response {
    if runtime.shutdown.is_fired() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server shutting down").into_response();
    }
    let (mut parts, _body) = request.into_parts();
    let upgrade = match Upgrade::from_parts(&mut parts).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection,
    };
    let path = parts.uri.path();
    // Under `App::listen` hyper has refused larger heads already; this bounds what a socket
    // keeps when the app is served by another server (`App::into_router`).
    if crate::handshake::head_size(&parts.headers, &parts.uri)
        > runtime.config.admission.max_header_size
    {
        tracing::debug!(path, "handshake refused: request headers too large");
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request header fields too large",
        )
            .into_response();
    }
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let metrics = match &target {
        Target::Static(namespace) => namespace.metrics().clone(),
        Target::Dynamic(index) => runtime.dynamic[*index].1.metrics.clone(),
    };
    if !runtime.origins.allows(&parts.headers) {
        tracing::debug!(origin = ?parts.headers.get(axum::http::header::ORIGIN), path, "handshake refused: origin not allowed");
        metrics.rejected("origin");
        return HandshakeRejection::forbidden("origin not allowed").into_response();
    }
    let guards = match &target {
        Target::Static(namespace) => namespace.handshake_guards(),
        Target::Dynamic(index) => &runtime.dynamic[*index].1.handshake_guards,
    };
    let mut request = HandshakeRequest::new(
        Handshake::detached(&parts.headers, &parts.uri, remote_addr),
        Some(runtime.state.clone()),
    );
    let skip = skips_guards(&target, &parts);
    if let Err(rejection) = match skip {
        true => Ok(()),
        false => crate::guard::check_all(guards, &mut request).await,
    } {
        tracing::debug!(
            status = rejection.status().as_u16(),
            reason = rejection.message(),
            path,
            "handshake refused by a guard"
        );
        metrics.refused_by_guard(rejection.status().as_u16());
        return rejection.into_response();
    }
    let namespace = match target {
        Target::Static(namespace) => namespace,
        Target::Dynamic(_) => match runtime.namespace(path) {
            Some(namespace) => namespace,
            None => {
                metrics.rejected("too_many_namespaces");
                return (StatusCode::SERVICE_UNAVAILABLE, "too many namespaces").into_response();
            }
        },
    };
    let config = &runtime.config;
    let guard = runtime.connections.token();
    let ws_config = websocket::config(config.read_buffer_size, config.max_message_size);
    let linger = LingerLimits::new(config.linger_timeout, config.linger_bytes);
    // `map`, not an async block: the block would keep the connection's future twice over,
    // once as its capture and once as what it awaits.
    upgrade.on_upgrade(ws_config, linger, move |ws| {
        run(ws, request, runtime, namespace).map(move |()| drop(guard))
    })
}

/// A ws-json WebSocket connection. Not an `async fn`: its arguments are used up here, not kept
/// in the connection's future for its whole life (an idle connection's memory is a budget).
fn run(
    ws: WebSocket,
    request: HandshakeRequest,
    runtime: Arc<Runtime>,
    namespace: Arc<Namespace>,
) -> impl Future<Output = ()> + Send {
    let (sink, stream) = ws.split();
    let transport = |recovery| Transport {
        stream: stream.map(inbound),
        sink,
        heartbeat: true,
        close_handshake: true,
        rate_limit: true,
        writer_task: true,
        handoff: None,
        recovery,
        wire: crate::metrics::Wire::WsJson,
    };
    let Some(recovery) = namespace.recovery().cloned() else {
        let socket = accept(request, None, namespace.clone(), runtime.clone());
        return Either::Left(serve(socket, transport(None), runtime, namespace));
    };
    // Recovery: `?session=…&offset=…` (without an offset: from where the session was
    // registered). Boxed: only connections of a path with recovery carry the claim's future.
    Either::Right(Box::pin(async move {
        let session = request.query("session");
        let offset = request.query("offset");
        let attempt = recovery
            .attempt(session.as_deref(), offset.as_deref())
            .await;
        let recovering = Recovering::new(&recovery, attempt, true);
        let socket = accept(
            request,
            Some(&recovering),
            namespace.clone(),
            runtime.clone(),
        );
        serve(socket, transport(Some(recovering)), runtime, namespace).await
    }))
}

/// Whether a request may skip the handshake guards: it recovers a waiting session of a
/// static path whose recovery says so.
fn skips_guards(target: &Target, parts: &axum::http::request::Parts) -> bool {
    let Target::Static(namespace) = target else {
        return false;
    };
    let Some(recovery) = namespace.recovery() else {
        return false;
    };
    crate::handshake::query_param(&parts.uri, "session")
        .is_some_and(|session| recovery.skips_guards(&session))
}

/// A WebSocket message, as the connection driver reads it.
fn inbound(message: Result<Message, axum::Error>) -> Result<Inbound, axum::Error> {
    message.map(Inbound::Message)
}
