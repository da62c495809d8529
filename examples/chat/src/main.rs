//! A chat server with a browser page: one shared room, at WebSocket path `/chat`.
//!
//! Run it with `cargo run -p chat` and open <http://127.0.0.1:3000> in two tabs
//! (listens on 127.0.0.1:$PORT, default 3000).
//!
//! Client → server:
//! - `{"event":"join","data":{"name":"alice"}}` replies `welcome` `{"id","name","online"}` to the
//!   sender, then sends `joined` `{"id","name"}` to everyone.
//! - `{"event":"message","data":{"text":"hi"}}` sends `message` `{"id","name","text","at"}` to
//!   everyone (`at` is the server's clock, in Unix milliseconds).
//!
//! When a socket that joined goes away, everyone gets `left` `{"id","name"}`. Bad input is
//! answered with nestgate's `{"event":"exception","data":{"status":"error","message":...}}`.

use axum::response::Html;
use axum::routing::get;
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The browser page, compiled into the binary: the server needs no files at run time.
const PAGE: &str = include_str!("../static/index.html");

/// The longest name, in characters.
const MAX_NAME: usize = 32;
/// The longest message, in characters.
const MAX_TEXT: usize = 2000;

/// The name a socket joined with, kept on the socket itself as a typed extension.
#[derive(Debug, Clone)]
struct Name(String);

/// The data of a `join` event.
#[derive(Debug, Deserialize)]
struct Join {
    name: String,
}

/// The data of a `message` event.
#[derive(Debug, Deserialize)]
struct Say {
    text: String,
}

/// The data of `welcome`, sent to the socket that joined.
#[derive(Debug, Serialize)]
struct Welcome<'a> {
    id: &'a str,
    name: &'a str,
    /// How many people have joined, this one included.
    online: usize,
}

/// The data of `joined` and `left`: who it is.
#[derive(Debug, Serialize)]
struct Who<'a> {
    id: &'a str,
    name: &'a str,
}

/// The data of a broadcast `message`.
#[derive(Debug, Serialize)]
struct ChatMessage<'a> {
    id: &'a str,
    name: &'a str,
    text: &'a str,
    at: u64,
}

/// The chat room. One instance serves every client of `/chat`, so its fields are shared.
#[websocket_gateway(path = "/chat")]
#[derive(Debug, Default)]
pub struct ChatGateway {
    /// How many connected sockets have joined.
    online: AtomicUsize,
}

#[websocket_gateway]
impl ChatGateway {
    /// Gives the socket a name, welcomes it, and tells everyone.
    #[subscribe_message("join")]
    fn join(
        &self,
        socket: Socket,
        server: Server,
        Data(join): Data<Join>,
    ) -> Result<(), WsException> {
        let name = join.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(WsException::new(format!(
                "a name has 1 to {MAX_NAME} characters"
            )));
        }
        if let Some(Name(current)) = socket.extension::<Name>() {
            return Err(WsException::new(format!("already joined as {current}")));
        }
        socket.insert_extension(Name(name.to_owned()));
        let online = self.online.fetch_add(1, Ordering::Relaxed) + 1;
        let id = socket.id();
        // Emit the welcome ourselves rather than return it: a returned value is sent after the
        // handler ends, which would put it behind the `joined` broadcast below.
        // This fails only if the client is already gone; its disconnect hook then says `left`.
        let _ = socket.emit("welcome", &Welcome { id, name, online });
        server.emit("joined", &Who { id, name })?;
        Ok(())
    }

    /// Sends a message from a socket that joined to everyone, itself included.
    #[subscribe_message("message")]
    fn message(
        &self,
        socket: Socket,
        server: Server,
        Data(say): Data<Say>,
    ) -> Result<(), WsException> {
        let Some(Name(name)) = socket.extension::<Name>() else {
            return Err(WsException::new("join first"));
        };
        let text = say.text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(WsException::new(format!(
                "a message has 1 to {MAX_TEXT} characters"
            )));
        }
        let message = ChatMessage {
            id: socket.id(),
            name: &name,
            text,
            at: unix_millis(),
        };
        server.emit("message", &message)?;
        Ok(())
    }

    /// Tells everyone who left. The socket is already off the server's list, so it is not told.
    #[on_disconnect]
    fn leave(&self, socket: Socket) {
        if let Some(Name(name)) = socket.extension::<Name>() {
            self.online.fetch_sub(1, Ordering::Relaxed);
            // `emit` fails only if the data cannot be serialized, and two strings always can.
            let _ = socket.server().emit(
                "left",
                &Who {
                    id: socket.id(),
                    name: &name,
                },
            );
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Serves the page at `/`.
async fn page() -> Html<&'static str> {
    Html(PAGE)
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
        .merge(axum::Router::new().route("/", get(page)))
        .bind(format!("127.0.0.1:{port}"))
        .await?;
    println!("chat listening on http://{}", listening.local_addr());
    listening.run().await
}
