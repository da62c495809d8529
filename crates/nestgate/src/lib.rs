//! NestJS-style real-time gateways for Rust, on axum and tokio.
//!
//! Declare a gateway, write handlers, broadcast: nestgate accepts WebSocket connections, decodes
//! JSON event frames, dispatches them to your handlers and sends their answers — speaking the
//! protocol of NestJS's `WsAdapter`, so NestJS clients work unchanged.
//!
//! # Contents
//! - [A gateway](#a-gateway)
//! - [The wire protocol](#the-wire-protocol)
//! - [Extractors and their order](#extractors-and-their-order)
//! - [Return values](#return-values)
//! - [Lifecycle hooks](#lifecycle-hooks)
//! - [Rooms and broadcasting](#rooms-and-broadcasting)
//! - [Acknowledgements from clients](#acknowledgements-from-clients)
//! - [State](#state)
//! - [Guards, validation, layers and filters](#guards-validation-layers-and-filters)
//! - [Serving, mounting and shutting down](#serving-mounting-and-shutting-down)
//! - [Limits and bad input](#limits-and-bad-input)
//!
//! # A gateway
//!
//! ```no_run
//! use nestgate::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Deserialize, Serialize)]
//! struct ChatMessage {
//!     user: String,
//!     text: String,
//! }
//!
//! #[websocket_gateway(path = "/chat")]
//! #[derive(Default)]
//! struct ChatGateway;
//!
//! #[websocket_gateway]
//! impl ChatGateway {
//!     #[subscribe_message("message")]
//!     async fn message(&self, server: Server, Data(msg): Data<ChatMessage>) -> Result<WsResponse<&'static str>, WsException> {
//!         server.emit("message", &msg)?;
//!         Ok(WsResponse::new("sent", "ok"))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> nestgate::Result<()> {
//!     // Discovers every gateway linked into the binary.
//!     nestgate::App::new().listen("127.0.0.1:3000").await
//! }
//! ```
//!
//! `#[websocket_gateway]` goes twice: on the struct, with its options (`path`, default `/`), and
//! on its impl block, where it collects the `#[subscribe_message("event")]` methods (async or
//! not). Linking the module registers the gateway; [`App::bare`] plus [`App::gateway`] registers
//! explicitly instead.
//!
//! # The wire protocol
//!
//! One WebSocket per client at the gateway's path (an unknown path gets HTTP 404 before any
//! upgrade). Text frames carry JSON:
//!
//! | direction | frame |
//! |---|---|
//! | client → server | `{"event": "message", "data": <any JSON>}` (`data` may be absent) |
//! | server → client | `{"event": "message", "data": <any JSON>}` |
//! | reply, no `id` | the handler's value as it is (a `WsResponse` arrives as `{"event","data"}`) |
//! | client asks for an ack | `{"event": "message", "data": ..., "id": 7}` |
//! | the ack | `{"ack": 7, "data": <value>}` or `{"ack": 7, "error": {"status": "error", "message": "..."}}` |
//! | error, no `id` | `{"event": "exception", "data": {"status": "error", "message": "...", "cause": {"pattern": <event>, "data": <data>}}}` |
//! | an error carrying an object | `{"event": "exception", "data": <the object>}` (as it is, no `cause`) |
//! | a connection hook's error | `{"event": "exception", "data": {"status": "error", "message": "...", "cause": {"pattern": "handleConnection"}}}` |
//! | the server asks for a fresh token (sockets whose guard set an expiry) | `{"event": "nestgate:refresh", "data": {"expiresAt": <ms>}, "id": 9}`, answered `{"ack": 9, "data": {"token": "..."}}` |
//! | the client refreshes by itself | `{"event": "nestgate:refresh", "data": {"token": "..."}, "id": 3}`, answered `{"ack": 3, "data": {"expiresAt": <ms>}}` or an ack error |
//!
//! Every frame with an `id` gets exactly one answer. A frame is a JSON object: malformed JSON,
//! anything else (an array too), unknown events and payloads of the wrong type are each answered
//! with an exception frame saying what was wrong (an unknown event's name is repeated cut to 64
//! characters); the connection stays open. Close codes: 1000 normal, 1001 shutdown, 1007 invalid
//! UTF-8 in a text frame, 1008 policy (rejected, heartbeat timeout), 1009 message too large, 1011
//! internal error, 1013 slow consumer, 4001 token expired, 4003 refresh refused ([`refresh`]).
//!
//! # Extractors and their order
//!
//! Handler arguments are extractors ([`extract`]): [`Socket`], [`Server`],
//! [`State<T>`](extract::State), [`Event`](extract::Event) and your own
//! [`FromMessageParts`](extract::FromMessageParts) types, in any order, then at most one
//! consuming extractor, [`Data<T>`](extract::Data), **last**:
//!
//! ```
//! # use nestgate::prelude::*;
//! # #[websocket_gateway] #[derive(Default)] struct G;
//! # #[websocket_gateway] impl G {
//! // Write this:
//! #[subscribe_message("join")]
//! fn join(&self, socket: Socket, server: Server, Data(room): Data<String>) {}
//! # }
//! ```
//!
//! ```compile_fail
//! # use nestgate::prelude::*;
//! # #[websocket_gateway] #[derive(Default)] struct G;
//! # #[websocket_gateway] impl G {
//! // Not this: `Data<_>` consumes the message payload and thus must be the last argument.
//! #[subscribe_message("join")]
//! fn join(&self, Data(room): Data<String>, socket: Socket) {}
//! # }
//! ```
//!
//! A failing extractor answers the client with its rejection (for `Data<T>`, the serde message
//! naming the field) and the handler does not run.
//!
//! # Return values
//!
//! `()` sends nothing; any `Serialize` value is sent as it is (`None` and `null` send nothing);
//! [`WsResponse<T>`] arrives as `{"event", "data"}`; `Result<T, E>` with `E: Into<WsException>`
//! sends the value or the exception; a `Stream` sends one frame per item (NestJS's Observables).
//! A handler that panics answers "Internal server error" for that message only.
//!
//! # Lifecycle hooks
//!
//! ```
//! use nestgate::prelude::*;
//! use nestgate::{DisconnectReason, Reject};
//!
//! #[websocket_gateway]
//! #[derive(Default)]
//! struct Lobby;
//!
//! #[websocket_gateway]
//! impl Lobby {
//!     #[after_init]
//!     fn ready(&self, server: Server) {
//!         println!("{} ready", server.path());
//!     }
//!
//!     #[on_connection]
//!     async fn hello(&self, socket: Socket) -> Result<(), Reject> {
//!         match socket.handshake().query("name") {
//!             Some(name) => Ok(socket.insert_extension(name)),
//!             None => Err(Reject::new(4001, "a name is required")
//!                 .with_exception(WsException::new("connect with ?name=..."))),
//!         }
//!     }
//!
//!     #[on_disconnect]
//!     fn bye(&self, socket: Socket, reason: DisconnectReason) {
//!         println!("{} left: {reason}", socket.id());
//!     }
//! }
//! ```
//!
//! # Rooms and broadcasting
//!
//! Each gateway path is a namespace with its own sockets and rooms. A socket joins and leaves
//! rooms ([`Socket::join`], [`Socket::leave`]); [`Operators`] pick the targets and then emit or
//! query, from a handler, a hook, an axum route or a background task ([`AppHandle::server`]):
//!
//! | socket.io | nestgate |
//! |---|---|
//! | `io.to("a").emit(..)` | `server.to("a").emit(..)` |
//! | `socket.to("a").emit(..)` (not the sender) | `socket.to("a").emit(..)` |
//! | `socket.broadcast.emit(..)` | `socket.broadcast().emit(..)` |
//! | `io.except("b").emit(..)` | `server.except("b").emit(..)` |
//! | `io.local.emit(..)`, `io.volatile.emit(..)` | `server.local().emit(..)`, `server.volatile().emit(..)` |
//! | `io.timeout(ms).emitWithAck(..)` | `server.timeout(d).emit_with_ack::<_, R>(..).await` (a stream of answers) |
//! | `io.in("a").fetchSockets()` | `server.to("a").fetch_sockets().await` |
//! | `io.in("a").socketsJoin("b")` | `server.to("a").sockets_join("b").await` |
//! | `io.in("a").disconnectSockets()` | `server.to("a").disconnect_sockets().await` |
//! | `io.of("/admin")` | `server.of("/admin")` |
//!
//! A broadcast is serialized once and every recipient shares its bytes. Every client has an
//! outbound queue bounded in frames and bytes: when it is full, a volatile frame is dropped, and
//! any other frame closes that client with 1013 — nobody else waits.
//!
//! Fan-out of what a client sends (a chat message to a room, a cursor to everyone) is where one
//! fast sender can fill everyone's queue: send it with `server.volatile()` (or
//! `socket.broadcast().volatile()`), so that a recipient that falls behind misses frames instead
//! of being closed, and keep the per-connection inbound limit
//! ([`App::max_messages_per_second`], 100 messages/s by default, per ws-json connection and per
//! Socket.IO session), which bounds what one sender makes each recipient receive. Operators go through the namespace's
//! [`Adapter`](adapter::Adapter): the in-memory [`LocalAdapter`](adapter::LocalAdapter) by
//! default, a cluster adapter with [`App::adapter`].
//!
//! # Acknowledgements from clients
//!
//! [`Socket::emit_with_ack`] sends `{"event": .., "data": .., "id": <n>}` and waits (5 s by
//! default) for the client's `{"ack": <n>, "data": ..}`.
//!
//! # State
//!
//! [`App::provide`] stores a value per type; handlers extract it with
//! [`State<T>`](extract::State), and gateways that are not `Default` build themselves from it
//! with [`FromAppState`](gateway::FromAppState).
//!
//! # Guards, validation, layers and filters
//!
//! NestJS's request pipeline, in the same order: [`guard::HandshakeGuard`]s run on the upgrade
//! request (a rejection is an HTTP status, before any socket exists; what they establish is read
//! with [`Extension<T>`](extract::Extension)); `#[use_guards(..)]` message guards answer
//! "Forbidden resource"; `#[use_layers(..)]` wraps handlers in any tower layer
//! ([`layer`]); [`Valid<T>`](extract::Valid) validates with the `validator` crate; and
//! `#[use_filters(..)]` / [`App::exception_filter`] turn typed errors into frames ([`filter`]).
//! Browser origins are checked ([`guard::OriginPolicy`]; the same host by default).
//!
//! # Serving, mounting and shutting down
//!
//! [`App::listen`] serves until Ctrl-C or SIGTERM; [`App::bind`] gives the bound address first
//! (for port 0); [`App::into_router`] returns an axum `Router` to merge beside REST routes.
//! Shutdown stops accepting, gives running handlers a deadline, and closes every socket with 1001.
//!
//! # Limits and bad input
//!
//! Messages over the size limit (default 1 MiB) close with 1009; a client that stops reading is
//! closed with 1013 once its outbound queue (default 1024 frames or 16 MiB) is full, and nobody
//! waits for it; a connection may send 100 messages per second (bursts of 200) before its reading
//! pauses; idle clients are pinged every 25 s and closed after 20 s of silence. Every close the
//! server initiates reaches the client as a close frame, even while it is still sending. See
//! [`App`]'s builder methods, and `docs/LIMITS.md` for every bound.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod ack;
pub mod adapter;
pub mod admin;
pub mod close;
pub mod engineio;
pub mod extract;
pub mod filter;
pub mod gateway;
pub mod guard;
pub mod layer;
pub mod metrics;
pub mod operators;
pub mod recovery;
pub mod refresh;
pub mod socketio;
#[cfg(feature = "testing")]
pub mod testing;

mod app;
mod config;
mod connection;
mod error;
mod handler;
mod handshake;
mod host;
mod namespace;
mod observer;
mod origin;
mod pattern;
mod protocol;
mod runtime;
mod server;
mod socket;
mod state;
mod util;
mod ws;

pub use app::{App, AppHandle, Listening};
pub use error::{Error, Reject, Result, WsException};
pub use handler::reply::{Reply, WsResponse};
pub use handshake::Handshake;
pub use operators::Operators;
pub use server::Server;
pub use socket::{DisconnectReason, SendError, Socket, TooManyRooms};
pub use state::AppState;

#[cfg(feature = "macros")]
pub use nestgate_macros::{
    after_init, on_connection, on_disconnect, subscribe_message, use_filters, use_guards,
    use_layers, websocket_gateway,
};

/// What nearly every gateway file imports: the macros and the handful of types handlers name.
pub mod prelude {
    #[cfg(feature = "validation")]
    pub use crate::extract::Valid;
    pub use crate::extract::{Data, Extension, State};
    pub use crate::gateway::FromAppState;
    pub use crate::{Server, Socket, WsException, WsResponse};
    #[cfg(feature = "macros")]
    pub use crate::{
        after_init, on_connection, on_disconnect, subscribe_message, use_filters, use_guards,
        use_layers, websocket_gateway,
    };
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "internals.rs"]
pub mod __internals;

/// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
