//! The Rust client of nestgate's ws-json wire mode, on Tokio: requests answered through the
//! `id`/`ack` extension with timeouts, the server's own requests answered, reconnection with
//! exponential backoff and jitter, a bounded offline queue, typed data with serde.
//!
//! It speaks the documented ws-json protocol only — `{"event", "data", "id"?}` and
//! `{"ack", "data" | "error"}` — so it works with any NestJS `WsAdapter` server too (minus
//! the `id`/`ack` extension, which NestJS does not answer). `ws://` only for now (no TLS).
//!
//! ```no_run
//! # async fn run() -> Result<(), nestgate_client::Error> {
//! use nestgate_client::{Client, Lifecycle};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Debug)]
//! struct Said {
//!     text: String,
//! }
//!
//! let client = Client::builder("ws://127.0.0.1:3000/chat")
//!     .token("secret") // an `Authorization: Bearer` header; `.auth(...)` for a fresh one each time
//!     .connect()
//!     .await?;
//! client.on("said", |said: Said| println!("{}", said.text));
//! client.emit("say", &serde_json::json!({ "text": "hello" })).await?;
//! let me: serde_json::Value = client.request("whoami", &()).await?;
//!
//! let mut lifecycle = client.lifecycle();
//! while let Some(event) = lifecycle.next().await {
//!     if let Lifecycle::Disconnected { code, will_reconnect, .. } = event {
//!         println!("closed with {code}; reconnecting: {will_reconnect}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Which closes end the client for good, and which are followed by reconnection: see
//! [`Lifecycle::Disconnected`] and the table in the crate's README.

mod backoff;
mod client;
mod close;
mod driver;
mod error;
mod events;
mod frame;
mod options;
mod queue;
mod shared;

pub use backoff::Reconnect;
pub use client::{Client, Listener, State};
pub use error::{Error, ServerError};
pub use events::{Ack, Event, Events, Lifecycle, Lifecycles, Receiver};
pub use options::{AuthIn, ClientBuilder};
pub use queue::QueueLimits;

/// The README's example, compiled with the doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
