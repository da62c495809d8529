//! The writer task (it drains the outbound queue into the transport, batching writes) and the
//! end of a connection: the close frame out, the client's close frame in, each within a grace.

use super::Inbound;
use crate::socket::outbound::Outbound;
use crate::socket::{Closing, DisconnectReason, Socket};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{SinkExt as _, StreamExt as _};
use std::time::Duration;
use tokio::time::timeout;

/// How long queued frames get to drain before a graceful close becomes an abort, and how long a
/// closing connection waits for the client's close frame before dropping the transport.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How long the writer keeps trying to get the close frame out to a client that reads slowly (a
/// slow consumer must drain what it was sent before it can see its 1013). Dropping the transport
/// earlier would reset it, and the client would see no close code at all.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer task: drains the outbound queue into the WebSocket, batching writes.
pub(super) async fn write_loop<K>(mut sink: K, socket: Socket)
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

/// The writer of a connection: a task of its own, or (see `Transport::writer_task`) the sink,
/// drained by [`finish`] in the reader task.
pub(crate) enum Writer<K> {
    Task(tokio::task::JoinHandle<()>),
    /// Boxed: the writer is part of every connection's future, whose writer task holds the
    /// sink itself (ws-json's is 56 bytes).
    Inline(Option<Box<K>>),
}

impl<K> Writer<K>
where
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    /// Completes when the writer is done: the task has ended, or the queue is drained here.
    async fn done(&mut self, socket: &Socket) {
        match self {
            Writer::Task(task) => {
                let _ = task.await;
            }
            Writer::Inline(sink) => {
                if let Some(sink) = sink.take() {
                    // Boxed: unboxed, the write loop's state would be part of every
                    // connection's future, writer task or not, for its whole life.
                    Box::pin(write_loop(*sink, socket.clone())).await;
                }
            }
        }
    }
}

/// Waits for the writer to send the close frame, then for the client's close frame, each within
/// a grace period; a client that does not cooperate has its transport dropped.
///
/// While the writer waits, what the client sends is read and dropped: a client blocked on
/// writing (a flood, a large message) reads nothing, and would otherwise never get to read the
/// close frame. What still arrives after the transport is dropped is drained by the transport
/// itself (`util::websocket::Linger`).
pub(super) async fn finish<S, K>(
    socket: &Socket,
    stream: &mut S,
    writer: &mut Writer<K>,
    close_handshake: bool,
) where
    S: futures_util::Stream<Item = Result<Inbound, axum::Error>> + Unpin,
    K: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    let written = async {
        let done = writer.done(socket);
        tokio::pin!(done);
        if timeout(CLOSE_GRACE, &mut done).await.is_err() {
            socket.abort_signal().fire();
            // The writer bounds its own close by CLOSE_TIMEOUT; the margin only covers scheduling.
            let _ = timeout(CLOSE_TIMEOUT + Duration::from_secs(1), &mut done).await;
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
                Some(Ok(Inbound::Message(Message::Close(_)))) | Some(Err(_)) | None => open = false,
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
            if matches!(message, Inbound::Message(Message::Close(_))) {
                break;
            }
        }
    })
    .await;
}
