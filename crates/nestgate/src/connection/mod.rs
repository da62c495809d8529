//! One client connection: the read loop (decode, dispatch, heartbeat) and the write loop (the
//! bounded outbound queue), shared by both wire modes.
//!
//! Each connection is two tasks. The reader owns the stream half, runs the connection hooks and
//! drives the connection's running handlers; the writer owns the sink half and drains the
//! outbound queue, so a client that reads slowly never stalls its own reader or anyone else.

use crate::close;
use crate::error::WsException;
use crate::extract::{Message as InMessage, MessageParts, Payload};
use crate::filter::{ErrorHost, Failure};
use crate::namespace::Namespace;
use crate::outbound::Outbound;
use crate::protocol;
use crate::reply::{Reply, ReplyKind};
use crate::runtime::Runtime;
use crate::socket::{Closing, DisconnectReason, Socket};
use crate::util::rate::Bucket;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::future::Future;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout};

/// How long queued frames get to drain before a graceful close becomes an abort, and how long a
/// closing connection waits for the client's close frame before dropping the transport.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How long the writer keeps trying to get the close frame out to a client that reads slowly (a
/// slow consumer must drain what it was sent before it can see its 1013). Dropping the transport
/// earlier would reset it, and the client would see no close code at all.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a socket's frames travel over: a WebSocket for ws-json, or a Socket.IO namespace on an
/// Engine.IO session (whose frames the Socket.IO codec translates, and which has a heartbeat
/// and a close handshake of its own).
pub(crate) struct Transport<S, K> {
    pub(crate) stream: S,
    pub(crate) sink: K,
    /// Ping the client and close it when it stays silent.
    pub(crate) heartbeat: bool,
    /// Wait for the client's close frame after sending ours.
    pub(crate) close_handshake: bool,
    /// Read at most [`App::max_messages_per_second`](crate::App::max_messages_per_second).
    pub(crate) rate_limit: bool,
}

/// The reader task of one socket: hooks, read loop, disconnect. `socket` is new and in no
/// table yet.
pub(crate) async fn serve<S, K>(
    socket: Socket,
    transport: Transport<S, K>,
    runtime: Arc<Runtime>,
    namespace: Arc<Namespace>,
) where
    S: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin + Send + 'static,
{
    let Transport {
        mut stream,
        sink,
        heartbeat,
        close_handshake,
        rate_limit,
    } = transport;
    let mut writer = tokio::spawn(write_loop(sink, socket.clone()));

    if let Err(reject) = namespace.connect(&socket).await {
        tracing::debug!(socket = %socket.id(), code = reject.code(), reason = reject.reason(), "connection rejected");
        if let Some(exception) = reject.exception() {
            let frame = protocol::encode_exception(exception, Some(protocol::CONNECTION_CAUSE));
            let _ = socket.send_text(frame.into());
        }
        let frame = (reject.code(), Cow::Owned(reject.reason().to_owned()));
        socket.close(DisconnectReason::Kicked, Some(frame));
        // The hook may have joined rooms before rejecting: leave them.
        namespace.store().remove(&socket);
        finish(&socket, &mut stream, &mut writer, close_handshake).await;
        return;
    }
    namespace.store().insert(socket.clone());
    crate::refresh::watch_if_expiring(&socket);

    let mut running = Running::default();
    let reason = read_loop(
        &socket,
        &mut stream,
        &mut running,
        dispatch,
        heartbeat,
        rate_limit,
    )
    .await;
    namespace.store().remove(&socket);
    socket.fail_pending_acks();
    let config = &runtime.config;
    match reason {
        DisconnectReason::ServerShutdown => {
            // Let running handlers answer, then say goodbye.
            let _ = timeout(config.shutdown_timeout, drain(&mut running)).await;
            socket.close(
                reason,
                Some((close::GOING_AWAY, Cow::Borrowed("server shutting down"))),
            );
        }
        DisconnectReason::ClientClose | DisconnectReason::TransportError => {
            socket.abort(reason, None)
        }
        DisconnectReason::HeartbeatTimeout => {
            socket.close(
                reason,
                Some((close::POLICY, Cow::Borrowed("heartbeat timeout"))),
            );
        }
        DisconnectReason::MessageTooLarge => {
            socket.close(
                reason,
                Some((close::TOO_BIG, Cow::Borrowed("message too large"))),
            );
        }
        DisconnectReason::InvalidPayload => {
            socket.close(
                reason,
                Some((close::INVALID_PAYLOAD, Cow::Borrowed("invalid UTF-8"))),
            );
        }
        // Kicked and slow consumers closed themselves already.
        _ => {}
    }
    let cause = socket
        .closing_cause()
        .map_or(DisconnectReason::TransportError, |closing| closing.reason);
    tracing::debug!(socket = %socket.id(), reason = %cause, "disconnected");
    namespace.disconnect(&socket, &cause).await;
    // Handlers still running for a client that left get the same deadline as at shutdown.
    let _ = timeout(config.shutdown_timeout, drain(&mut running)).await;
    finish(&socket, &mut stream, &mut writer, close_handshake).await;
}

/// Reads and dispatches frames until the connection should end; returns why.
///
/// `running` holds the connection's handlers: they are polled by this task, before the next
/// frame is read (`biased`), so handlers that finish at once answer in the order of the frames.
async fn read_loop<S, F, D>(
    socket: &Socket,
    stream: &mut S,
    running: &mut Running<F>,
    dispatch: D,
    heartbeat_on: bool,
    rate_limit: bool,
) -> DisconnectReason
where
    S: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
    F: Future<Output = ()>,
    D: Fn(&Socket, Utf8Bytes, &Waker) -> Option<F>,
{
    // The reader task's waker, for the first poll of each handler in `dispatch`.
    let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
    let runtime = socket.runtime().clone();
    let config = &runtime.config;
    let mut heartbeat = Heartbeat::new(config.ping_interval, config.ping_timeout);
    // Past the message rate, reading pauses until the next message is due (backpressure).
    // Made at the first frame: a connection that never sends holds only the empty box.
    let rate = config.message_rate.filter(|_| rate_limit);
    let mut bucket: Option<Box<Bucket>> = None;
    // Without `heartbeat_on` (a transport with a heartbeat of its own) the timer is only polled
    // to end a pause of the rate limit.
    let timer = sleep_until(heartbeat.deadline());
    // Created once: a wait created per iteration would register with its signal on every frame.
    let closing = socket.closing_signal().fired();
    let shutdown = runtime.shutdown.fired();
    tokio::pin!(timer, closing, shutdown);
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
            () = &mut timer, if heartbeat_on || throttled => {
                let now = Instant::now();
                if heartbeat_on {
                    match heartbeat.on_timer(now) {
                        Beat::Ping => socket.send_ping(),
                        Beat::Wait => {}
                        Beat::Timeout => return DisconnectReason::HeartbeatTimeout,
                    }
                }
                timer.as_mut().reset(wake_at(&heartbeat, heartbeat_on, bucket.as_deref(), now));
            }
            frame = stream.next(), if running.len() < config.max_in_flight && !throttled => {
                let now = Instant::now();
                heartbeat.seen(now);
                if let Some(rate) = rate {
                    let bucket = bucket.get_or_insert_with(|| Box::new(Bucket::new(rate, now)));
                    bucket.take(now);
                    if bucket.pause_until(now).is_some() {
                        timer.as_mut().reset(wake_at(&heartbeat, heartbeat_on, Some(bucket), now));
                    }
                }
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(handling) = dispatch(socket, text, &waker) {
                            running.push(handling);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let exception = WsException::new(
                            "binary frames are not supported by this gateway: send JSON text frames",
                        );
                        let _ = socket.send_text(protocol::encode_exception(&exception, None).into());
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => return DisconnectReason::ClientClose,
                    Some(Err(err)) => return classify(err),
                }
            }
        }
    }
}

/// A read error: an oversized frame, or a broken transport.
fn classify(err: axum::Error) -> DisconnectReason {
    let err = err.into_inner();
    if let Some(ended) = err.downcast_ref::<crate::socketio::SessionEnded>() {
        use crate::engineio::CloseReason;
        return match ended.0 {
            CloseReason::ClientClose => DisconnectReason::ClientClose,
            CloseReason::PingTimeout => DisconnectReason::HeartbeatTimeout,
            CloseReason::TooLarge => DisconnectReason::MessageTooLarge,
            CloseReason::SlowClient => DisconnectReason::SlowConsumer,
            _ => DisconnectReason::TransportError,
        };
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
async fn drain<F: Future<Output = ()>>(running: &mut Running<F>) {
    while running.next().await.is_some() {}
}

/// The handlers of one connection still running after their first poll. The set is created on
/// first use: most connections never need it, and an empty `FuturesUnordered` already holds a
/// task-sized allocation.
struct Running<F>(Option<FuturesUnordered<F>>);

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

/// Waits for the writer to send the close frame, then for the client's close frame, each within
/// a grace period; a client that does not cooperate has its transport dropped.
///
/// While the writer waits, what the client sends is read and dropped: a client blocked on
/// writing (a flood, a large message) reads nothing, and would otherwise never get to read the
/// close frame. What still arrives after the transport is dropped is drained by the transport
/// itself (`ws::websocket::Linger`).
async fn finish<S>(
    socket: &Socket,
    stream: &mut S,
    writer: &mut tokio::task::JoinHandle<()>,
    close_handshake: bool,
) where
    S: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let written = async {
        if timeout(CLOSE_GRACE, &mut *writer).await.is_err() {
            socket.abort_signal().fire();
            // The writer bounds its own close by CLOSE_TIMEOUT; the margin only covers scheduling.
            let _ = timeout(CLOSE_TIMEOUT + Duration::from_secs(1), &mut *writer).await;
        }
    };
    tokio::pin!(written);
    // Whether the stream may still bring the client's close frame.
    let mut open = close_handshake;
    loop {
        tokio::select! {
            biased;
            () = &mut written => break,
            message = stream.next(), if open => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => open = false,
                Some(Ok(_)) => {}
            },
        }
    }
    if !open {
        return;
    }
    // Read until the client's close frame so that the transport is not reset under it.
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Decodes one text frame and starts its handler; answers bad frames at once.
pub(crate) fn dispatch(
    socket: &Socket,
    frame: Utf8Bytes,
    waker: &Waker,
) -> Option<impl Future<Output = ()> + Send + use<>> {
    let envelope = match protocol::decode(frame.as_str()) {
        Ok(envelope) => envelope,
        Err(exception) => {
            protocol_error(socket, None, exception, None);
            return None;
        }
    };
    if let (None, Some(ack)) = (&envelope.event, envelope.ack) {
        answer_ack(
            socket,
            ack,
            protocol::data_text(frame.as_str(), &envelope.data),
        );
        return None;
    }
    // An empty name is reported as a missing one.
    let Some(name) = envelope.event.filter(|name| !name.is_empty()) else {
        let exception = WsException::new("invalid frame: missing \"event\" field");
        protocol_error(socket, envelope.id, exception, None);
        return None;
    };
    let Some(route) = socket.namespace().route(&name) else {
        // The name is the client's: repeat at most a short prefix of it.
        let name = protocol::shown_name(&name);
        let exception = WsException::new(format!("unknown event '{name}'"));
        let data = protocol::data_text(frame.as_str(), &envelope.data);
        protocol_error(socket, envelope.id, exception, Some((&name, data)));
        return None;
    };
    let (event, id, data) = (route.event, envelope.id, envelope.data);
    let parts = MessageParts {
        socket: socket.clone(),
        event,
        id,
        args: envelope.args,
    };
    let mut handler = (route.call)(InMessage::new(
        parts,
        Payload::new(frame.clone(), data.clone()),
    ));
    // Poll once right here: a handler that is done at once (most are) answers without a task
    // node or any other allocation of the runtime's own.
    let mut cx = Context::from_waker(waker);
    let stream = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(&mut cx)))
    {
        Ok(Poll::Ready(reply)) => Some(deliver_now(socket, reply, id, event, &frame, &data)?),
        Ok(Poll::Pending) => None,
        Err(_) => {
            handler_panicked(socket, id, event, &frame, &data);
            return None;
        }
    };
    let socket = socket.clone();
    Some(async move {
        let handling = async {
            let items = match stream {
                Some(items) => Some(items),
                None => deliver_now(&socket, handler.await, id, event, &frame, &data),
            };
            if let Some(items) = items {
                deliver_stream(&socket, items, id, event, &frame, &data).await;
            }
        };
        if AssertUnwindSafe(handling).catch_unwind().await.is_err() {
            handler_panicked(&socket, id, event, &frame, &data);
        }
    })
}

/// Answers "Internal server error" for a message whose handler panicked.
fn handler_panicked(
    socket: &Socket,
    id: Option<u64>,
    event: &'static str,
    frame: &Utf8Bytes,
    data: &Option<Range<usize>>,
) {
    tracing::error!(socket = %socket.id(), path = socket.path(), event, "handler panicked");
    let exception = WsException::new(crate::error::INTERNAL_SERVER_ERROR);
    let data = protocol::data_text(frame.as_str(), data);
    let exception = filtered(socket, event, data, exception);
    send_error(socket, id, &exception, Some((event, data)));
}

/// Delivers a client's `{"ack": <id>, "data": ...}` to whoever waits for it.
fn answer_ack(socket: &Socket, ack: u64, data: &str) {
    // `data` is a slice of JSON the decoder just validated, so it is valid raw JSON.
    let Ok(data) = RawValue::from_string(data.to_owned()) else {
        return;
    };
    if !socket.resolve_ack(ack, data) {
        tracing::debug!(socket = %socket.id(), ack, "an answer to an ack nobody waits for (late or unknown)");
    }
}

/// An exception of `event` after the filters that may see it (without boxing it when there are
/// none, the common case).
fn filtered(
    socket: &Socket,
    event: &'static str,
    data: &str,
    exception: WsException,
) -> WsException {
    let has_filters = !socket.runtime().filters.is_empty()
        || socket
            .namespace()
            .route(event)
            .is_some_and(|route| !route.filters.is_empty());
    if has_filters {
        resolve(socket, event, data, Failure::exception(exception))
    } else {
        exception
    }
}

/// The exception a handler's error becomes: its route's filters, then the app's, then its own
/// conversion.
fn resolve(socket: &Socket, event: &'static str, data: &str, failure: Failure) -> WsException {
    let route_filters = socket
        .namespace()
        .route(event)
        .map_or(&[][..], |route| route.filters.as_slice());
    let host = ErrorHost::new(socket, Some(event), data);
    failure.resolve(route_filters.iter().chain(&socket.runtime().filters), &host)
}

/// Answers a frame that reached no handler, through the app's filters.
fn protocol_error(
    socket: &Socket,
    id: Option<u64>,
    exception: WsException,
    cause: Option<(&str, &str)>,
) {
    let filters = &socket.runtime().filters;
    let exception = if filters.is_empty() {
        exception
    } else {
        let (event, data) = cause.map_or((None, "null"), |(event, data)| (Some(event), data));
        let host = ErrorHost::new(socket, event, data);
        Failure::exception(exception).resolve(filters, &host)
    };
    send_error(socket, id, &exception, cause);
}

/// Sends an error as an ack error (when the frame had an id) or as an exception frame.
fn send_error(
    socket: &Socket,
    id: Option<u64>,
    exception: &WsException,
    cause: Option<(&str, &str)>,
) {
    let frame = match id {
        Some(id) => protocol::encode_ack_error(id, exception),
        None => {
            protocol::encode_exception(exception, cause.map(|(event, data)| (event, Some(data))))
        }
    };
    let _ = socket.send_text(frame.into());
}

/// Sends a handler's reply as NestJS does without an id, as exactly one ack with one; returns
/// the items of a stream reply, which [`deliver_stream`] sends.
fn deliver_now(
    socket: &Socket,
    reply: Reply,
    id: Option<u64>,
    event: &'static str,
    frame: &Utf8Bytes,
    data: &Option<Range<usize>>,
) -> Option<BoxStream<'static, Result<String, WsException>>> {
    match (reply.kind, id) {
        (ReplyKind::None, None) => {}
        (ReplyKind::None, Some(id)) => {
            let _ = socket.send_text(protocol::encode_ack(id, "null").into());
        }
        (ReplyKind::Json(json), None) => {
            if json != "null" {
                let _ = socket.send_text(json.into());
            }
        }
        (ReplyKind::Json(json), Some(id)) => {
            let _ = socket.send_text(protocol::encode_ack(id, &json).into());
        }
        (ReplyKind::Error(exception), id) => {
            let data = protocol::data_text(frame.as_str(), data);
            let exception = filtered(socket, event, data, exception);
            send_error(socket, id, &exception, Some((event, data)));
        }
        (ReplyKind::Failed(failure), id) => {
            let data = protocol::data_text(frame.as_str(), data);
            let exception = resolve(socket, event, data, failure);
            send_error(socket, id, &exception, Some((event, data)));
        }
        (ReplyKind::Stream(items), _) => return Some(items),
    }
    None
}

/// Sends a stream reply: one frame per item without an id, one ack with all items with one.
/// Stops when the client leaves.
async fn deliver_stream(
    socket: &Socket,
    mut items: BoxStream<'static, Result<String, WsException>>,
    id: Option<u64>,
    event: &'static str,
    frame: &Utf8Bytes,
    data: &Option<Range<usize>>,
) {
    let cause = || Some((event, protocol::data_text(frame.as_str(), data)));
    let mut array = id.map(|_| String::from("["));
    loop {
        let item = tokio::select! {
            biased;
            () = socket.closing_signal().fired() => return,
            item = items.next() => item,
        };
        match (item, &mut array) {
            (None, _) => break,
            (Some(Err(exception)), _) => return send_error(socket, id, &exception, cause()),
            (Some(Ok(json)), Some(array)) => {
                if array.len() > 1 {
                    array.push(',');
                }
                array.push_str(&json);
            }
            (Some(Ok(json)), None) => {
                if json != "null" && socket.send_text(json.into()).is_err() {
                    return;
                }
            }
        }
    }
    if let (Some(id), Some(mut array)) = (id, array) {
        array.push(']');
        let _ = socket.send_text(protocol::encode_ack(id, &array).into());
    }
}

/// The writer task: drains the outbound queue into the WebSocket, batching writes.
async fn write_loop<K>(mut sink: K, socket: Socket)
where
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    let queue = socket.outbound();
    // Created once, not per batch: see `read_loop`.
    let aborted = socket.abort_signal().fired();
    tokio::pin!(aborted);
    loop {
        let first = tokio::select! {
            biased;
            () = &mut aborted => break,
            message = queue.pop() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let written = tokio::select! {
            biased;
            () = &mut aborted => break,
            written = write_batch(&mut sink, queue, first) => written,
        };
        match written {
            Ok(false) => {}
            Ok(true) => {
                queue.close();
                return;
            }
            Err(err) => {
                tracing::debug!(socket = %socket.id(), error = %err, "WebSocket write failed");
                queue.close();
                socket.abort(DisconnectReason::TransportError, None);
                return;
            }
        }
    }
    // Aborted: what is queued is dropped; the close frame, if the cause has one, goes directly.
    queue.close();
    let _ = timeout(CLOSE_TIMEOUT, async {
        match socket.closing_cause() {
            Some(Closing {
                frame: Some((code, reason)),
                ..
            }) => {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason.as_ref()),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
            }
            // Flushes tungstenite's reply to a client's close frame, if one is pending.
            _ => {
                let _ = sink.close().await;
            }
        }
    })
    .await;
}

/// Writes `first` and whatever else is already queued, then flushes once.
/// Returns whether a close frame was written (the writer is then done).
async fn write_batch<K>(sink: &mut K, queue: &Outbound, first: Message) -> Result<bool, axum::Error>
where
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    let mut closed = matches!(first, Message::Close(_));
    sink.feed(first).await?;
    while !closed {
        let Some(next) = queue.try_pop() else { break };
        closed = matches!(next, Message::Close(_));
        sink.feed(next).await?;
    }
    sink.flush().await?;
    Ok(closed)
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

/// When to ping an idle client, and when to give up on one that does not answer.
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_seen: Instant,
    pinged_at: Option<Instant>,
}

enum Beat {
    Ping,
    Wait,
    Timeout,
}

impl Heartbeat {
    fn new(interval: Duration, timeout: Duration) -> Self {
        Heartbeat {
            interval,
            timeout,
            last_seen: Instant::now(),
            pinged_at: None,
        }
    }

    /// Any frame from the client proves it alive.
    fn seen(&mut self, now: Instant) {
        self.last_seen = now;
        self.pinged_at = None;
    }

    fn deadline(&self) -> Instant {
        match self.pinged_at {
            Some(pinged_at) => pinged_at + self.timeout,
            None => self.last_seen + self.interval,
        }
    }

    fn on_timer(&mut self, now: Instant) -> Beat {
        match self.pinged_at {
            Some(pinged_at) if now >= pinged_at + self.timeout => Beat::Timeout,
            Some(_) => Beat::Wait,
            None if now >= self.last_seen + self.interval => {
                self.pinged_at = Some(now);
                Beat::Ping
            }
            None => Beat::Wait,
        }
    }
}
