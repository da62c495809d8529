//! What the official protocol test suites expect on `127.0.0.1:$PORT` (default 3000), with
//! pingInterval 300 ms, pingTimeout 200 ms and maxPayload 1,000,000:
//!
//! - `/engine.io/`: a raw Engine.IO endpoint that echoes every message to its sender (the
//!   Engine.IO suite, `socketio/engine.io-protocol/test-suite`).
//!
//! See docs/CONFORMANCE.md for how to fetch and run the suites.

use nestgate::engineio::{EngineConfig, EngineIo};
use nestgate::guard::OriginPolicy;
use std::time::Duration;

/// The suites' settings.
fn config() -> EngineConfig {
    EngineConfig::default()
        .heartbeat(Duration::from_millis(300), Duration::from_millis(200))
        .max_payload(1_000_000)
        .origins(OriginPolicy::Any)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
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
    let router = echo.router("/engine.io/");
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "protocol-suites listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
