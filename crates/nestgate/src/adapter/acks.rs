//! The answers of local sockets to one emit with an acknowledgement, as an [`AckStream`]: every
//! targeted socket answers once, with its value, a timeout, a disconnection or "not sent".

use crate::ack::{AckError, AckResponse, AckStream};
use crate::socket::Socket;
use futures_util::StreamExt as _;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The answers of local sockets: `receiver` gets each answer, `waiting` are the sockets
/// that were sent the frame, `failed` those it could not be queued for.
pub(crate) fn local_acks(
    receiver: mpsc::Receiver<AckResponse<Box<RawValue>>>,
    ack_id: u64,
    waiting: Vec<Socket>,
    failed: Vec<Arc<str>>,
    deadline: Instant,
) -> AckStream {
    let state = LocalAcks {
        receiver,
        ack_id,
        waiting: waiting
            .into_iter()
            .map(|socket| (Arc::from(socket.id()), socket))
            .collect(),
        finished: failed
            .into_iter()
            .map(|id| (id, AckError::NotSent))
            .collect(),
        deadline,
    };
    let stream = futures_util::stream::unfold(state, LocalAcks::next);
    AckStream::new(stream.boxed())
}

/// The state of a local ack stream. Dropping it forgets the acks still pending on the sockets.
struct LocalAcks {
    receiver: mpsc::Receiver<AckResponse<Box<RawValue>>>,
    ack_id: u64,
    waiting: HashMap<Arc<str>, Socket>,
    /// Failures to report before anything else: not sent, or timed out.
    finished: Vec<(Arc<str>, AckError)>,
    deadline: Instant,
}

impl LocalAcks {
    async fn next(mut self) -> Option<(AckResponse<Box<RawValue>>, Self)> {
        loop {
            if let Some((id, error)) = self.finished.pop() {
                let response = AckResponse {
                    socket: id.to_string(),
                    result: Err(error),
                };
                return Some((response, self));
            }
            if self.waiting.is_empty() {
                return None;
            }
            tokio::select! {
                answer = self.receiver.recv() => {
                    // Each waiting socket holds a sender until it answers or disconnects, so
                    // `None` cannot come while one is waiting; treat it as disconnection anyway.
                    let Some(answer) = answer else {
                        let gone = self.waiting.drain().map(|(id, _)| (id, AckError::Disconnected));
                        self.finished.extend(gone);
                        continue;
                    };
                    if self.waiting.remove(answer.socket.as_str()).is_some() {
                        return Some((answer, self));
                    }
                }
                () = tokio::time::sleep_until(self.deadline) => {
                    let ack_id = self.ack_id;
                    let late = self.waiting.drain().map(|(id, socket)| {
                        socket.forget_ack(ack_id);
                        socket.namespace().metrics().ack_timed_out(1);
                        (id, AckError::Timeout)
                    });
                    let late: Vec<_> = late.collect();
                    self.finished.extend(late);
                }
            }
        }
    }
}

impl Drop for LocalAcks {
    fn drop(&mut self) {
        for socket in self.waiting.values() {
            socket.forget_ack(self.ack_id);
        }
    }
}
