//! The reader task's loop: it reads frames, hands text to dispatch, keeps the heartbeat and the
//! inbound rate limit, and polls the connection's running handlers ([`Running`]).

use super::handoff::{Counted, Handoff, Started};
use super::heartbeat::{Beat, Heartbeat};
use super::{Ended, Inbound};
use crate::error::WsException;
use crate::protocol::{self, Decoded};
use crate::socket::{DisconnectReason, Socket};
use crate::util::rate::Bucket;
use axum::extract::ws::{Message, Utf8Bytes};
use futures_util::StreamExt as _;
use futures_util::future::Either;
use futures_util::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use tokio::time::{Instant, Sleep, sleep_until};

/// How a read loop runs: what its transport does itself, and what it shares with it.
pub(super) struct Options<'a> {
    /// Ping the client and close it when it stays silent.
    pub(super) heartbeat_on: bool,
    /// Read at most the message rate.
    pub(super) rate_limit: bool,
    /// The transport starts handlers itself while this loop has nothing to do.
    pub(super) handoff: Option<&'a Arc<Handoff>>,
}

/// A running handler: one this loop started, or one its transport started ([`Handoff`]).
pub(super) type Handling<F> = Either<Counted<F>, Started>;

/// Reads and dispatches frames until the connection should end; returns why.
///
/// `running` holds the connection's handlers: they are polled by this task, before the next
/// frame is read (`biased`), so handlers that finish at once answer in the order of the frames.
///
/// Not an `async fn` (whose arguments would be kept twice in the future, see `serve`).
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps its arguments twice in its future, for the connection's life"
)]
pub(super) fn read_loop<'a, S, F, D>(
    socket: &'a Socket,
    stream: &'a mut S,
    running: &'a mut Running<Handling<F>>,
    dispatch: D,
    options: Options<'a>,
) -> impl Future<Output = DisconnectReason> + 'a
where
    S: futures_util::Stream<Item = Result<Inbound, axum::Error>> + Unpin,
    F: Future<Output = ()> + 'a,
    D: Fn(&Socket, Utf8Bytes, Option<Decoded>, &Waker) -> Option<F> + 'a,
{
    async move {
        // The reader task's waker, for the first poll of each handler in `dispatch`.
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let Options {
            heartbeat_on,
            rate_limit,
            handoff,
        } = options;
        let runtime = socket.runtime().clone();
        let config = &runtime.config;
        // Past the message rate, reading pauses until the next message is due (backpressure).
        // Made at the first frame: a connection that never sends holds only the empty box.
        let rate = config.message_rate.filter(|_| rate_limit);
        let mut bucket: Option<Box<Bucket>> = None;
        // The heartbeat and the timer that ends its waits and the rate limit's pauses; none
        // for a transport with a heartbeat of its own and no rate limit here (a Socket.IO
        // namespace socket), which then keeps neither in its future.
        let mut timers = (heartbeat_on || rate.is_some())
            .then(|| Timers::new(config.ping_interval, config.ping_timeout));
        // Created once: a wait created per iteration would register with its signal on every
        // frame.
        let closing = socket.closing_signal().fired();
        let shutdown = runtime.shutdown.fired();
        tokio::pin!(closing, shutdown);
        loop {
            let throttled = bucket
                .as_deref()
                .is_some_and(|bucket| bucket.pause_until(Instant::now()).is_some());
            tokio::select! {
                biased;
                () = &mut closing => {
                    return socket.closing_cause().map_or(DisconnectReason::Kicked, |closing| closing.reason);
                }
                () = &mut shutdown => return DisconnectReason::ServerShutdown,
                Some(()) = running.next(), if !running.is_empty() => {}
                () = Timers::fired(&mut timers), if heartbeat_on || throttled => {
                    let now = Instant::now();
                    if let Some(timers) = timers.as_mut() {
                        let timers = timers.as_mut().project();
                        if heartbeat_on {
                            match timers.heartbeat.on_timer(now) {
                                Beat::Ping => socket.send_ping(),
                                Beat::Wait => {}
                                Beat::Timeout => return DisconnectReason::HeartbeatTimeout,
                            }
                        }
                        let at = wake_at(timers.heartbeat, heartbeat_on, bucket.as_deref(), now);
                        timers.timer.reset(at);
                    }
                }
                frame = stream.next(), if running.len() < config.max_in_flight && !throttled => {
                    let now = Instant::now();
                    if let Some(rate) = rate {
                        let bucket = bucket.get_or_insert_with(|| Box::new(Bucket::new(rate, now)));
                        bucket.take(now);
                    }
                    if let Some(timers) = timers.as_mut() {
                        let timers = timers.as_mut().project();
                        timers.heartbeat.seen(now);
                        if let Some(bucket) = bucket.as_deref().filter(|bucket| bucket.pause_until(now).is_some()) {
                            let at = wake_at(timers.heartbeat, heartbeat_on, Some(bucket), now);
                            timers.timer.reset(at);
                        }
                    }
                    // A frame the transport queued counts for its handoff until handled.
                    let busy = match &frame {
                        Some(Ok(Inbound::Started(_))) | Some(Err(_)) | None => None,
                        Some(Ok(_)) => handoff.map(|handoff| handoff.busy()),
                    };
                    match frame {
                        Some(Ok(Inbound::Message(Message::Text(text)))) => {
                            if let Some(handling) = dispatch(socket, text, None, &waker) {
                                running.push(Either::Left(Counted::new(handling, busy)));
                            }
                        }
                        Some(Ok(Inbound::Decoded(frame, decoded))) => {
                            if let Some(handling) = dispatch(socket, frame, Some(decoded), &waker) {
                                running.push(Either::Left(Counted::new(handling, busy)));
                            }
                        }
                        Some(Ok(Inbound::Started(started))) => running.push(Either::Right(started)),
                        Some(Ok(Inbound::Message(Message::Binary(_)))) => {
                            let exception = WsException::new(
                                "binary frames are not supported by this gateway: send JSON text frames",
                            );
                            let _ = socket.send_text(protocol::encode_exception(&exception, None).into());
                        }
                        Some(Ok(Inbound::Message(Message::Ping(_) | Message::Pong(_)))) => {}
                        Some(Ok(Inbound::Message(Message::Close(_)))) | None => return DisconnectReason::ClientClose,
                        Some(Err(err)) => return classify(err),
                    }
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The read loop's heartbeat and its timer, boxed: a connection that needs neither keeps
    /// only the empty option.
    struct Timers {
        heartbeat: Heartbeat,
        #[pin]
        timer: Sleep,
    }
}

impl Timers {
    fn new(interval: std::time::Duration, timeout: std::time::Duration) -> Pin<Box<Self>> {
        let heartbeat = Heartbeat::new(interval, timeout);
        let timer = sleep_until(heartbeat.deadline());
        Box::pin(Timers { heartbeat, timer })
    }

    /// Completes when the timer fires; never without timers.
    fn fired(timers: &mut Option<Pin<Box<Timers>>>) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| match timers.as_mut() {
            Some(timers) => timers.as_mut().project().timer.poll(cx),
            None => Poll::Pending,
        })
    }
}

/// A read error: an oversized frame, a broken transport, or a transport that says why it ended
/// ([`Ended`]).
fn classify(err: axum::Error) -> DisconnectReason {
    let err = err.into_inner();
    if let Some(Ended(reason)) = err.downcast_ref::<Ended>() {
        return reason.clone();
    }
    match err.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => DisconnectReason::MessageTooLarge,
        Some(tungstenite::Error::Utf8(_)) => DisconnectReason::InvalidPayload,
        _ => {
            tracing::debug!(error = %err, "WebSocket read failed");
            DisconnectReason::TransportError
        }
    }
}

/// Polls the running handlers until all have finished.
pub(super) async fn drain<F: Future<Output = ()>>(running: &mut Running<F>) {
    while running.next().await.is_some() {}
}

/// The handlers of one connection still running after their first poll. The set is created on
/// first use: most connections never need it, and an empty `FuturesUnordered` already holds a
/// task-sized allocation.
pub(super) struct Running<F>(Option<FuturesUnordered<F>>);

impl<F> Default for Running<F> {
    fn default() -> Self {
        Running(None)
    }
}

impl<F: Future<Output = ()>> Running<F> {
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, FuturesUnordered::len)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, handling: F) {
        self.0
            .get_or_insert_with(FuturesUnordered::new)
            .push(handling);
    }

    /// The next finished handler; `None` at once when none is running.
    fn next(&mut self) -> impl Future<Output = Option<()>> + '_ {
        std::future::poll_fn(move |cx| match &mut self.0 {
            Some(running) if !running.is_empty() => running.poll_next_unpin(cx),
            _ => Poll::Ready(None),
        })
    }
}

/// When the read loop's timer must fire next: the heartbeat's deadline, or sooner the end of a
/// pause of the rate limit.
fn wake_at(
    heartbeat: &Heartbeat,
    heartbeat_on: bool,
    bucket: Option<&Bucket>,
    now: Instant,
) -> Instant {
    let pause_ends = bucket.and_then(|bucket| bucket.pause_until(now));
    match (heartbeat_on, pause_ends) {
        (true, Some(at)) => heartbeat.deadline().min(at),
        (false, Some(at)) => at,
        (true, None) => heartbeat.deadline(),
        // Nothing to wake for: the timer is not polled then.
        (false, None) => heartbeat.deadline(),
    }
}
