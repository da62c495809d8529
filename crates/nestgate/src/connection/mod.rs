//! One client connection: the read loop (decode, dispatch, heartbeat) and the write loop (the
//! bounded outbound queue), shared by both wire modes.
//!
//! Each connection is two tasks. The reader owns the stream half, runs the connection hooks and
//! drives the connection's running handlers; the writer owns the sink half and drains the
//! outbound queue, so a client that reads slowly never stalls its own reader or anyone else.

mod dispatch;
mod handoff;
mod heartbeat;
mod reader;
mod recovery;
mod writer;

pub(crate) use dispatch::dispatch;
pub(crate) use handoff::{Handoff, Started};
pub(crate) use recovery::{Recovering, accept};

use crate::close;
use crate::namespace::Namespace;
use crate::protocol;
use crate::runtime::Runtime;
use crate::socket::{DisconnectReason, Socket};
use axum::extract::ws::Message;
use reader::{Running, drain, read_loop};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::time::timeout;
use writer::{Writer, finish, write_loop};

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
    /// Drain the outbound queue in a writer task of its own while the connection lives. Without
    /// it (a Socket.IO namespace socket, whose frames go through its text sink and whose queue
    /// only ever holds its close), the queue is drained by the reader task once it ends: one
    /// task and its allocation fewer per socket.
    pub(crate) writer_task: bool,
    /// Shared with the transport, which then starts handlers itself while the reader has
    /// nothing to do ([`Handoff`]).
    pub(crate) handoff: Option<Arc<Handoff>>,
    /// A transport that takes part in connection-state recovery (ws-json, when the app turned
    /// it on): what the connection brought. Boxed: it is used up at registration, and the
    /// connection's future keeps its room for its whole life.
    pub(crate) recovery: Option<Box<Recovering>>,
    /// Which wire mode it is, for the metrics.
    pub(crate) wire: crate::metrics::Wire,
}

/// What a transport's stream brings: a WebSocket message, a frame the transport decoded itself
/// (Socket.IO's events and acks) with the text it is a part of, or a handler the transport
/// started itself ([`Handoff`]) that the reader polls from now on.
pub(crate) enum Inbound {
    Message(Message),
    Decoded(axum::extract::ws::Utf8Bytes, crate::protocol::Decoded),
    Started(Started),
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inbound::Message(message) => f.debug_tuple("Message").field(message).finish(),
            Inbound::Decoded(text, decoded) => {
                f.debug_tuple("Decoded").field(text).field(decoded).finish()
            }
            Inbound::Started(_) => f.write_str("Started"),
        }
    }
}

/// The last item of a transport's stream when the transport knows why it ended: the socket ends
/// with that reason. A Socket.IO namespace socket gets one when its Engine.IO session ends
/// (Socket.IO maps the session's reason), so the driver needs to know no engine type.
#[derive(Debug, thiserror::Error)]
#[error("the transport ended: {0}")]
pub(crate) struct Ended(pub(crate) DisconnectReason);

/// The reader task of one socket: hooks, read loop, disconnect. `socket` is new and in no
/// table yet.
///
/// Not an `async fn`, and its block uses what it captures in place: an `async fn` keeps its
/// arguments beside the locals made from them, and a destructured capture is kept twice too —
/// for the connection's whole life.
pub(crate) fn serve<S, K>(
    socket: Socket,
    transport: Transport<S, K>,
    runtime: Arc<Runtime>,
    namespace: Arc<Namespace>,
) -> impl std::future::Future<Output = ()> + Send
where
    S: futures_util::Stream<Item = Result<Inbound, axum::Error>> + Unpin + Send,
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin + Send + 'static,
{
    let Transport {
        mut stream,
        sink,
        heartbeat,
        close_handshake,
        rate_limit,
        writer_task,
        handoff,
        recovery,
        wire,
    } = transport;
    let recovers = recovery.is_some();
    let mut writer = if writer_task {
        Writer::Task(tokio::spawn(write_loop(sink, socket.clone())))
    } else {
        Writer::Inline(Some(Box::new(sink)))
    };
    let span = tracing::debug_span!(
        target: crate::metrics::TRACE_TARGET,
        "connection",
        id = %socket.id(),
        path = %namespace.path(),
        transport = wire.label(),
        remote = tracing::field::Empty,
    );
    if let Some(remote) = socket.handshake().remote_addr() {
        span.record("remote", tracing::field::display(remote));
    }
    let connection = async move {
        // The hooks' futures are boxed: a connection spends its life in the read loop, and
        // unboxed every idle connection would keep room for the largest of them.
        if let Err(reject) = Box::pin(namespace.connect(&socket)).await {
            tracing::debug!(socket = %socket.id(), code = reject.code(), reason = reject.reason(), "connection rejected");
            namespace.metrics().rejected("hook");
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
        recovery::register(&socket, &namespace, recovery).await;
        namespace.metrics().accepted(wire);
        if let Some(observer) = &runtime.observer {
            observer.connected(&socket);
        }
        crate::refresh::watch_if_expiring(&socket);

        let mut running = Running::default();
        // From here the transport may start handlers itself, until the loop ends.
        if let Some(handoff) = &handoff {
            handoff.done();
        }
        let reason = read_loop(
            &socket,
            &mut stream,
            &mut running,
            dispatch,
            reader::Options {
                heartbeat_on: heartbeat,
                rate_limit,
                handoff: handoff.as_ref(),
            },
        )
        .await;
        if let Some(handoff) = &handoff {
            handoff.stop();
        }
        // What a lost socket's session keeps: the rooms before they are left.
        let rooms = recovers.then(|| socket.rooms());
        namespace.store().remove(&socket);
        socket.fail_pending_acks();
        let shutdown_timeout = runtime.config.shutdown_timeout;
        close_for(&socket, reason, shutdown_timeout, &mut running).await;
        let cause = socket
            .closing_cause()
            .map_or(DisconnectReason::TransportError, |closing| closing.reason);
        if let Some(rooms) = rooms {
            recovery::save(&socket, &namespace, rooms, &cause);
        }
        tracing::debug!(socket = %socket.id(), reason = %cause, "disconnected");
        namespace.metrics().disconnected(wire, cause.label());
        if let Some(observer) = &runtime.observer {
            observer.disconnected(&socket, &cause);
        }
        Box::pin(namespace.disconnect(&socket, &cause)).await;
        // Handlers still running for a client that left get the same deadline as at shutdown.
        let _ = timeout(shutdown_timeout, drain(&mut running)).await;
        finish(&socket, &mut stream, &mut writer, close_handshake).await;
    };
    tracing::Instrument::instrument(connection, span)
}

/// Closes the socket as its read loop's end calls for (at shutdown, once the running handlers
/// have answered or `shutdown_timeout` has passed).
async fn close_for<F: std::future::Future<Output = ()>>(
    socket: &Socket,
    reason: DisconnectReason,
    shutdown_timeout: std::time::Duration,
    running: &mut Running<F>,
) {
    match reason {
        DisconnectReason::ServerShutdown => {
            // Let running handlers answer, then say goodbye.
            let _ = timeout(shutdown_timeout, drain(running)).await;
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
}
