//! The WebSocket transport of a session: from the start, or as the upgrade of a polling session
//! (`2probe` → `3probe`, then `5`).
//!
//! Every wait is bounded: the upgrade by `upgrade_timeout` and the session's close, each write
//! by a deadline (`ping_timeout`) and, once the session is closed, by [`CLOSE_GRACE`]. Every
//! close the server initiates sends a close frame with its code, then reads what the client is
//! still sending (at most `max_payload` bytes, for at most [`CLOSE_GRACE`]) so that the frame
//! is not lost to a TCP reset.

use super::Engine;
use super::packet::{EngineMessage, Packet};
use super::session::Session;
use super::socket::CloseReason;
use crate::close;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

/// How long a closing session's writer may take to get its last packets and its close frame
/// out, and how long it then reads what the client is still sending (as ws-json does).
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Invalid UTF-8 in a text frame (RFC 6455 §7.4.1).
const INVALID_DATA: u16 = 1007;
/// A packet that is not Engine.IO.
const PROTOCOL_ERROR: u16 = 1002;

/// A WebSocket that asks to take over a polling session. `accepted` is what
/// [`Session::begin_upgrade`] said.
pub(crate) async fn upgrade(
    engine: Arc<Engine>,
    session: Arc<Session>,
    mut ws: WebSocket,
    accepted: bool,
) {
    if !accepted {
        let _ = timeout(CLOSE_GRACE, ws.close()).await;
        return;
    }
    let probe = probe(&session, &mut ws);
    let probed = tokio::select! {
        probed = timeout(engine.config.upgrade_timeout, probe) => probed.unwrap_or_else(|_| {
            tracing::debug!(sid = %session.sid, "Engine.IO upgrade timed out");
            false
        }),
        () = session.closed.fired() => false,
    };
    session.end_upgrade(probed);
    if !probed {
        let _ = timeout(CLOSE_GRACE, ws.close()).await;
        return;
    }
    run(engine, session, ws, false).await;
}

/// `2probe` → `3probe`, then `5`; whether the upgrade completed.
async fn probe(session: &Session, ws: &mut WebSocket) -> bool {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match Packet::decode_text(text.as_str()) {
                Ok(Packet::Ping(Some(probe))) if probe == "probe" => {
                    if ws.send(Message::text("3probe")).await.is_err() {
                        return false;
                    }
                    session.probed();
                }
                Ok(Packet::Upgrade) if session.is_upgrading() => return true,
                Ok(_) => {}
                Err(_) => return false,
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return false,
        }
    }
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Serves a session over a WebSocket until either side closes it.
pub(crate) async fn run(engine: Arc<Engine>, session: Arc<Session>, ws: WebSocket, open: bool) {
    let (mut sink, stream) = ws.split();
    let write_deadline = engine.config.ping_timeout;
    let linger_bytes = engine.config.max_payload;
    if open {
        let mut packet = String::new();
        Packet::Open(engine.open_json(&session, false)).encode_text(&mut packet);
        let sent = timeout(write_deadline, sink.send(Message::Text(packet.into()))).await;
        if !matches!(sent, Ok(Ok(()))) {
            session.close(CloseReason::TransportClose);
            return;
        }
    }
    drop(engine);
    let (sink, (stream, code)) = tokio::join!(
        write_loop(&session, sink, write_deadline),
        read_loop(&session, stream)
    );
    let Some(mut sink) = sink else {
        // The writer gave up (a client that does not read, or a broken transport): drop it.
        return;
    };
    let reason = session.reason().unwrap_or(CloseReason::TransportClose);
    let code = code.or_else(|| close_code(reason));
    let Some(code) = code else {
        // The transport ended, or the client closed it: answer its close frame, if any.
        let _ = timeout(CLOSE_GRACE, sink.close()).await;
        return;
    };
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(""),
    };
    if !matches!(
        timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    linger(stream, linger_bytes).await;
}

/// The close code for a session the server closed (`None`: nothing to send).
fn close_code(reason: CloseReason) -> Option<u16> {
    match reason {
        CloseReason::TooLarge => Some(close::TOO_BIG),
        CloseReason::SlowClient => Some(close::TRY_AGAIN_LATER),
        CloseReason::PingTimeout => Some(close::POLICY),
        CloseReason::InvalidPacket => Some(PROTOCOL_ERROR),
        CloseReason::ServerClose => Some(close::NORMAL),
        CloseReason::ClientClose | CloseReason::TransportClose => None,
    }
}

/// After the close frame: reads (and drops) what the client still sends until its own close
/// frame, within [`CLOSE_GRACE`] and `max_bytes`, so that unread data does not turn the close
/// into a reset.
async fn linger(mut stream: Stream, max_bytes: usize) {
    let mut read = 0usize;
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            read += match &message {
                Message::Text(text) => text.len(),
                Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
                Message::Close(_) => 0,
            };
            if matches!(message, Message::Close(_)) || read > max_bytes {
                break;
            }
        }
    })
    .await;
}

/// Writes the session's packets as they are queued, until the session is closed and what was
/// left is written. `None` when it gave up on the transport.
async fn write_loop(session: &Session, mut sink: Sink, deadline: Duration) -> Option<Sink> {
    // Made once: a wait made per batch would register with the signal on every one.
    let ended = session.closed.fired();
    tokio::pin!(ended);
    loop {
        let notified = session.ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (packets, closed) = session.take_packets();
        if !packets.is_empty() {
            let written = tokio::select! {
                written = timeout(deadline, write_batch(&mut sink, packets)) => {
                    written.unwrap_or_else(|_| {
                        tracing::debug!(sid = %session.sid, "Engine.IO write timed out");
                        Err(())
                    })
                }
                () = async {
                    (&mut ended).await;
                    tokio::time::sleep(CLOSE_GRACE).await;
                } => {
                    tracing::debug!(sid = %session.sid, "Engine.IO client does not read: dropping it");
                    Err(())
                }
            };
            if written.is_err() {
                session.close(CloseReason::TransportClose);
                return None;
            }
        }
        if closed {
            return Some(sink);
        }
        tokio::select! {
            () = &mut notified => {}
            () = &mut ended => {}
        }
    }
}

async fn write_batch(sink: &mut Sink, packets: Vec<Packet>) -> Result<(), ()> {
    for packet in packets {
        let message = match packet {
            Packet::Message(EngineMessage::Binary(bytes)) => Message::Binary(bytes),
            // Already in its wire form, shared with every session it was queued on.
            Packet::Encoded(wire) => Message::Text(wire),
            Packet::Noop => continue,
            other => {
                let mut out = String::with_capacity(other.size());
                other.encode_text(&mut out);
                Message::Text(out.into())
            }
        };
        sink.feed(message).await.map_err(|_| ())?;
    }
    sink.flush().await.map_err(|_| ())
}

/// Reads the client's packets until the session closes. Returns the stream (for
/// [`linger`]) and the close code a read error calls for.
async fn read_loop(session: &Arc<Session>, mut stream: Stream) -> (Stream, Option<u16>) {
    let mut reason = CloseReason::TransportClose;
    let mut code = None;
    // Made once: a wait made per frame would register with the signal on every one.
    let closed = session.closed.fired();
    tokio::pin!(closed);
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = &mut closed => break,
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                match err.into_inner().downcast_ref::<tungstenite::Error>() {
                    Some(tungstenite::Error::Capacity(_)) => {
                        reason = CloseReason::TooLarge;
                    }
                    Some(tungstenite::Error::Utf8(_)) => {
                        reason = CloseReason::InvalidPacket;
                        code = Some(INVALID_DATA);
                    }
                    _ => {}
                }
                break;
            }
            None => break,
        };
        let packet = match message {
            Message::Text(text) => Packet::decode_frame(text),
            Message::Binary(bytes) => Ok(Packet::Message(EngineMessage::Binary(bytes))),
            Message::Ping(_) | Message::Pong(_) => continue,
            // The transport ended (the Engine.IO close packet is the client's close).
            Message::Close(_) => break,
        };
        match packet {
            Ok(packet) => session.receive(packet).await,
            Err(_) => {
                tracing::debug!(sid = %session.sid, "invalid Engine.IO packet: closing the session");
                reason = CloseReason::InvalidPacket;
                break;
            }
        }
        if session.closed.is_fired() {
            break;
        }
    }
    session.close(reason);
    (stream, code)
}
