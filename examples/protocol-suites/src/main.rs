//! What the official protocol test suites expect on `127.0.0.1:$PORT` (default 3000), with
//! pingInterval 300 ms, pingTimeout 200 ms and maxPayload 1,000,000:
//!
//! - `/engine.io/`: a raw Engine.IO endpoint that echoes every message to its sender (the
//!   Engine.IO suite, `socketio/engine.io-protocol/test-suite`).
//! - `/socket.io/`: nestgate's Socket.IO engine over two gateways, namespaces `/` and `/custom`
//!   (the Socket.IO suite, `socketio/socket.io-protocol/test-suite`): each connection is sent
//!   `auth` with its CONNECT payload; on `/`, `message` is answered with `message-back` and the
//!   same arguments, and `message-with-ack` acknowledges with them. A session that does not
//!   CONNECT within 1 s is closed.
//!
//! See docs/CONFORMANCE.md for how to fetch and run the suites.

use nestgate::engineio::{EngineConfig, EngineIo};
use nestgate::extract::Args;
use nestgate::guard::OriginPolicy;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use std::time::Duration;

/// The suites' settings.
fn config() -> EngineConfig {
    EngineConfig::default()
        .heartbeat(Duration::from_millis(300), Duration::from_millis(200))
        .max_payload(1_000_000)
        .origins(OriginPolicy::Any)
}

/// Sends the CONNECT payload back as `auth` (`{}` without one).
fn emit_auth(socket: &Socket) -> Result<(), WsException> {
    let auth = socket
        .handshake()
        .auth()
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    socket.emit("auth", &auth)?;
    Ok(())
}

/// The main namespace.
#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
pub struct Main;

#[websocket_gateway]
impl Main {
    #[on_connection]
    fn connected(&self, socket: Socket) -> Result<(), WsException> {
        emit_auth(&socket)
    }

    /// `message-back` with every argument.
    #[subscribe_message("message")]
    fn message(&self, socket: Socket, args: Args) -> Result<(), WsException> {
        socket.emit("message-back", &args)?;
        Ok(())
    }

    /// Acknowledges with every argument.
    #[subscribe_message("message-with-ack")]
    fn message_with_ack(&self, args: Args) -> Args {
        args
    }
}

/// The `/custom` namespace.
#[websocket_gateway(path = "/custom")]
#[derive(Debug, Default)]
pub struct Custom;

#[websocket_gateway]
impl Custom {
    #[on_connection]
    fn connected(&self, socket: Socket) -> Result<(), WsException> {
        emit_auth(&socket)
    }
}

#[tokio::main]
async fn main() -> nestgate::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let echo = EngineIo::new(config(), |mut socket| async move {
        while let Some(message) = socket.recv().await {
            if socket.send(message).is_err() {
                break;
            }
        }
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listening = nestgate::App::bare()
        .gateway::<Main>()
        .gateway::<Custom>()
        .origins(OriginPolicy::Any)
        .socket_io(
            SocketIoConfig::default()
                .engine(config())
                .connect_timeout(Duration::from_secs(1)),
        )
        .merge(echo.router("/engine.io/"))
        .bind(format!("127.0.0.1:{port}"))
        .await?;
    println!(
        "protocol-suites listening on http://{}",
        listening.local_addr()
    );
    listening.run().await
}
