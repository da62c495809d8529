//! How a socket closes: why ([`DisconnectReason`], the [`Closing`] cause, first close wins),
//! and how (a graceful close behind what is queued, or an abort that drops it).

use super::Socket;
use super::outbound::Push;
use crate::error::truncate_reason;
use crate::util::signal::Signal;
use crate::util::sync::lock;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use std::borrow::Cow;

/// Why and how a socket is closing.
#[derive(Debug, Clone)]
pub(crate) struct Closing {
    pub(crate) reason: DisconnectReason,
    /// The close frame to send, if any.
    pub(crate) frame: Option<(u16, Cow<'static, str>)>,
}

/// Why a connection ended; given to `#[on_disconnect]` hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent a close frame.
    ClientClose,
    /// The connection was lost or failed (reset, EOF without a close frame, protocol error).
    TransportError,
    /// The client did not answer pings in time.
    HeartbeatTimeout,
    /// The server is shutting down (close code 1001).
    ServerShutdown,
    /// The server closed the socket with [`Socket::disconnect`].
    Kicked,
    /// The client sent a frame over the size limit (close code 1009).
    MessageTooLarge,
    /// The client did not read fast enough and its outbound queue overflowed (close code 1013).
    SlowConsumer,
    /// The client sent a text frame that is not valid UTF-8 (close code 1007).
    InvalidPayload,
    /// The socket's token expired without a valid fresh one (close code 4001, see
    /// [`refresh`](crate::refresh)).
    TokenExpired,
    /// The handshake guards refused the fresh token the server asked for (close code 4003).
    RefreshRefused,
}

impl DisconnectReason {
    /// The reason as a metric label (`client_close`, `transport_error`, …).
    pub(crate) fn label(&self) -> &'static str {
        match self {
            DisconnectReason::ClientClose => "client_close",
            DisconnectReason::TransportError => "transport_error",
            DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
            DisconnectReason::ServerShutdown => "server_shutdown",
            DisconnectReason::Kicked => "kicked",
            DisconnectReason::MessageTooLarge => "message_too_large",
            DisconnectReason::SlowConsumer => "slow_consumer",
            DisconnectReason::InvalidPayload => "invalid_payload",
            DisconnectReason::TokenExpired => "token_expired",
            DisconnectReason::RefreshRefused => "refresh_refused",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisconnectReason::ClientClose => "client close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::HeartbeatTimeout => "heartbeat timeout",
            DisconnectReason::ServerShutdown => "server shutdown",
            DisconnectReason::Kicked => "kicked",
            DisconnectReason::MessageTooLarge => "message too large",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::InvalidPayload => "invalid payload",
            DisconnectReason::TokenExpired => "token expired",
            DisconnectReason::RefreshRefused => "refresh refused",
        })
    }
}

impl Socket {
    /// Starts a graceful close: the close frame is queued behind what is already queued.
    /// The first close wins; later calls do nothing.
    pub(crate) fn close(&self, reason: DisconnectReason, frame: Option<(u16, Cow<'static, str>)>) {
        let Some(closing) = self.set_cause(reason, frame) else {
            return;
        };
        let queued = match &closing.frame {
            Some((code, text)) => {
                let frame = CloseFrame {
                    code: *code,
                    reason: Utf8Bytes::from(text.as_ref()),
                };
                matches!(
                    self.inner.outbound.push(Message::Close(Some(frame))),
                    Push::Queued(_)
                )
            }
            None => false,
        };
        if !queued {
            self.inner.abort.fire();
        }
        self.inner.closing.fire();
    }

    /// Closes at once: what is queued is dropped, and the writer sends the close frame (if any)
    /// directly.
    pub(crate) fn abort(&self, reason: DisconnectReason, frame: Option<(u16, Cow<'static, str>)>) {
        self.set_cause(reason, frame);
        self.inner.abort.fire();
        self.inner.closing.fire();
    }

    fn set_cause(
        &self,
        reason: DisconnectReason,
        frame: Option<(u16, Cow<'static, str>)>,
    ) -> Option<Closing> {
        let mut cause = lock(&self.inner.cause);
        if cause.is_some() {
            return None;
        }
        let closing = Closing { reason, frame };
        *cause = Some(closing.clone());
        Some(closing)
    }

    /// Why the socket is closing, once it is.
    pub(crate) fn closing_cause(&self) -> Option<Closing> {
        lock(&self.inner.cause).clone()
    }

    /// Closes with a code and reason (from an adapter's `disconnect_sockets`).
    pub(crate) fn close_with(&self, reason: DisconnectReason, code: u16, text: &str) {
        self.close(reason, Some((code, Cow::Owned(truncate_reason(text)))));
    }

    pub(crate) fn closing_signal(&self) -> &Signal {
        &self.inner.closing
    }

    pub(crate) fn abort_signal(&self) -> &Signal {
        &self.inner.abort
    }
}
