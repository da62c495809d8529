//! Interceptors are tower layers around a handler's dispatch.
//!
//! `#[use_layers(...)]` on a gateway's impl block (every handler) or on one handler wraps the
//! handler in any [`tower::Layer`] whose service takes a [`Message`] and answers a [`Reply`]:
//! tower's own `TimeoutLayer`, `ConcurrencyLimitLayer`, `RateLimitLayer`, `LoadShedLayer` work
//! unchanged, and so does a layer of your own (logging, timing, per-socket limits).
//!
//! - Order: guards run first (as in NestJS), then the gateway's layers (outermost), then the
//!   handler's; within one attribute the first layer listed is the outermost, as in
//!   `tower::ServiceBuilder`.
//! - Each handler gets its own instance of a gateway-level layer (a limit counts per handler).
//! - The service is driven as tower expects: `poll_ready`, then `call`. Messages for one handler
//!   wait for its readiness in arrival order, so a `RateLimitLayer` delays them; add a
//!   `LoadShedLayer` outside it to answer "service overloaded" at once instead.
//! - A layer's error becomes an exception frame with the error's message (a
//!   [`WsException`](crate::WsException) returned as the error is sent as it is).
//!
//! ```
//! use nestgate::prelude::*;
//! use std::time::Duration;
//! use tower::timeout::TimeoutLayer;
//!
//! #[websocket_gateway]
//! #[derive(Default)]
//! struct Reports;
//!
//! #[websocket_gateway]
//! #[use_layers(TimeoutLayer::new(Duration::from_secs(5)))]
//! impl Reports {
//!     #[subscribe_message("build")]
//!     async fn build(&self) -> &'static str {
//!         "done"
//!     }
//! }
//! ```

use crate::extract::Message;
use crate::handler::reply::Reply;
use tower::util::BoxService;

/// The error type of a layered handler service.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A handler as a tower service: what layers wrap.
pub type HandlerService = BoxService<Message, Reply, BoxError>;
