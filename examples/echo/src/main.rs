//! The smallest gateway, at path `/`.
//!
//! - `{"event":"echo","data":X}` replies `{"event":"echo","data":X}` to the sender.
//! - `{"event":"broadcast","data":X}` sends `{"event":"broadcast","data":X}` to every client.
//!
//! Run it with `cargo run -p echo` (listens on 127.0.0.1:$PORT, default 3000). The benchmark
//! suite drives exactly these two events, over ws-json and over Socket.IO (`42["echo",X]`).

use nestgate::prelude::*;
use serde_json::value::RawValue;

/// Echoes and broadcasts whatever it is sent.
#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
pub struct EchoGateway;

#[websocket_gateway]
impl EchoGateway {
    /// Replies to the sender with the same data. `RawValue` keeps the data as the bytes it came
    /// in, so nothing is parsed into a tree and serialized again.
    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<Box<RawValue>>) -> WsResponse<Box<RawValue>> {
        WsResponse::new("echo", data)
    }

    /// Sends the data to every connected client, serialized once.
    #[subscribe_message("broadcast")]
    fn broadcast(
        &self,
        server: Server,
        Data(data): Data<Box<RawValue>>,
    ) -> Result<(), WsException> {
        server.emit("broadcast", &data)?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> nestgate::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listening = nestgate::App::new()
        // Socket.IO clients too (at /socket.io/, namespace /): the benchmarks drive both.
        .socket_io(nestgate::socketio::SocketIoConfig::default())
        .bind(format!("127.0.0.1:{port}"))
        .await?;
    println!("echo listening on http://{}", listening.local_addr());
    listening.run().await
}
