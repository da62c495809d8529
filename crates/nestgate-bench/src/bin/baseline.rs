//! The ceiling nestgate is measured against: axum's WebSocket with no framework, doing what the
//! `echo` example does.
//!
//! - `{"event":"echo","data":X}` replies `{"event":"echo","data":X}` to the sender.
//! - `{"event":"broadcast","data":X}` sends `{"event":"broadcast","data":X}` to every client: the
//!   frame is built once and a clone queued for each client (bounded queue of 1024; a full queue
//!   drops the frame for that client).
//!
//! Same conventions as the example: path `/`, listens on 127.0.0.1:$PORT (default 3000), prints
//! `baseline listening on http://ADDR`, 4 KiB read buffer, `TCP_NODELAY`.

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::mpsc;

/// Frames queued for one client.
const QUEUE: usize = 1024;

/// Every connected client's queue, and the connections' settings.
#[derive(Debug, Default)]
struct Hub {
    /// The WebSocket read buffer of each connection, in bytes.
    read_buffer_size: usize,
    /// Queues by client id.
    clients: RwLock<HashMap<u64, mpsc::Sender<Message>>>,
    /// The next client id.
    next_id: AtomicU64,
}

/// An incoming frame; `data` is borrowed as the JSON it came as.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    /// The event name.
    event: &'a str,
    /// The event's data.
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The upgrade handler.
async fn upgrade(ws: WebSocketUpgrade, State(hub): State<Arc<Hub>>) -> Response {
    ws.read_buffer_size(hub.read_buffer_size)
        .on_upgrade(move |socket| connection(socket, hub))
}

/// One client: registers its queue, starts its writer, reads until it leaves.
async fn connection(socket: WebSocket, hub: Arc<Hub>) {
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    let (queue, mut outbound) = mpsc::channel::<Message>(QUEUE);
    hub.clients
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, queue.clone());
    let (mut sink, mut stream) = socket.split();
    // The writer: sends what is queued, flushing once per batch.
    let writer = tokio::spawn(async move {
        while let Some(first) = outbound.recv().await {
            if sink.feed(first).await.is_err() {
                return;
            }
            while let Ok(next) = outbound.try_recv() {
                if sink.feed(next).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        // The client left: flush tungstenite's answer to its close frame.
        let _ = sink.close().await;
    });
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            if matches!(message, Message::Close(_)) {
                break;
            }
            continue;
        };
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text.as_str()) else {
            continue;
        };
        match envelope.event {
            "echo" => {
                let reply = format!(r#"{{"event":"echo","data":{}}}"#, envelope.data.get());
                let _ = queue.try_send(Message::Text(reply.into()));
            }
            "broadcast" => {
                let frame: Utf8Bytes =
                    format!(r#"{{"event":"broadcast","data":{}}}"#, envelope.data.get()).into();
                let clients = hub.clients.read().unwrap_or_else(PoisonError::into_inner);
                for client in clients.values() {
                    let _ = client.try_send(Message::Text(frame.clone()));
                }
            }
            _ => {}
        }
    }
    hub.clients
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    drop(queue);
    // The writer ends once its queue is empty and closed.
    let _ = writer.await;
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        // Small frames must not wait for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
    });
    let read_buffer_size = match std::env::var("READ_BUFFER_SIZE") {
        Ok(size) => size.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("READ_BUFFER_SIZE is not a number of bytes: {size:?}"),
            )
        })?,
        Err(_) => 4096,
    };
    let hub = Hub {
        read_buffer_size,
        ..Hub::default()
    };
    let app = Router::new()
        .route("/", get(upgrade))
        .with_state(Arc::new(hub));
    axum::serve(listener, app).await
}
