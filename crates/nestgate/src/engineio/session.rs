//! One Engine.IO session: its outbound packets (drained by a polling GET or a WebSocket), the
//! client's messages on their way to the application, the heartbeat, and the upgrade.

use super::packet::{Packet, Payload};
use super::{Engine, bad_request, text};
use crate::signal::Signal;
use crate::socket::Handshake;
use axum::extract::ws::{Message, WebSocket};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt as _, StreamExt as _};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{Notify, mpsc};

/// Messages from the client waiting for the application.
const INCOMING: usize = 256;

/// How long a GET that arrives during an upgrade waits for it to complete.
const UPGRADE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a session closed by the client over polling keeps its sid for one last GET.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// The session's state under one lock.
#[derive(Default)]
struct State {
    packets: VecDeque<Packet>,
    /// The WebSocket transport is in use (from the start, or after the upgrade).
    websocket: bool,
    /// A WebSocket probe succeeded: polling requests get `6` until the upgrade completes.
    upgrading: bool,
    /// A WebSocket with this sid was accepted and has not finished (or failed) its upgrade.
    probing: bool,
    closed: bool,
}

pub(crate) struct Session {
    pub(crate) sid: Arc<str>,
    engine: std::sync::Weak<Engine>,
    state: Mutex<State>,
    /// Packets queued or the state changed.
    ready: Notify,
    incoming: Mutex<Option<mpsc::Sender<Payload>>>,
    polling: AtomicBool,
    pong: Notify,
    /// When the unanswered ping's pong is due.
    pong_due: Mutex<Option<tokio::time::Instant>>,
    closed: Signal,
    /// Why it closed (the first cause).
    reason: Mutex<Option<CloseReason>>,
    max_buffered: usize,
}

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

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
}

/// A session as the application sees it: the client's messages, and a way to answer.
#[derive(Debug)]
pub struct EngineSocket {
    sender: EngineSender,
    incoming: mpsc::Receiver<Payload>,
    handshake: Handshake,
}

/// Sends to one session; cheap to clone.
#[derive(Clone)]
pub struct EngineSender {
    session: Arc<Session>,
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
    pub async fn recv(&mut self) -> Option<Payload> {
        self.incoming.recv().await
    }

    /// Queues a message for the client.
    pub fn send(&self, payload: Payload) -> Result<(), SendError> {
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
    /// The session id.
    pub fn id(&self) -> &str {
        &self.session.sid
    }

    /// Queues a message for the client. A client that lets `max_buffered` packets pile up is
    /// disconnected.
    pub fn send(&self, payload: Payload) -> Result<(), SendError> {
        self.session.queue(Packet::Message(payload))
    }

    /// Queues several messages at once (they are written together).
    pub fn send_all(&self, payloads: impl IntoIterator<Item = Payload>) -> Result<(), SendError> {
        self.session
            .queue_all(payloads.into_iter().map(Packet::Message))
    }

    /// Closes the session (the client gets a close packet where it can).
    pub fn close(&self) {
        let _ = self.session.queue(Packet::Close);
        self.session.close(CloseReason::ServerClose);
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self
            .session
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

impl Session {
    pub(crate) fn new(
        engine: Arc<Engine>,
        handshake: Handshake,
        websocket: bool,
    ) -> (Arc<Session>, EngineSocket) {
        let (tx, rx) = mpsc::channel(INCOMING);
        let session = Arc::new(Session {
            sid: crate::socket::new_id(),
            engine: Arc::downgrade(&engine),
            state: Mutex::new(State {
                websocket,
                ..State::default()
            }),
            ready: Notify::new(),
            incoming: Mutex::new(Some(tx)),
            polling: AtomicBool::new(false),
            pong: Notify::new(),
            pong_due: Mutex::new(None),
            closed: Signal::default(),
            reason: Mutex::new(None),
            max_buffered: engine.config.max_buffered,
        });
        let socket = EngineSocket {
            sender: EngineSender {
                session: session.clone(),
            },
            incoming: rx,
            handshake,
        };
        (session, socket)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self, packet: Packet) -> Result<(), SendError> {
        self.queue_all(std::iter::once(packet))
    }

    /// Queues packets together; a client that lets more than `max_buffered` pile up is dropped.
    fn queue_all(&self, packets: impl IntoIterator<Item = Packet>) -> Result<(), SendError> {
        let mut state = self.state();
        if state.closed {
            return Err(SendError::Closed);
        }
        state.packets.extend(packets);
        let overflow = state.packets.len() > self.max_buffered;
        drop(state);
        if overflow {
            tracing::warn!(sid = %self.sid, "Engine.IO client too slow: closing its session");
            self.close(CloseReason::SlowClient);
            return Err(SendError::Closed);
        }
        self.ready.notify_waiters();
        Ok(())
    }

    /// Closes the session: the application's `recv` ends, waiting transports return, and the
    /// sid is forgotten (later requests with it get 400).
    pub(crate) fn close(&self, reason: CloseReason) {
        self.close_inner(true, reason);
    }

    /// Closes the session but keeps its sid until a polling GET has collected what is left
    /// (at most [`LINGER`]): a GET racing the client's own close packet gets `6`, not 400.
    fn close_lingering(self: &Arc<Self>) {
        self.close_inner(false, CloseReason::ClientClose);
        let session = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            session.forget();
        });
    }

    fn forget(&self) {
        if let Some(engine) = self.engine.upgrade() {
            engine.remove(&self.sid);
        }
    }

    fn close_inner(&self, forget: bool, reason: CloseReason) {
        {
            let mut state = self.state();
            if state.closed {
                return;
            }
            state.closed = true;
        }
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        self.incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if forget {
            self.forget();
        }
        self.closed.fire();
        self.ready.notify_waiters();
    }

    /// Whether the client missed its pong deadline; such a session is closed at once, whether
    /// or not the heartbeat task has woken up yet.
    pub(crate) fn expired(&self) -> bool {
        let due = *self.pong_due.lock().unwrap_or_else(PoisonError::into_inner);
        if due.is_some_and(|due| tokio::time::Instant::now() >= due) {
            tracing::debug!(sid = %self.sid, "Engine.IO ping timeout: closing the session");
            self.close(CloseReason::PingTimeout);
            return true;
        }
        false
    }

    /// A client's message, for the application (waits while the application is behind).
    async fn deliver(&self, payload: Payload) {
        let sender = self
            .incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(sender) = sender {
            let _ = sender.send(payload).await;
        }
    }

    /// Handles a packet from the client (either transport).
    async fn receive(self: &Arc<Self>, packet: Packet) {
        match packet {
            Packet::Message(payload) => self.deliver(payload).await,
            Packet::Pong(_) => {
                *self.pong_due.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.pong.notify_one();
            }
            Packet::Close => {
                let _ = self.queue(Packet::Noop);
                if self.state().websocket {
                    self.close(CloseReason::ClientClose);
                } else {
                    self.close_lingering();
                }
            }
            Packet::Ping(_) | Packet::Upgrade | Packet::Noop | Packet::Open(_) => {}
        }
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
        let response = loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if !state.packets.is_empty() {
                    let packets: Vec<Packet> = state.packets.drain(..).collect();
                    break text(Packet::encode_payload(&packets));
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
        self.polling.store(false, Ordering::Release);
        if self.closed.is_fired() {
            self.forget();
        }
        response
    }

    /// A polling POST: one payload of packets from the client.
    pub(crate) async fn push(self: &Arc<Self>, body: &[u8]) -> Response {
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
        for packet in packets {
            self.receive(packet).await;
        }
        text("ok".to_owned())
    }
}

/// Pings the client every interval; closes the session when a pong is late. Deadlines are
/// absolute, from the session's start, so that timer rounding does not add up.
pub(crate) async fn heartbeat(engine: Arc<Engine>, session: Arc<Session>) {
    let (interval, timeout) = (engine.config.ping_interval, engine.config.ping_timeout);
    drop(engine);
    let mut next_ping = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            () = session.closed.fired() => return,
            () = tokio::time::sleep_until(next_ping) => {}
        }
        let due = next_ping + timeout;
        *session
            .pong_due
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(due);
        if session.queue(Packet::Ping(None)).is_err() {
            return;
        }
        tokio::select! {
            () = session.closed.fired() => return,
            () = session.pong.notified() => {
                next_ping = tokio::time::Instant::now() + interval;
            }
            () = tokio::time::sleep_until(due) => {
                tracing::debug!(sid = %session.sid, "Engine.IO ping timeout: closing the session");
                session.close(CloseReason::PingTimeout);
                return;
            }
        }
    }
}

impl Session {
    /// Marks a WebSocket upgrade as under way, before the HTTP upgrade is answered; `false`
    /// when the session already has one (or is closed): that WebSocket is then closed.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.state();
        if state.websocket || state.upgrading || state.probing || state.closed {
            return false;
        }
        state.probing = true;
        true
    }
}

/// A WebSocket that asks to take over a polling session: `2probe` → `3probe`, then `5`.
/// `accepted` is what [`Session::begin_upgrade`] said.
pub(crate) async fn upgrade(
    engine: Arc<Engine>,
    session: Arc<Session>,
    mut ws: WebSocket,
    accepted: bool,
) {
    if !accepted {
        let _ = ws.close().await;
        return;
    }
    let probed = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match Packet::decode_text(text.as_str()) {
                Ok(Packet::Ping(Some(probe))) if probe == "probe" => {
                    if ws.send(Message::text("3probe")).await.is_err() {
                        break false;
                    }
                    session.state().upgrading = true;
                    session.ready.notify_waiters();
                }
                Ok(Packet::Upgrade) if is_upgrading(&session) => break true,
                Ok(_) => {}
                Err(_) => break false,
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => break false,
        }
    };
    if !probed {
        {
            let mut state = session.state();
            state.upgrading = false;
            state.probing = false;
        }
        session.ready.notify_waiters();
        let _ = ws.close().await;
        return;
    }
    {
        let mut state = session.state();
        state.upgrading = false;
        state.probing = false;
        state.websocket = true;
    }
    session.ready.notify_waiters();
    run_websocket(engine, session, ws, false).await;
}

fn is_upgrading(session: &Session) -> bool {
    session.state().upgrading
}

/// Serves a session over a WebSocket until either side closes it.
pub(crate) async fn run_websocket(
    engine: Arc<Engine>,
    session: Arc<Session>,
    ws: WebSocket,
    send_open: bool,
) {
    let (mut sink, mut stream) = ws.split();
    if send_open {
        let mut open = String::new();
        Packet::Open(engine.open_json(&session, false)).encode_text(&mut open);
        if sink.send(Message::Text(open.into())).await.is_err() {
            session.close(CloseReason::TransportClose);
            return;
        }
    }
    drop(engine);
    let writer = {
        let session = session.clone();
        async move {
            loop {
                let notified = session.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let (packets, closed) = {
                    let mut state = session.state();
                    (state.packets.drain(..).collect::<Vec<_>>(), state.closed)
                };
                for packet in packets {
                    let message = match packet {
                        Packet::Message(Payload::Binary(bytes)) => Message::Binary(bytes),
                        Packet::Noop => continue,
                        other => {
                            let mut out = String::new();
                            other.encode_text(&mut out);
                            Message::Text(out.into())
                        }
                    };
                    if sink.feed(message).await.is_err() {
                        session.close(CloseReason::TransportClose);
                        return sink;
                    }
                }
                if sink.flush().await.is_err() {
                    session.close(CloseReason::TransportClose);
                    return sink;
                }
                if closed {
                    return sink;
                }
                notified.await;
            }
        }
    };
    let reader = {
        let session = session.clone();
        async move {
            let mut reason = CloseReason::TransportClose;
            loop {
                let message = tokio::select! {
                    message = stream.next() => message,
                    () = session.closed.fired() => break,
                };
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => {
                        if matches!(
                            err.into_inner().downcast_ref::<tungstenite::Error>(),
                            Some(tungstenite::Error::Capacity(_))
                        ) {
                            reason = CloseReason::TooLarge;
                        }
                        break;
                    }
                    None => break,
                };
                let packet = match message {
                    Message::Text(text) => Packet::decode_text(text.as_str()),
                    Message::Binary(bytes) => Ok(Packet::Message(Payload::Binary(bytes))),
                    Message::Ping(_) | Message::Pong(_) => continue,
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
        }
    };
    let (mut sink, ()) = tokio::join!(writer, reader);
    let _ = sink.close().await;
}
