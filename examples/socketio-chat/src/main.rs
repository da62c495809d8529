//! A chat served to socket.io and ws-json clients at once, on one gateway.
//!
//! - socket.io: `io("http://127.0.0.1:3000/chat", { auth: { name: "ann" } })` (the page at `/`
//!   uses the real socket.io client); ws-json: `ws://127.0.0.1:3000/chat?name=bob`.
//! - `join` (a room name; acknowledged with the room), `message` (`{room, text}` → everyone in
//!   the room, both protocols), `whoami`, `file` (bytes → everyone in the room, acknowledged
//!   with their length).
//! - No name → the connection is refused: CONNECT_ERROR `name required` for socket.io, HTTP 401
//!   for ws-json.
//!
//! - `RECOVERY=1` turns connection-state recovery on: a socket.io client (with its
//!   `connectionStateRecovery` handling, built in since 4.6) or a ws-json client that loses
//!   its connection comes back within 2 minutes to its rooms and every message it missed.
//! - `ADMIN_PASSWORD` (and `ADMIN_USERNAME`, default `admin`) serves the Socket.IO Admin UI's
//!   protocol on `/admin` (`App::admin_ui`).
//! - `REDIS_URL` makes it a node of a cluster on that Redis (`REDIS_PREFIX`, default
//!   `socketio-chat`): rooms and messages span the nodes, and with `RECOVERY=1` a client lost by
//!   one node recovers on another.
//!
//! `cargo run -p socketio-chat`, then open http://127.0.0.1:3000.

use axum::response::Html;
use nestgate::extract::{Binary, Extension};
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use serde::{Deserialize, Serialize};

/// Who is connected: from the socket.io `auth` payload, or the ws-json `name` query parameter.
#[derive(Debug, Clone)]
pub struct Name(pub String);

/// Requires a name of 1 to 32 characters.
#[derive(Debug, Clone, Copy)]
pub struct NameGuard;

impl HandshakeGuard for NameGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let name = request
            .auth()
            .and_then(|auth| auth.get("name"))
            .and_then(|name| name.as_str())
            .map(str::to_owned)
            .or_else(|| request.query("name"))
            .filter(|name| (1..=32).contains(&name.chars().count()))
            .ok_or_else(|| HandshakeRejection::unauthorized("name required"))?;
        request.insert(Name(name));
        Ok(())
    }
}

/// A chat line.
#[derive(Debug, Deserialize)]
pub struct Say {
    room: String,
    text: String,
}

/// A chat line as the room receives it.
#[derive(Debug, Serialize)]
struct Said<'a> {
    from: &'a str,
    text: &'a str,
}

/// A file as the room receives it.
#[derive(Debug, Serialize)]
struct Shared<'a> {
    from: &'a str,
    content: &'a Binary,
}

/// The chat, for both protocols.
#[websocket_gateway(path = "/chat", handshake_guards(NameGuard))]
#[derive(Debug, Default)]
pub struct ChatGateway;

#[websocket_gateway]
impl ChatGateway {
    /// Joins a room; the ack is the room's name.
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) -> Result<String, WsException> {
        if room.is_empty() || room.len() > 64 {
            return Err(WsException::new("a room name has 1 to 64 characters"));
        }
        socket.join(room.clone());
        Ok(room)
    }

    /// Sends a line to everyone in the room (the sender included).
    #[subscribe_message("message")]
    fn message(
        &self,
        server: Server,
        Extension(name): Extension<Name>,
        Data(say): Data<Say>,
    ) -> Result<bool, WsException> {
        server.to(say.room).emit(
            "message",
            &Said {
                from: &name.0,
                text: &say.text,
            },
        )?;
        Ok(true)
    }

    /// The name the client connected with.
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(name): Extension<Name>) -> String {
        name.0
    }

    /// Shares bytes with the other members of the room; the ack is their length.
    #[subscribe_message("file")]
    fn file(
        &self,
        socket: Socket,
        Extension(name): Extension<Name>,
        Data((room, content)): Data<(String, Binary)>,
    ) -> Result<usize, WsException> {
        socket.to(room).emit(
            "file",
            &Shared {
                from: &name.0,
                content: &content,
            },
        )?;
        Ok(content.0.len())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { Html(include_str!("../static/index.html")) }),
    );
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let mut app = nestgate::App::bare()
        .gateway::<ChatGateway>()
        .socket_io(SocketIoConfig::default())
        .merge(page);
    if std::env::var("RECOVERY").is_ok_and(|on| on == "1") {
        app = app.recovery(nestgate::recovery::RecoveryConfig::default());
    }
    if let Ok(password) = std::env::var("ADMIN_PASSWORD") {
        // The Socket.IO Admin UI's protocol on /admin (cost 4: a test's; use 10 or more).
        let username = std::env::var("ADMIN_USERNAME").unwrap_or_else(|_| "admin".to_owned());
        let hash = bcrypt::hash(password, 4)?;
        app = app.admin_ui(nestgate::admin::AdminConfig::basic(username, hash)?);
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "socketio-chat".to_owned());
        let config = nestgate_redis::RedisConfig::new(url).prefix(prefix);
        app = app.adapter(nestgate_redis::RedisCluster::connect(config).await?);
    }
    let listening = app.bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "socketio-chat listening on http://{}",
        listening.local_addr()
    );
    listening.run().await?;
    Ok(())
}
