//! The gateway nestgate's ws-json clients (`clients/js`) are tested against, and a tour of what
//! a ws-json client sees: answers to requests, exceptions, the server's own requests (acks), a
//! token checked at the handshake, and the close codes a client must tell apart.
//!
//! At path `/`:
//! - `echo` → answers its data.
//! - `fail` → an exception whose message is the data (a string).
//! - `sleep` `ms` → answers `ms` after that many milliseconds (at most 60,000).
//! - `ask` `{"event", "data"}` → asks the client `event` with `data` (an emit with an id, 5 s to
//!   answer) and answers what the client answered.
//! - `whoami` → `{"token", "via"}`: the token this connection was opened with, and whether it
//!   came as the `token` query parameter or an `Authorization: Bearer` header (`null`, `"none"`
//!   without one).
//! - `kick` `{"code", "reason"}` → the server closes this connection with that code.
//! - `say` → `said` with the data, to every client.
//! - `join` `room` → this connection joins the room; `to` `{"room", "event", "data"}` → `event`
//!   with `data` to the room's members; `later` `{"event", "data", "ms"}` → `event` to this
//!   socket, that many milliseconds from now (at most 60,000), even if it has gone meanwhile.
//!
//! With `RECOVERY=1` connection-state recovery is on (`RECOVERY_WINDOW_MS`: its window,
//! default 120,000; `RECOVERY_MAX_MESSAGES`: its log's length, default 10,000).
//!
//! The token: `bad` is refused at the handshake (HTTP 401: no socket); `banned` is accepted,
//! then the connection is closed with 1008 by the `#[on_connection]` hook (the exception frame
//! `banned` first); one that starts with `short` expires after 2 s (the server asks for a fresh
//! one, `nestgate:refresh`, after 1 s; 4001 without one); any other (or none) is welcome.
//!
//! With `REDIS_URL` it is a node of a cluster on that Redis (the Redis adapter; with
//! `RECOVERY=1` recovery is then in Redis, across nodes).
//!
//! `cargo run -p clients` listens on 127.0.0.1:$PORT (default 3000) and prints its address.

use nestgate::extract::Extension;
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The token a connection was opened with, and where it came from.
#[derive(Debug, Clone, Serialize)]
struct Identity {
    token: Option<String>,
    via: &'static str,
}

/// Reads the token (`?token=` or `Authorization: Bearer`); refuses `bad`.
#[derive(Debug, Clone, Copy)]
struct TokenGuard;

impl HandshakeGuard for TokenGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let identity = match (request.query("token"), request.bearer_token()) {
            (_, Some(token)) => Identity {
                token: Some(token.to_owned()),
                via: "header",
            },
            (Some(token), None) => Identity {
                token: Some(token),
                via: "query",
            },
            (None, None) => Identity {
                token: None,
                via: "none",
            },
        };
        if identity.token.as_deref() == Some("bad") {
            return Err(HandshakeRejection::unauthorized("bad token"));
        }
        if identity
            .token
            .as_deref()
            .is_some_and(|token| token.starts_with("short"))
        {
            // A token that lives 2 s: the server asks for a fresh one after 1 s.
            request.expires_at(SystemTime::now() + Duration::from_secs(2));
        }
        request.insert(identity);
        Ok(())
    }
}

/// What `ask` asks the client.
#[derive(Debug, Deserialize)]
struct Question {
    event: String,
    data: Value,
}

/// What `to` sends, and where.
#[derive(Debug, Deserialize)]
struct ToRoom {
    room: String,
    event: String,
    data: Value,
}

/// What `later` sends, and when.
#[derive(Debug, Deserialize)]
struct Later {
    event: String,
    data: Value,
    ms: u64,
}

/// How `kick` closes the connection.
#[derive(Debug, Deserialize)]
struct Kick {
    code: u16,
    reason: String,
}

#[websocket_gateway(path = "/", handshake_guards(TokenGuard))]
#[derive(Debug, Default)]
struct ClientsGateway;

#[websocket_gateway]
impl ClientsGateway {
    /// `banned` gets in, then is closed with 1008.
    #[on_connection]
    fn connected(&self, socket: Socket) -> Result<(), WsException> {
        let identity = socket.extension::<Identity>();
        match identity.and_then(|identity| identity.token) {
            Some(token) if token == "banned" => Err(WsException::new("banned")),
            _ => Ok(()),
        }
    }

    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<Value>) -> Value {
        data
    }

    #[subscribe_message("fail")]
    fn fail(&self, Data(message): Data<String>) -> Result<(), WsException> {
        Err(WsException::new(message))
    }

    #[subscribe_message("sleep")]
    async fn sleep(&self, Data(ms): Data<u64>) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        ms
    }

    #[subscribe_message("ask")]
    async fn ask(
        &self,
        socket: Socket,
        Data(question): Data<Question>,
    ) -> Result<Value, WsException> {
        let answer = socket
            .emit_with_ack_timeout(&question.event, &question.data, Duration::from_secs(5))
            .await?;
        Ok(answer)
    }

    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(identity): Extension<Identity>) -> Identity {
        identity
    }

    #[subscribe_message("kick")]
    fn kick(&self, socket: Socket, Data(kick): Data<Kick>) {
        socket.disconnect_with(kick.code, &kick.reason);
    }

    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) -> Vec<String> {
        socket.join(room);
        socket
            .rooms()
            .into_iter()
            .map(|room| room.into_owned())
            .collect()
    }

    #[subscribe_message("to")]
    fn to(&self, server: Server, Data(to): Data<ToRoom>) -> Result<(), WsException> {
        server.to(to.room).emit(&to.event, &to.data)?;
        Ok(())
    }

    #[subscribe_message("later")]
    fn later(&self, socket: Socket, Data(later): Data<Later>) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(later.ms.min(60_000))).await;
            // Gone meanwhile: with recovery on, the message waits in the log all the same.
            let _ = socket.emit(&later.event, &later.data);
        });
    }

    #[subscribe_message("say")]
    fn say(&self, server: Server, Data(data): Data<Value>) -> Result<(), WsException> {
        server.emit("said", &data)?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs go to stderr: stdout carries the address, which the clients' tests read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let mut app = nestgate::App::bare().gateway::<ClientsGateway>();
    if std::env::var("RECOVERY").is_ok_and(|on| on == "1") {
        app = app.recovery(recovery_config());
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        app = app.adapter(cluster(url).await?);
    }
    let listening = app.bind(format!("127.0.0.1:{port}")).await?;
    println!("clients listening on http://{}", listening.local_addr());
    listening.run().await?;
    Ok(())
}

/// This process as a node of the cluster on `url`, `REDIS_PREFIX` its prefix (default
/// `clients`), `REDIS_HEARTBEAT_MS` its heartbeat (a node missing 3 is gone; default 5,000).
async fn cluster(url: String) -> Result<nestgate_redis::RedisCluster, nestgate_redis::Error> {
    let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "clients".to_owned());
    let mut config = nestgate_redis::RedisConfig::new(url).prefix(prefix);
    if let Some(ms) = std::env::var("REDIS_HEARTBEAT_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        config = config
            .heartbeat_interval(Duration::from_millis(ms))
            .heartbeat_timeout(Duration::from_millis(ms * 3));
    }
    nestgate_redis::RedisCluster::connect(config).await
}

/// `RECOVERY_WINDOW_MS` and `RECOVERY_MAX_MESSAGES` over the defaults.
fn recovery_config() -> nestgate::recovery::RecoveryConfig {
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse::<u64>().ok())
    };
    let mut config = nestgate::recovery::RecoveryConfig::default();
    if let Some(ms) = number("RECOVERY_WINDOW_MS") {
        config.window = Duration::from_millis(ms);
    }
    if let Some(max) = number("RECOVERY_MAX_MESSAGES") {
        config.max_messages = usize::try_from(max).unwrap_or(usize::MAX);
    }
    config
}
