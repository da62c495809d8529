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
//!   [`WsException`] returned as the error is sent as it is).
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

use crate::error::WsException;
use crate::extract::Message;
use crate::reply::Reply;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tower::util::BoxService;
use tower::{Layer, Service, ServiceExt as _};

/// The error type of a layered handler service.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A handler as a tower service: what layers wrap.
pub type HandlerService = BoxService<Message, Reply, BoxError>;

/// One layer, ready to wrap a handler service once the gateway instance exists.
pub(crate) type Wrap = Box<dyn FnOnce(HandlerService) -> HandlerService + Send + Sync>;

/// Erases a layer into a [`Wrap`].
pub(crate) fn wrap<L>(layer: L) -> Wrap
where
    L: Layer<HandlerService> + Send + Sync + 'static,
    L::Service: Service<Message, Response = Reply> + Send + 'static,
    <L::Service as Service<Message>>::Error: Into<BoxError>,
    <L::Service as Service<Message>>::Future: Send + 'static,
{
    Box::new(move |inner| BoxService::new(layer.layer(inner).map_err(Into::<BoxError>::into)))
}

/// A handler call as a service (it never fails: errors are replies).
pub(crate) fn service(
    call: Arc<dyn Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync>,
) -> HandlerService {
    BoxService::new(tower::service_fn(move |message| {
        let reply = call(message);
        async move { Ok::<_, BoxError>(reply.await) }
    }))
}

/// Drives a layered service for each message: readiness, then the call, in arrival order.
pub(crate) fn drive(
    service: HandlerService,
) -> impl Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync {
    let service = Arc::new(tokio::sync::Mutex::new(service));
    move |message| {
        let service = service.clone();
        Box::pin(async move {
            let response = {
                let mut service = service.lock().await;
                match service.ready().await {
                    Ok(ready) => ready.call(message),
                    Err(err) => return Reply::error(layer_error(err)),
                }
            };
            response
                .await
                .unwrap_or_else(|err| Reply::error(layer_error(err)))
        })
    }
}

/// A layer's error as the client sees it.
fn layer_error(err: BoxError) -> WsException {
    match err.downcast::<WsException>() {
        Ok(exception) => *exception,
        Err(err) => WsException::new(err.to_string()),
    }
}
