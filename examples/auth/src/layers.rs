//! Two interceptors as tower layers: a timing log line per message, and a per-socket rate
//! limit that answers at once instead of queueing.

use futures_util::future::{Either, Ready, ready};
use nestgate::Reply;
use nestgate::WsException;
use nestgate::extract::Message;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Layer, Service};

/// Logs each message's event, socket and handling time (NestJS's `LoggingInterceptor`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimingLayer;

impl<S> Layer<S> for TimingLayer {
    type Service = Timing<S>;

    fn layer(&self, inner: S) -> Timing<S> {
        Timing { inner }
    }
}

/// The service of [`TimingLayer`].
#[derive(Debug, Clone)]
pub struct Timing<S> {
    inner: S,
}

impl<S> Service<Message> for Timing<S>
where
    S: Service<Message, Response = Reply>,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, message: Message) -> Self::Future {
        let event = message.parts().event();
        let socket = message.parts().socket().id().to_owned();
        let started = Instant::now();
        let reply = self.inner.call(message);
        Box::pin(async move {
            let reply = reply.await;
            tracing::info!(event, %socket, elapsed_us = started.elapsed().as_micros() as u64, "handled");
            reply
        })
    }
}

/// At most `max` messages per socket per `window`; beyond it the client is answered
/// "Too many requests" at once (an exception frame, or an ack error) and nothing is queued.
#[derive(Debug, Clone, Copy)]
pub struct PerSocketRateLimitLayer {
    max: u32,
    window: Duration,
}

impl PerSocketRateLimitLayer {
    /// `max` messages per `window`, for each socket.
    pub fn new(max: u32, window: Duration) -> Self {
        PerSocketRateLimitLayer { max, window }
    }
}

impl<S> Layer<S> for PerSocketRateLimitLayer {
    type Service = PerSocketRateLimit<S>;

    fn layer(&self, inner: S) -> PerSocketRateLimit<S> {
        PerSocketRateLimit {
            inner,
            limit: *self,
        }
    }
}

/// The service of [`PerSocketRateLimitLayer`].
#[derive(Debug, Clone)]
pub struct PerSocketRateLimit<S> {
    inner: S,
    limit: PerSocketRateLimitLayer,
}

/// One socket's window, stored on the socket (it goes away with it).
#[derive(Debug, Clone, Default)]
struct Window(Arc<Mutex<Option<(Instant, u32)>>>);

impl<S> Service<Message> for PerSocketRateLimit<S>
where
    S: Service<Message, Response = Reply>,
{
    type Response = Reply;
    type Error = S::Error;
    type Future = Either<Ready<Result<Reply, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, message: Message) -> Self::Future {
        let socket = message.parts().socket();
        let window = socket.extension::<Window>().unwrap_or_else(|| {
            let window = Window::default();
            socket.insert_extension(window.clone());
            window
        });
        let now = Instant::now();
        let retry_in = {
            let mut state = window.0.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *state {
                Some((start, count)) if now.duration_since(*start) < self.limit.window => {
                    if *count >= self.limit.max {
                        Some(self.limit.window - now.duration_since(*start))
                    } else {
                        *count += 1;
                        None
                    }
                }
                slot => {
                    *slot = Some((now, 1));
                    None
                }
            }
        };
        match retry_in {
            Some(retry_in) => Either::Left(ready(Ok(Reply::error(WsException::with_data(
                serde_json::json!({
                    "status": "error",
                    "message": "Too many requests",
                    "retryAfterMs": retry_in.as_millis() as u64,
                }),
            ))))),
            None => Either::Right(self.inner.call(message)),
        }
    }
}
