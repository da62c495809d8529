//! The Socket.IO baseline nestgate is measured against: socketioxide (a released version, its
//! default configuration) doing what the `echo` example does over Socket.IO.
//!
//! - `42["echo",X]` replies `42["echo",X]` to the sender.
//! - `42["broadcast",X]` sends `42["broadcast",X]` to every client of `/` (socketioxide drops
//!   the frame for a client whose buffer is full, as the example's volatile broadcast does).
//!
//! Same conventions as the example and the raw-axum baseline: Engine.IO at `/socket.io/`,
//! listens on 127.0.0.1:$PORT (default 3000), prints `socketioxide listening on http://ADDR`,
//! `TCP_NODELAY`. The data is a `serde_json::Value`, as socketioxide's own examples take it: its
//! parser does not carry a `RawValue` through (the echoed frame would not match).

use axum::serve::ListenerExt as _;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "socketioxide listening on http://{}",
        listener.local_addr()?
    );
    let listener = listener.tap_io(|tcp| {
        // Small frames must not wait for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
    });
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on(
            "echo",
            async |socket: SocketRef, Data(data): Data<Value>| {
                let _ = socket.emit("echo", &data);
            },
        );
        socket.on(
            "broadcast",
            async |io: SocketIo, Data(data): Data<Value>| {
                let _ = io.emit("broadcast", &data).await;
            },
        );
    });
    let app = axum::Router::new().layer(layer);
    axum::serve(listener, app).await
}
