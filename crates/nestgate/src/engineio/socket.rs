//! A session as the application sees it: [`EngineSocket`] (the client's messages, and a way to
//! answer), [`EngineSender`], and why a session ended.

use super::packet::{EngineMessage, Packet};
use super::session::{Session, budget};
use crate::handshake::Handshake;
use crate::util::queue;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why an Engine.IO session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent a close packet.
    ClientClose,
    /// The transport ended without one (the client went away, or a write failed).
    TransportClose,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client broke the protocol (an invalid packet, two polls at once).
    InvalidPacket,
    /// A message or request body over `maxPayload`.
    TooLarge,
    /// Packets piled up for a client that does not read.
    SlowClient,
    /// The server closed it.
    ServerClose,
}

/// Why a message was not queued for an Engine.IO session (formerly `SendError`, the name of
/// a nestgate socket's own error, `nestgate::SendError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EngineSendError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
}

/// A session as the application sees it: the client's messages, and a way to answer.
#[derive(Debug)]
pub struct EngineSocket {
    pub(super) sender: EngineSender,
    pub(super) incoming: queue::Receiver<EngineMessage>,
    /// Bytes given back to the session's incoming budget as messages are taken.
    pub(super) incoming_budget: Arc<Semaphore>,
    pub(super) max_incoming: usize,
    pub(super) handshake: Handshake,
}

/// Sends to one session; cheap to clone.
#[derive(Clone)]
pub struct EngineSender {
    pub(super) session: Arc<Session>,
}

impl std::fmt::Debug for EngineSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSender")
            .field("sid", &self.session.sid)
            .finish()
    }
}

impl EngineSocket {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.sender.session.sid
    }

    /// The request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The next message from the client; `None` once the session is closed.
    pub async fn recv(&mut self) -> Option<EngineMessage> {
        let payload = self.incoming.recv().await?;
        self.incoming_budget
            .add_permits(budget(&payload, self.max_incoming) as usize);
        Some(payload)
    }

    /// Queues a message for the client.
    pub fn send(&self, payload: EngineMessage) -> Result<(), EngineSendError> {
        self.sender.send(payload)
    }

    /// A sender for this session.
    pub fn sender(&self) -> EngineSender {
        self.sender.clone()
    }

    /// Closes the session.
    pub fn close(&self) {
        self.sender.close();
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.sender.close_reason()
    }
}

impl EngineSender {
    #[cfg(test)]
    pub(crate) fn of(session: Arc<Session>) -> Self {
        EngineSender { session }
    }

    /// The messages queued for the client (for unit tests).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> Vec<EngineMessage> {
        let state = self.session.state();
        let messages = state.packets.iter().filter_map(|packet| match packet {
            Packet::Message(payload) => Some(payload.clone()),
            Packet::Encoded(wire) => {
                // The message's text: the wire form without its `4`, the same bytes.
                let text = bytes::Bytes::from(wire.clone()).slice(1..);
                Some(EngineMessage::Text(
                    text.try_into().expect("UTF-8 after an ASCII byte"),
                ))
            }
            _ => None,
        });
        messages.collect()
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.session.sid
    }

    /// Queues a message for the client. A client that lets `max_buffered` packets or
    /// `max_buffered_bytes` pile up is disconnected.
    pub fn send(&self, payload: EngineMessage) -> Result<(), EngineSendError> {
        self.session.queue(Packet::Message(payload))
    }

    /// Queues several messages at once (they are written together).
    pub fn send_all(
        &self,
        payloads: impl IntoIterator<Item = EngineMessage>,
    ) -> Result<(), EngineSendError> {
        self.queue_all(payloads, false).map(drop)
    }

    /// [`send_all`](Self::send_all), or for a `volatile` send: when the messages do not fit
    /// under `max_buffered` and `max_buffered_bytes`, none is queued and the session stays open.
    /// Whether they were queued.
    pub(crate) fn queue_all(
        &self,
        payloads: impl IntoIterator<Item = EngineMessage>,
        volatile: bool,
    ) -> Result<bool, EngineSendError> {
        self.queue_packets(payloads.into_iter().map(Packet::Message), volatile)
    }

    /// Queues packets, as [`queue_all`](Self::queue_all) does messages: the Socket.IO
    /// translation's, whose text is already in its wire form ([`Packet::encoded`]).
    pub(crate) fn queue_packets(
        &self,
        packets: impl IntoIterator<Item = Packet>,
        volatile: bool,
    ) -> Result<bool, EngineSendError> {
        self.session.queue_all(packets, volatile)
    }

    /// Closes the session (the client gets a close packet where it can).
    pub fn close(&self) {
        let _ = self.session.queue(Packet::Close);
        self.session.close(CloseReason::ServerClose);
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.session.reason()
    }

    /// Completes when the session is closed.
    pub async fn closed(&self) {
        self.session.closed.fired().await;
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.session.closed.is_fired()
    }
}
