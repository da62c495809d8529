//! Engine.IO v4: the transport under Socket.IO — HTTP long-polling and WebSocket, the upgrade
//! from one to the other, server pings, `maxPayload`, session ids and CORS for polling.
//!
//! [`EngineIo`] serves one path (`/socket.io/` under Socket.IO) and hands each new session to a
//! callback as an [`EngineSocket`]: receive the client's messages, send yours, close. The
//! Socket.IO layer is built on it; it is public so that a raw Engine.IO endpoint can be served
//! too (the official Engine.IO test suite talks to one):
//!
//! ```no_run
//! use nestgate::engineio::{EngineConfig, EngineIo};
//!
//! // Echoes every message back to its sender.
//! let engine = EngineIo::new(EngineConfig::default(), |mut socket| async move {
//!     while let Some(message) = socket.recv().await {
//!         if socket.send(message).is_err() {
//!             break;
//!         }
//!     }
//! });
//! let router: axum::Router = engine.router("/engine.io/");
//! ```

mod config;
mod heartbeat;
mod packet;
mod polling;
mod session;
mod socket;
mod wakeup;
mod websocket;

pub use config::EngineConfig;
pub use packet::EngineMessage;
pub(crate) use packet::Packet;
pub(crate) use session::{Direct, Waiting};
pub use socket::{CloseReason, EngineSendError, EngineSender, EngineSocket};

/// The old name of [`EngineMessage`]: `nestgate::extract::Payload` is a message's data, and in
/// Engine.IO a "payload" is a polling body of several packets.
#[doc(hidden)]
#[deprecated(note = "renamed to `EngineMessage`")]
pub type Payload = EngineMessage;

/// The old name of [`EngineSendError`]: `nestgate::SendError` is a socket's.
#[doc(hidden)]
#[deprecated(note = "renamed to `EngineSendError`")]
pub type SendError = EngineSendError;

use crate::handshake::Handshake;
use crate::util::caps::{Caps, Permit, Refused};
use crate::util::linger::LingerLimits;
use crate::util::websocket::Upgrade;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ORIGIN,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use heartbeat::Heartbeats;
use session::Session;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// What an engine does with each new session.
enum OnConnect {
    /// Runs the application's task with the session's [`EngineSocket`] (the public API).
    Task(Arc<dyn Fn(EngineSocket) -> BoxFuture<'static, ()> + Send + Sync>),
    /// Makes a handler the transports give each message to where they read it (Socket.IO's).
    Direct(Box<MakeDirect>),
}

/// Makes a session's [`Direct`] handler from its sender and handshake.
pub(crate) type MakeDirect = dyn Fn(EngineSender, Handshake) -> Arc<dyn Direct> + Send + Sync;

/// An Engine.IO server: its sessions and what to do with each new one.
#[derive(Clone)]
pub struct EngineIo {
    inner: Arc<Engine>,
}

pub(crate) struct Engine {
    pub(crate) config: EngineConfig,
    sessions: DashMap<Arc<str>, Arc<Session>>,
    /// Every session's heartbeat (one task for all of them).
    heartbeats: Arc<Heartbeats>,
    /// The session caps (`max_sessions`, `max_sessions_per_ip`).
    admissions: Arc<Caps>,
    on_connect: OnConnect,
    /// Sessions by transport, and upgrades.
    pub(crate) metrics: crate::metrics::EngineMetrics,
}

impl std::fmt::Debug for EngineIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIo")
            .field("config", &self.inner.config)
            .field("sessions", &self.inner.sessions.len())
            .finish()
    }
}

impl EngineIo {
    /// An engine that runs `on_connect` (in a task of its own) for each new session.
    pub fn new<F, Fut>(config: EngineConfig, on_connect: F) -> Self
    where
        F: Fn(EngineSocket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        EngineIo {
            inner: Arc::new(Engine {
                admissions: Caps::new(Some(config.max_sessions), config.max_sessions_per_ip),
                heartbeats: Arc::new(Heartbeats::new(config.ping_interval, config.ping_timeout)),
                config,
                sessions: DashMap::new(),
                on_connect: OnConnect::Task(Arc::new(move |socket| Box::pin(on_connect(socket)))),
                metrics: crate::metrics::EngineMetrics::default(),
            }),
        }
    }

    /// An engine whose sessions give their messages to the handler `make` returns for each,
    /// in the task of the transport that read them: no queue and no task in between.
    pub(crate) fn direct(
        config: EngineConfig,
        make: Box<MakeDirect>,
        metrics: crate::metrics::EngineMetrics,
    ) -> Self {
        EngineIo {
            inner: Arc::new(Engine {
                admissions: Caps::new(Some(config.max_sessions), config.max_sessions_per_ip),
                heartbeats: Arc::new(Heartbeats::new(config.ping_interval, config.ping_timeout)),
                config,
                sessions: DashMap::new(),
                on_connect: OnConnect::Direct(make),
                metrics,
            }),
        }
    }

    /// The number of open sessions.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.len()
    }

    /// A new session's sender, as if a client had opened one (for unit tests).
    #[cfg(test)]
    pub(crate) fn test_session(&self) -> EngineSender {
        let admission = self
            .inner
            .admissions
            .admit(None)
            .expect("a unit test opens fewer sessions than the cap");
        let handshake = Handshake::detached(&HeaderMap::new(), &axum::http::Uri::default(), None);
        let session = self.inner.open(handshake, false, admission);
        EngineSender::of(session)
    }

    /// A router serving the engine at `path` (e.g. `/socket.io/`).
    pub fn router(&self, path: &str) -> Router {
        let engine = self.inner.clone();
        Router::new().route(
            path,
            axum::routing::any(move |request: Request| {
                let engine = engine.clone();
                async move { engine.handle(request).await }
            }),
        )
    }
}

/// The query parameters of an Engine.IO request.
struct Query {
    websocket: bool,
    sid: Option<String>,
}

fn parse_query(query: Option<&str>) -> Option<Query> {
    let (mut eio, mut transport, mut sid) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "EIO" => eio = Some(value.into_owned()),
            "transport" => transport = Some(value.into_owned()),
            "sid" => sid = Some(value.into_owned()),
            _ => {}
        }
    }
    if eio.as_deref() != Some("4") {
        return None;
    }
    let websocket = match transport.as_deref() {
        Some("polling") => false,
        Some("websocket") => true,
        _ => return None,
    };
    Some(Query { websocket, sid })
}

fn bad_request(message: &'static str) -> Response {
    refusal(StatusCode::BAD_REQUEST, 3, message)
}

/// engine.io's error answer: `{"code": n, "message"}` (its `abortRequest`).
fn refusal(status: StatusCode, code: u8, message: &'static str) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        format!(r#"{{"code":{code},"message":"{message}"}}"#),
    )
        .into_response()
}

/// Why a handshake was refused before a session was made.
#[derive(Debug)]
enum Refusal {
    /// Headers and URI over `max_handshake_bytes`.
    HeadTooLarge,
    /// A session cap.
    Capped(Refused),
}

impl Refusal {
    /// engine.io's answer: 403 with its FORBIDDEN code over polling (as when `allowRequest`
    /// refuses), 400 for a WebSocket (its `abortUpgrade`); the JSON body says why.
    fn response(self, websocket: bool) -> Response {
        let message = match self {
            Refusal::HeadTooLarge => {
                return refusal(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    3,
                    "Request header fields too large",
                );
            }
            Refusal::Capped(Refused::Total) => "Too many sessions",
            Refusal::Capped(Refused::PerIp) => "Too many sessions from this address",
        };
        let status = if websocket {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        refusal(status, 4, message)
    }
}

impl Engine {
    async fn handle(self: Arc<Self>, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        if !self.config.origins.allows(&parts.headers) {
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
        let cors = cors_headers(&parts.headers);
        if parts.method == Method::OPTIONS {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().extend(cors);
            return response;
        }
        let Some(query) = parse_query(parts.uri.query()) else {
            return bad_request("Bad request");
        };
        let remote_addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        let mut response = if query.websocket {
            let Ok(upgrade) = Upgrade::from_parts(&mut parts).await else {
                return bad_request("Bad request");
            };
            let ws_config = crate::util::websocket::config(
                self.config.read_buffer_size,
                self.config.max_payload,
            );
            // What a closed WebSocket still reads of its client, as after its close frame.
            let linger = LingerLimits::new(websocket::CLOSE_GRACE, self.config.max_payload);
            match query.sid {
                None => {
                    let (handshake, admission) = match self.admit(&parts, remote_addr) {
                        Ok(admitted) => admitted,
                        Err(refused) => return refused.response(true),
                    };
                    let engine = self.clone();
                    // The connection's future, made here: an async block would keep `ws`
                    // and the rest as captures beside it for the connection's lifetime.
                    upgrade.on_upgrade(ws_config, linger, move |ws| {
                        let session = engine.open(handshake, true, admission);
                        websocket::run(engine, session, ws, true)
                    })
                }
                Some(sid) => {
                    let Some(session) = self.live(&sid) else {
                        return bad_request("Session ID unknown");
                    };
                    let engine = self.clone();
                    let accepted = session.begin_upgrade();
                    upgrade.on_upgrade(ws_config, linger, move |ws| {
                        websocket::upgrade(engine, session, ws, accepted)
                    })
                }
            }
        } else {
            match (parts.method.clone(), query.sid) {
                (Method::GET, None) => match self.admit(&parts, remote_addr) {
                    Ok((handshake, admission)) => {
                        let session = self.open(handshake, false, admission);
                        let mut open = String::new();
                        Packet::Open(self.open_json(&session, true)).encode_text(&mut open);
                        text(open)
                    }
                    Err(refused) => refused.response(false),
                },
                (Method::GET, Some(sid)) => match self.live(&sid) {
                    Some(session) => session.poll().await,
                    None => bad_request("Session ID unknown"),
                },
                (Method::POST, Some(sid)) => match self.live(&sid) {
                    Some(session) => self.post(&session, &parts.headers, body).await,
                    None => bad_request("Session ID unknown"),
                },
                _ => bad_request("Bad handshake method"),
            }
        };
        response.headers_mut().extend(cors);
        response
    }

    /// Checks a handshake against the caps (sessions, sessions per address, handshake
    /// bytes) before anything is allocated for it; the copy of its request it may keep.
    fn admit(
        &self,
        parts: &axum::http::request::Parts,
        remote_addr: Option<SocketAddr>,
    ) -> Result<(Handshake, Permit), Refusal> {
        if crate::handshake::head_size(&parts.headers, &parts.uri) > self.config.max_handshake_bytes
        {
            return Err(Refusal::HeadTooLarge);
        }
        let admission = self
            .admissions
            .admit(remote_addr.map(|addr| addr.ip()))
            .map_err(|refused| {
                tracing::debug!(?refused, "Engine.IO handshake refused");
                Refusal::Capped(refused)
            })?;
        Ok((
            Handshake::detached(&parts.headers, &parts.uri, remote_addr),
            admission,
        ))
    }

    /// A polling POST: its body (bounded in bytes and time), then its packets.
    async fn post(&self, session: &Arc<Session>, headers: &HeaderMap, body: Body) -> Response {
        let Some(_posting) = session.begin_post() else {
            return bad_request("data request overlap from client");
        };
        let (limit, timeout) = (self.config.max_payload, self.config.post_timeout);
        // One deadline for the whole POST: its body, then its messages taken by the
        // application (which waits while it is behind, or past `App::max_messages_per_second`).
        let deadline = tokio::time::Instant::now() + timeout;
        match polling::read_body(headers, body, limit, timeout).await {
            Ok(bytes) => session.push(&bytes, deadline).await,
            Err(error) => {
                tracing::debug!(sid = %session.sid, ?error, "Engine.IO POST body refused");
                polling::refuse_body(session, &error)
            }
        }
    }

    /// Creates a session and starts the application's task for it.
    fn open(
        self: &Arc<Self>,
        handshake: Handshake,
        websocket: bool,
        admission: Permit,
    ) -> Arc<Session> {
        let session = match &self.on_connect {
            OnConnect::Task(on_connect) => {
                let (session, socket) = Session::new(self.clone(), handshake, websocket, admission);
                tokio::spawn(on_connect(socket));
                session
            }
            OnConnect::Direct(make) => {
                Session::direct(self.clone(), handshake, websocket, admission, &**make)
            }
        };
        self.sessions.insert(session.sid.clone(), session.clone());
        self.metrics.opened(websocket);
        session.start_heartbeat();
        session
    }

    /// The open packet's JSON.
    pub(crate) fn open_json(&self, session: &Session, polling: bool) -> String {
        let upgrades = if polling { r#"["websocket"]"# } else { "[]" };
        format!(
            r#"{{"sid":"{}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            session.sid,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
        )
    }

    /// The session `sid`, unless it is gone or has missed its pong.
    fn live(&self, sid: &str) -> Option<Arc<Session>> {
        let session = self.sessions.get(sid).map(|session| session.clone())?;
        (!session.expired()).then_some(session)
    }

    pub(crate) fn remove(&self, sid: &str) {
        if let Some((_, session)) = self.sessions.remove(sid) {
            self.metrics.closed(session.on_websocket());
        }
    }
}

/// CORS headers for an allowed origin (the origin check has already run).
fn cors_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(origin) = headers.get(ORIGIN) {
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        out.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        out.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
    }
    out
}

pub(crate) fn text(body: String) -> Response {
    (
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=UTF-8"),
        )],
        body,
    )
        .into_response()
}

/// Parses `data` as a polling payload and as one packet (see `__internals::fuzz_protocols`).
pub(crate) fn fuzz(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(packets) = Packet::decode_payload(text) {
            let _ = Packet::encode_payload(&packets);
        }
        let _ = Packet::decode_text(text);
    }
}
