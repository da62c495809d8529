//! The Socket.IO v5 engine: the same gateways, rooms, operators and adapters, for every
//! socket.io client (as NestJS's `IoAdapter` beside its `WsAdapter`).
//!
//! Enable it with [`App::socket_io`](crate::App::socket_io): Engine.IO is served at
//! `/socket.io/` (polling and WebSocket, with the upgrade) and each gateway path is a Socket.IO
//! namespace — a gateway at `/chat` is `io("https://host/chat")`. Both protocols share
//! everything: a room broadcast reaches ws-json and socket.io clients alike.
//!
//! - CONNECT runs the handshake guards with the client's `auth` payload
//!   ([`HandshakeRequest::auth`](crate::guard::HandshakeRequest::auth)); a rejection answers
//!   CONNECT_ERROR `{"message", "data": {"status"}}`. An unknown namespace gets
//!   "Invalid namespace".
//! - An event's single argument is its `data`; several arguments arrive as one array (and as
//!   they came with [`Args`]). A handler's return value answers the
//!   client's acknowledgement — and so does an error, as `{"status": "error", "message"}`:
//!   the client never waits for a timeout.
//! - Bytes travel as binary attachments ([`Binary`]).
//! - A malformed packet closes that session only.

mod namespaces;
mod packet;
mod session;
mod sink;
mod translate;

// Protocol-neutral (ws-json sees `{"$args": [...]}` and `{"$binary": ...}`): they live in
// `extract`, and are re-exported here where Socket.IO users look for them.
pub use crate::extract::{Args, Binary};

use crate::engineio::{EngineConfig, EngineIo};
use crate::runtime::Runtime;
use bytes::Bytes;
use session::Limits;
use std::sync::Arc;
use std::time::Duration;

/// Socket.IO settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketIoConfig {
    /// Where Engine.IO is served (default `/socket.io/`).
    pub path: String,
    /// The Engine.IO settings (heartbeat, `maxPayload`, CORS origins). Its origin policy
    /// defaults to the app's.
    pub engine: Option<EngineConfig>,
    /// How long a new session may go without connecting to a namespace, over either transport
    /// (default 45 s, socket.io's `connectTimeout`); the session is then closed.
    pub connect_timeout: Duration,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        SocketIoConfig {
            path: "/socket.io/".to_owned(),
            engine: None,
            connect_timeout: Duration::from_secs(45),
        }
    }
}

impl SocketIoConfig {
    /// Serves Engine.IO at `path`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the Engine.IO settings.
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The Engine.IO server whose sessions speak Socket.IO to the app's namespaces.
pub(crate) fn engine(runtime: Arc<Runtime>, config: &SocketIoConfig) -> EngineIo {
    let engine_config = config.engine.clone().unwrap_or_else(|| {
        let mut engine = EngineConfig::default().origins(runtime.origins.clone());
        engine.read_buffer_size = runtime.config.read_buffer_size;
        engine
    });
    let metrics = runtime.config.metrics.clone();
    let limits = Limits {
        connect_timeout: config.connect_timeout,
        max_payload: engine_config.max_payload,
        attachment_timeout: engine_config.ping_timeout,
    };
    EngineIo::direct(
        engine_config,
        Box::new(move |sender, handshake| {
            session::Client::new(runtime.clone(), sender, handshake, limits)
        }),
        crate::metrics::EngineMetrics::new(&metrics),
    )
}

/// Parses `data` as a Socket.IO packet and translates it both ways, with `data` also as a
/// binary attachment (see `__internals::fuzz_protocols`).
pub(crate) fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let shared = axum::extract::ws::Utf8Bytes::from(text);
    if let Ok(packet) = packet::decode(shared.as_str()) {
        let _ = translate::decoded(&packet, &shared);
    }
    if let Ok(packet) = packet::decode(text) {
        let attachments = vec![Bytes::copy_from_slice(data); packet.attachments];
        if let Ok(frame) = translate::incoming(&packet, &attachments) {
            let _ = translate::outgoing(&frame, packet.nsp);
        }
    }
    let _ = translate::outgoing(text, "/fuzz");
}

#[cfg(test)]
mod tests {
    /// Seeds from both protocols, mutated at random (a fixed seed, so failures reproduce): no
    /// input makes a parser or translator panic. `cargo fuzz run protocols` goes further.
    #[test]
    fn random_client_input_never_panics() {
        let seeds: [&[u8]; 7] = [
            br#"2["message",1,"2",{"3":[true]}]"#,
            br#"52-789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            br#"0/custom,{"token":"abc"}"#,
            b"4test1\x1e4test2\x1ebAQIDBA==",
            br#"{"ack":3,"data":{"$args":[{"$binary":"AQID"},2]}}"#,
            br#"{"event":"e","data":{"$binary":"AQID"},"id":1}"#,
            br#"3/x,12[{"_placeholder":true,"num":9}]"#,
        ];
        let alphabet = br#"0123456789[]{}",:/-$_abcnptrue\ "#;
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50_000 {
            let mut input = seeds[round % seeds.len()].to_vec();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => {
                        input.remove(at);
                    }
                    1 => input.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                    _ if at < input.len() => input[at] = (next() & 0xff) as u8,
                    _ => {}
                }
            }
            crate::__internals::fuzz_protocols(&input);
        }
    }
}
