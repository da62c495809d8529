//! HTTP long-polling: a GET collects what is queued, a POST delivers one payload of packets.
//!
//! A POST's body is copied into one buffer as it arrives, within `max_payload` bytes and
//! `post_timeout`: hyper's chunks share its read buffer, so keeping them (as `to_bytes` does)
//! would pin about 4 KB per byte of a body trickled one byte per write.

use super::packet::Packet;
use super::session::{Session, State};
use super::socket::CloseReason;
use super::{bad_request, text};
use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a GET that arrives during an upgrade waits for it to complete.
const UPGRADE_WAIT: Duration = Duration::from_millis(100);

/// Why a POST body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    /// Over `max_payload`.
    TooLarge,
    /// Not complete within `post_timeout`.
    TimedOut,
    /// The client went away (or sent a broken chunked body).
    Aborted,
}

/// Reads a POST body: each chunk is copied and dropped at once, the buffer is sized from
/// `Content-Length` (at most `limit`), and the whole read must finish within `deadline`.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|declared| declared > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let capacity = declared.map_or(0, |declared| declared as usize);
    let read = async move {
        let mut buffer = Vec::with_capacity(capacity);
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|_| BodyError::Aborted)?;
            if buffer.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer)
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// The answer to a POST whose body was refused; the session is closed (as engine.io closes it
/// when a body is too large or its request ends early).
pub(super) fn refuse_body(session: &Session, error: &BodyError) -> Response {
    let (reason, status, message) = match error {
        BodyError::TooLarge => (
            CloseReason::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
        ),
        BodyError::TimedOut => (
            CloseReason::TransportClose,
            StatusCode::REQUEST_TIMEOUT,
            "request body timed out",
        ),
        BodyError::Aborted => (
            CloseReason::TransportClose,
            StatusCode::BAD_REQUEST,
            "request body aborted",
        ),
    };
    session.close(reason);
    // The rest of the body is not read: the connection cannot carry another request.
    (
        status,
        [(CONNECTION, HeaderValue::from_static("close"))],
        message,
    )
        .into_response()
}

/// A polling GET waiting for packets: dropped before it is answered, its HTTP connection went
/// away (hyper drops the request's future), and so did the client — the session closes as a
/// lost transport, as engine.io's "poll connection closed prematurely" does, rather than
/// waiting for the ping timeout (a connection-state recovery needs the session ended to be
/// recovered from).
struct Abandoned<'a>(Option<&'a Session>);

impl Abandoned<'_> {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0 {
            tracing::debug!(sid = %session.sid, "an Engine.IO poll was dropped unanswered: closing the session");
            session.polling.store(false, Ordering::Release);
            session.close(CloseReason::TransportClose);
        }
    }
}

/// A POST under way on a session.
pub(super) struct Posting<'a>(&'a Session);

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        self.0.posting.store(false, Ordering::Release);
    }
}

impl Session {
    /// Marks a POST as under way until the guard is dropped (also when its request is); `None`
    /// (and the session closed, as engine.io does on "data request overlap from client") when
    /// one already is.
    pub(super) fn begin_post(&self) -> Option<Posting<'_>> {
        if self.posting.swap(true, Ordering::AcqRel) {
            tracing::debug!(sid = %self.sid, "two Engine.IO POSTs at once: closing the session");
            self.close(CloseReason::InvalidPacket);
            return None;
        }
        Some(Posting(self))
    }

    /// A polling GET: waits for packets and returns them as one payload.
    pub(crate) async fn poll(&self) -> Response {
        if self.closed.is_fired() && self.state().packets.is_empty() {
            self.forget();
            return bad_request("Session ID unknown");
        }
        let upgrade_under_way = |state: &State| {
            (state.probing || state.upgrading) && state.packets.is_empty() && !state.closed
        };
        if upgrade_under_way(&self.state()) {
            // A GET that arrives while a WebSocket is taking the session over: its `2probe`
            // and `5` may be moments from being read (a client sends them back to back), and
            // after them this GET is refused. A GET with nothing to collect waits anyway.
            let _ = tokio::time::timeout(UPGRADE_WAIT, async {
                loop {
                    let notified = self.ready.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    self.wants_packets();
                    if !upgrade_under_way(&self.state()) {
                        return;
                    }
                    notified.await;
                }
            })
            .await;
        }
        if self.state().websocket {
            return bad_request("Transport mismatch");
        }
        if self.polling.swap(true, Ordering::AcqRel) {
            // Two GETs at once break the protocol: the first learns the session is closed.
            let _ = self.queue(Packet::Close);
            self.close(CloseReason::InvalidPacket);
            return bad_request("Overlap from client");
        }
        let abandoned = Abandoned(Some(self));
        let response = loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.wants_packets();
            {
                let mut state = self.state();
                if !state.packets.is_empty() {
                    break text(Packet::encode_payload(&state.take()));
                }
                if state.upgrading || state.websocket {
                    break text("6".to_owned());
                }
                if state.closed {
                    break text("1".to_owned());
                }
            }
            notified.await;
            // Let the application answer what arrived with this wake-up before writing, so that
            // replies to one POST go out in one payload.
            tokio::task::yield_now().await;
        };
        abandoned.answered();
        self.polling.store(false, Ordering::Release);
        if self.closed.is_fired() {
            self.forget();
        }
        response
    }

    /// A polling POST: one payload of packets from the client, handed over by `deadline`. A
    /// POST with more messages than the application takes by then is answered as a body that
    /// did not arrive in time: 408, session closed (a client over polling cannot be slowed by
    /// TCP backpressure; holding its POST is the only brake, and it is bounded).
    pub(crate) async fn push(
        self: &Arc<Self>,
        body: &[u8],
        deadline: tokio::time::Instant,
    ) -> Response {
        if self.closed.is_fired() {
            return bad_request("Session ID unknown");
        }
        if self.state().websocket {
            return bad_request("Transport mismatch");
        }
        let packets = std::str::from_utf8(body)
            .ok()
            .and_then(|body| Packet::decode_payload(body).ok());
        let Some(packets) = packets else {
            tracing::debug!(sid = %self.sid, "invalid Engine.IO payload: closing the session");
            self.close(CloseReason::InvalidPacket);
            return (StatusCode::BAD_REQUEST, "invalid payload").into_response();
        };
        let delivered = tokio::time::timeout_at(deadline, async {
            for packet in packets {
                self.receive(packet).await;
            }
        })
        .await;
        if delivered.is_err() {
            tracing::debug!(sid = %self.sid, "Engine.IO POST not taken within post_timeout: closing the session");
            return refuse_body(self, &BodyError::TimedOut);
        }
        text("ok".to_owned())
    }
}
