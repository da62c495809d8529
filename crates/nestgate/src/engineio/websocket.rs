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
use super::session::{INCOMING, Session, Waiting};
use super::socket::CloseReason;
use crate::close;
use crate::util::websocket::WebSocket;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use std::collections::VecDeque;
use std::future::Future;
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
///
/// Two futures one after the other, not one `async fn`: the probe's state (and its copy of the
/// WebSocket) is gone once the session runs on it.
pub(crate) fn upgrade(
    engine: Arc<Engine>,
    session: Arc<Session>,
    ws: WebSocket,
    accepted: bool,
) -> impl Future<Output = ()> + Send {
    use futures_util::FutureExt as _;
    use futures_util::future::Either;
    take_over(engine, session, ws, accepted).then(|upgraded| match upgraded {
        Some((engine, session, ws)) => Either::Left(run(engine, session, ws, false)),
        None => Either::Right(std::future::ready(())),
    })
}

/// The upgrade itself: the probe, then `5`. What the session then runs on, if it completed.
async fn take_over(
    engine: Arc<Engine>,
    session: Arc<Session>,
    mut ws: WebSocket,
    accepted: bool,
) -> Option<(Arc<Engine>, Arc<Session>, WebSocket)> {
    if !accepted {
        let _ = timeout(CLOSE_GRACE, ws.close()).await;
        return None;
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
        return None;
    }
    Some((engine, session, ws))
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
///
/// Not an `async fn`, and its block uses what it captures in place: an `async fn` keeps its
/// arguments beside the locals made from them, and a destructured capture is kept twice too —
/// for the connection's whole life.
pub(crate) fn run(
    engine: Arc<Engine>,
    session: Arc<Session>,
    ws: WebSocket,
    open: bool,
) -> impl Future<Output = ()> + Send {
    let (mut sink, stream) = ws.split();
    let (write_deadline, linger_bytes) = (engine.config.ping_timeout, engine.config.max_payload);
    let open = open.then(|| {
        let mut packet = String::new();
        Packet::Open(engine.open_json(&session, false)).encode_text(&mut packet);
        packet
    });
    async move {
        if let Some(packet) = open {
            let sent = timeout(write_deadline, sink.send(Message::Text(packet.into()))).await;
            if !matches!(sent, Ok(Ok(()))) {
                session.close(CloseReason::TransportClose);
                return;
            }
        }
        // The reader first (when it was woken: most wake-ups are the writer's, for a broadcast),
        // then the writer, on every wake-up: the replies to what the reader handed over are
        // written in the same pass, with no wake-up of their own (`held`).
        let ((stream, code), written) = crate::util::join::join_woken(
            session.clone(),
            held(&session, read_loop(&session, stream)),
            write_loop(&session, &mut sink, write_deadline),
        )
        .await;
        if !written {
            // The writer gave up (a client that does not read, or a broken transport): drop it.
            return;
        }
        close(&session, sink, stream, code, linger_bytes).await;
    }
}

/// The end of a session's WebSocket: the close frame its reason calls for, then the linger; or,
/// when the client closed it, the answer to its close frame.
async fn close(
    session: &Session,
    mut sink: Sink,
    stream: Stream,
    code: Option<u16>,
    linger_bytes: usize,
) {
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
/// left is written. `false` when it gave up on the transport.
///
/// Each batch has a deadline (`deadline`), brought forward to [`CLOSE_GRACE`] after the session
/// closes: one timer for both.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps its arguments twice in its future, for the connection's life"
)]
fn write_loop(
    session: &Session,
    sink: &mut Sink,
    deadline: Duration,
) -> impl Future<Output = bool> {
    async move {
        // Made once: a wait made per batch would register with the signal on every one.
        let ended = session.closed.fired();
        tokio::pin!(ended);
        let mut packets = Vec::new();
        loop {
            let notified = session.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            session.wants_packets();
            let closed = session.take_packets(&mut packets);
            if !packets.is_empty() {
                if !write_with_deadline(session, sink, &mut packets, &mut ended, deadline).await {
                    session.close(CloseReason::TransportClose);
                    return false;
                }
                session.give_back(&mut packets);
            }
            if closed {
                return true;
            }
            tokio::select! {
                () = &mut notified => {}
                () = &mut ended => {}
                // Queued by the reader's pass just before this one (see `held`).
                () = std::future::poll_fn(|_| match session.wakeup.take_held() {
                    true => std::task::Poll::Ready(()),
                    false => std::task::Poll::Pending,
                }) => {}
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The reader, polled with the session's wake-ups held: what the application queues while
    /// the reader hands it the client's messages (on this task) notifies nobody, since the
    /// writer is polled right after it ([`run`]) and looks for it then.
    struct Held<'a, F> {
        session: &'a Session,
        #[pin]
        reader: F,
    }
}

fn held<F: Future>(session: &Session, reader: F) -> Held<'_, F> {
    Held { session, reader }
}

impl<F: Future> Future for Held<'_, F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        this.session.wakeup.hold();
        let polled = this.reader.poll(cx);
        this.session.wakeup.release();
        polled
    }
}

/// Writes one batch within `deadline`, or within [`CLOSE_GRACE`] of the session's end.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps its arguments twice in its future, for the connection's life"
)]
fn write_with_deadline(
    session: &Session,
    sink: &mut Sink,
    packets: &mut Vec<Packet>,
    ended: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    deadline: Duration,
) -> impl Future<Output = bool> {
    async move {
        let timer = tokio::time::sleep(deadline);
        let write = write_batch(sink, packets);
        tokio::pin!(timer, write);
        let mut closing = session.closed.is_fired();
        if closing {
            shorten(timer.as_mut());
        }
        loop {
            tokio::select! {
                biased;
                written = &mut write => return written.is_ok(),
                () = &mut timer => {
                    if closing {
                        tracing::debug!(sid = %session.sid, "Engine.IO client does not read: dropping it");
                    } else {
                        tracing::debug!(sid = %session.sid, "Engine.IO write timed out");
                    }
                    return false;
                }
                () = ended.as_mut(), if !closing => {
                    closing = true;
                    shorten(timer.as_mut());
                }
            }
        }
    }
}

/// Brings `timer` forward to [`CLOSE_GRACE`] from now, if that is sooner.
fn shorten(timer: std::pin::Pin<&mut tokio::time::Sleep>) {
    let grace = tokio::time::Instant::now() + CLOSE_GRACE;
    if grace < timer.deadline() {
        timer.reset(grace);
    }
}

/// Writes and flushes `packets`, leaving the vector empty.
async fn write_batch(sink: &mut Sink, packets: &mut Vec<Packet>) -> Result<(), ()> {
    for packet in packets.drain(..) {
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
///
/// A message the application is not ready for ([`Session::receive_now`] returned a future) does
/// not stop the reading: what arrives behind it waits here, in order, as it would in the
/// application's queue and within the same bounds (`INCOMING` messages, `max_buffered_bytes`),
/// while pongs are handled at once — a client the application is slow with is still pinged, and
/// still seen to be alive. Past the bounds, reading stops (backpressure).
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps its arguments twice in its future, for the connection's life"
)]
fn read_loop(
    session: &Arc<Session>,
    mut stream: Stream,
) -> impl Future<Output = (Stream, Option<u16>)> {
    async move {
        let mut reason = CloseReason::TransportClose;
        let mut code = None;
        // Made once: a wait made per frame would register with the signal on every one.
        let closed = session.closed.fired();
        tokio::pin!(closed);
        let mut backlog = Backlog::default();
        let max_waiting_bytes = session.max_waiting_bytes();
        loop {
            let full = backlog.is_full(max_waiting_bytes);
            let message = tokio::select! {
                biased;
                () = &mut closed => return (stream, code),
                () = backlog.wait(), if backlog.is_waiting() => {
                    backlog.resume(session);
                    continue;
                }
                message = stream.next(), if !full => message,
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
                Ok(packet) => backlog.receive(session, packet),
                Err(_) => {
                    tracing::debug!(sid = %session.sid, "invalid Engine.IO packet: closing the session");
                    reason = CloseReason::InvalidPacket;
                    break;
                }
            }
            if session.closed.is_fired() {
                return (stream, code);
            }
        }
        // The transport ended: what the client sent before goes to the application first.
        if matches!(reason, CloseReason::TransportClose) {
            let _ = timeout(CLOSE_GRACE, backlog.drain(session)).await;
        }
        session.close(reason);
        (stream, code)
    }
}

/// The message the application is not ready for yet, and the packets read behind it.
#[derive(Default)]
struct Backlog {
    waiting: Option<Waiting>,
    /// Messages (and a close) in the order they came, behind `waiting`.
    packets: VecDeque<Packet>,
    bytes: usize,
}

impl Backlog {
    fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    fn is_full(&self, max_bytes: usize) -> bool {
        self.waiting.is_some()
            && (self.packets.len() >= INCOMING || self.bytes >= max_bytes || max_bytes == 0)
    }

    /// Completes when the waiting message has been taken.
    fn wait(&mut self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| match self.waiting.as_mut() {
            Some(waiting) => waiting.as_mut().poll(cx),
            None => std::task::Poll::Pending,
        })
    }

    /// A packet from the client: handled now, or behind the message that waits.
    fn receive(&mut self, session: &Arc<Session>, packet: Packet) {
        if self.waiting.is_none() {
            self.waiting = session.receive_now(packet);
            return;
        }
        if matches!(packet, Packet::Message(_) | Packet::Close) {
            self.bytes += packet.size();
            self.packets.push_back(packet);
            return;
        }
        // A pong is not a message: it never waits (nor does a ping or an upgrade), and only
        // a message is ever given a future to wait for.
        let waits = session.receive_now(packet);
        debug_assert!(waits.is_none(), "only messages wait");
    }

    /// The waiting message was taken: hands over what came behind it until one waits again.
    fn resume(&mut self, session: &Arc<Session>) {
        self.waiting = None;
        while self.waiting.is_none() {
            let Some(packet) = self.packets.pop_front() else {
                break;
            };
            self.bytes -= packet.size();
            self.waiting = session.receive_now(packet);
        }
        if self.packets.is_empty() && self.packets.capacity() > 16 {
            self.packets = VecDeque::new();
        }
    }

    /// Hands everything over.
    async fn drain(&mut self, session: &Arc<Session>) {
        while self.is_waiting() {
            self.wait().await;
            self.resume(session);
        }
    }
}
