//! Dispatch of one incoming ws-json text frame: decode, route, the handler's first poll, and the
//! delivery of what it returns (replies, acks, streams, errors through the exception filters).

use crate::error::WsException;
use crate::extract::{Message, MessageParts, Payload};
use crate::filter::{ErrorHost, Failure};
use crate::handler::reply::{Reply, ReplyKind};
use crate::metrics::{NO_EVENT, UNKNOWN_EVENT};
use crate::protocol::{self, Decoded};
use crate::socket::Socket;
use axum::extract::ws::Utf8Bytes;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt as _, StreamExt as _};
use serde_json::value::RawValue;
use std::future::Future;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Decodes one text frame (unless its transport did: `decoded`) and starts its handler; answers
/// bad frames at once.
pub(crate) fn dispatch(
    socket: &Socket,
    frame: Utf8Bytes,
    decoded: Option<Decoded>,
    waker: &Waker,
) -> Option<impl Future<Output = ()> + Send + use<>> {
    let envelope = match decoded {
        Some(decoded) => decoded.envelope(frame.as_str()),
        None => match protocol::decode(frame.as_str()) {
            Ok(envelope) => envelope,
            Err(exception) => {
                socket
                    .namespace()
                    .metrics()
                    .error(NO_EVENT, "invalid_frame");
                protocol_error(socket, None, exception, None);
                return None;
            }
        },
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
        socket
            .namespace()
            .metrics()
            .error(NO_EVENT, "invalid_frame");
        protocol_error(socket, envelope.id, exception, None);
        return None;
    };
    let metrics = socket.namespace().metrics();
    let Some(route) = socket.namespace().route(&name) else {
        metrics.received(UNKNOWN_EVENT, frame.len());
        metrics.error(UNKNOWN_EVENT, "unknown_event");
        // The name is the client's: repeat at most a short prefix of it.
        let name = protocol::shown_name(&name);
        let exception = WsException::new(format!("unknown event '{name}'"));
        let data = protocol::data_text(frame.as_str(), &envelope.data);
        protocol_error(socket, envelope.id, exception, Some((&name, data)));
        return None;
    };
    let (event, id, data) = (route.event, envelope.id, envelope.data);
    metrics.received(event, frame.len());
    // A child of the connection's span; disabled (the default), it costs a check.
    let span = tracing::debug_span!(
        target: crate::metrics::TRACE_TARGET,
        "message",
        event,
        id,
        outcome = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    );
    // Measured only when something records it.
    let started = (metrics.on() || !span.is_disabled()).then(Instant::now);
    let parts = MessageParts {
        socket: socket.clone(),
        event,
        id,
        args: envelope.args,
    };
    let mut handler = (route.call)(Message::new(
        parts,
        Payload::new(frame.clone(), data.clone()),
    ));
    // Poll once right here: a handler that is done at once (most are) answers without a task
    // node or any other allocation of the runtime's own.
    let mut cx = Context::from_waker(waker);
    let first = span.in_scope(|| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(&mut cx))) {
            Ok(Poll::Ready(reply)) => match deliver_now(socket, reply, id, event, &frame, &data) {
                (Some(items), _) => Ok(Some(items)),
                (None, outcome) => Err(outcome),
            },
            Ok(Poll::Pending) => Ok(None),
            Err(_) => Err(handler_panicked(socket, id, event, &frame, &data)),
        }
    });
    let stream = match first {
        Ok(stream) => stream,
        Err(outcome) => {
            handled(socket, event, &span, started, outcome);
            return None;
        }
    };
    let socket = socket.clone();
    let running = span.clone();
    let handling = async move {
        let handling = async {
            let (items, outcome) = match stream {
                Some(items) => (Some(items), OK),
                None => deliver_now(&socket, handler.await, id, event, &frame, &data),
            };
            match items {
                Some(items) => deliver_stream(&socket, items, id, event, &frame, &data).await,
                None => outcome,
            }
        };
        let outcome = match AssertUnwindSafe(handling).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => handler_panicked(&socket, id, event, &frame, &data),
        };
        handled(&socket, event, &span, started, outcome);
    };
    Some(tracing::Instrument::instrument(handling, running))
}

/// How a message ended, as its span's `outcome` says: `ok`, or the kind of its error (the
/// `kind` label of `nestgate_handler_errors_total`).
type Outcome = &'static str;
const OK: Outcome = "ok";

/// Records how the message of `event` ended, and how long it took when it was measured.
fn handled(
    socket: &Socket,
    event: &'static str,
    span: &tracing::Span,
    started: Option<Instant>,
    outcome: Outcome,
) {
    span.record("outcome", outcome);
    if let Some(started) = started {
        let elapsed = started.elapsed();
        span.record("duration_us", elapsed.as_micros() as u64);
        socket
            .namespace()
            .metrics()
            .handled(event, elapsed.as_secs_f64());
    }
}

/// Answers "Internal server error" for a message whose handler panicked.
fn handler_panicked(
    socket: &Socket,
    id: Option<u64>,
    event: &'static str,
    frame: &Utf8Bytes,
    data: &Option<Range<usize>>,
) -> Outcome {
    tracing::error!(socket = %socket.id(), path = socket.path(), event, "handler panicked");
    socket.namespace().metrics().error(event, "panic");
    let exception = WsException::new(crate::error::INTERNAL_SERVER_ERROR);
    let data = protocol::data_text(frame.as_str(), data);
    let exception = filtered(socket, event, data, exception);
    send_error(socket, id, &exception, Some((event, data)));
    "panic"
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
) -> (
    Option<BoxStream<'static, Result<String, WsException>>>,
    Outcome,
) {
    let failed = |exception: &WsException| {
        let kind = exception.metric_kind();
        socket.namespace().metrics().error(event, kind);
        kind
    };
    let outcome = match (reply.kind, id) {
        (ReplyKind::None, None) => OK,
        (ReplyKind::None, Some(id)) => {
            let _ = socket.send_ack(id, "null");
            OK
        }
        (ReplyKind::Json(json), None) => {
            if json != "null" {
                let _ = send_reply(socket, json);
            }
            OK
        }
        (ReplyKind::Json(json), Some(id)) => {
            let _ = socket.send_ack(id, &json);
            OK
        }
        (ReplyKind::Error(exception), id) => {
            let outcome = failed(&exception);
            let data = protocol::data_text(frame.as_str(), data);
            let exception = filtered(socket, event, data, exception);
            send_error(socket, id, &exception, Some((event, data)));
            outcome
        }
        (ReplyKind::Failed(failure), id) => {
            let data = protocol::data_text(frame.as_str(), data);
            let exception = resolve(socket, event, data, failure);
            let outcome = failed(&exception);
            send_error(socket, id, &exception, Some((event, data)));
            outcome
        }
        (ReplyKind::Stream(items), _) => return (Some(items), OK),
    };
    (None, outcome)
}

/// Sends a reply to a frame without an id: an event reply (`WsResponse`) is a message to the
/// client like `socket.emit`, so with recovery on it is stored (and stamped) as one.
fn send_reply(socket: &Socket, json: String) -> Result<(), crate::SendError> {
    match socket.namespace().recovery() {
        Some(recovery) if json.starts_with("{\"event\":") && json.ends_with('}') => {
            socket.send_stored(recovery, json)
        }
        _ => socket.send_text(json.into()),
    }
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
) -> Outcome {
    let cause = || Some((event, protocol::data_text(frame.as_str(), data)));
    let mut array = id.map(|_| String::from("["));
    loop {
        let item = tokio::select! {
            biased;
            () = socket.closing_signal().fired() => return "gone",
            item = items.next() => item,
        };
        match (item, &mut array) {
            (None, _) => break,
            (Some(Err(exception)), _) => {
                let kind = exception.metric_kind();
                socket.namespace().metrics().error(event, kind);
                send_error(socket, id, &exception, cause());
                return kind;
            }
            (Some(Ok(json)), Some(array)) => {
                if array.len() > 1 {
                    array.push(',');
                }
                array.push_str(&json);
            }
            (Some(Ok(json)), None) => {
                if json != "null" && send_reply(socket, json).is_err() {
                    return "gone";
                }
            }
        }
    }
    if let (Some(id), Some(mut array)) = (id, array) {
        array.push(']');
        let _ = socket.send_text(protocol::encode_ack(id, &array).into());
    }
    OK
}
