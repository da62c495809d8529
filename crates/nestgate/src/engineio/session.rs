//! One Engine.IO session: its outbound packets (drained by a polling GET or a WebSocket), the
//! client's messages on their way to the application, the heartbeat, and the upgrade's state.
//! The transports are in `polling.rs` and `websocket.rs`.

use super::Engine;
use super::heartbeat::{Heartbeats, Key};
use super::packet::{EngineMessage, Packet};
use super::socket::{CloseReason, EngineSendError, EngineSender, EngineSocket};
use super::wakeup::Wakeup;
use crate::handshake::Handshake;
use crate::util::caps::Permit;
use crate::util::join::{Woken, WokenBy};
use crate::util::queue;
use crate::util::signal::Signal;
use crate::util::sync::lock;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};

/// Messages from the client waiting for the application.
pub(super) const INCOMING: usize = 256;

/// The packets' room a session keeps between writes (more, after a burst, is given back).
const ROOM: usize = 8;

/// How long a session closed by the client over polling keeps its sid for one last GET.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// The session's state under one lock.
#[derive(Default)]
pub(super) struct State {
    /// A `Vec`, not a `VecDeque`: packets are only ever taken all at once, and a `Vec` can be
    /// swapped with the writer's (see [`Session::take_packets`]).
    pub(super) packets: Vec<Packet>,
    /// The bytes of `packets` (see [`Packet::size`]).
    bytes: usize,
    /// The WebSocket transport is in use (from the start, or after the upgrade).
    pub(super) websocket: bool,
    /// A WebSocket probe succeeded: polling requests get `6` until the upgrade completes.
    pub(super) upgrading: bool,
    /// A WebSocket with this sid was accepted and has not finished (or failed) its upgrade.
    pub(super) probing: bool,
    pub(super) closed: bool,
    /// When the unanswered ping's pong is due.
    pong_due: Option<tokio::time::Instant>,
    /// The unanswered ping has been handed to a transport: only then can a pong answer it.
    ping_delivered: bool,
    /// When the client's last message was read (see [`State::pong_deadline`]).
    last_message: Option<tokio::time::Instant>,
    /// The session's entry in the engine's heartbeat schedule: its next ping, or (with
    /// `pong_due`) its pong's deadline. `None` once closed.
    beat: Option<Key>,
}

impl State {
    /// When the unanswered ping times out, given `timeout` (`ping_timeout`). A client that was
    /// handed the ping and keeps sending messages is alive: its pong may be queued behind its
    /// own messages while the server reads them slowly (the inbound rate limit pauses the
    /// reading), so the deadline runs from its last message too, as engine.io's
    /// `checkPingTimeout` does with `lastPacketTime`. A ping nobody collected is not extended.
    fn pong_deadline(&self, timeout: std::time::Duration) -> Option<tokio::time::Instant> {
        let due = self.pong_due?;
        Some(match self.last_message {
            Some(last) if self.ping_delivered => due.max(last + timeout),
            _ => due,
        })
    }

    /// Takes every queued packet, for a transport to write.
    pub(super) fn take(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        self.take_into(&mut packets);
        packets
    }

    /// Moves every queued packet to the end of `out` (a transport's buffer): into an empty one
    /// by swapping the two, so the queue's room goes with its packets and none is copied.
    pub(super) fn take_into(&mut self, out: &mut Vec<Packet>) {
        self.bytes = 0;
        if self.pong_due.is_some() {
            self.ping_delivered = true;
        }
        if out.is_empty() {
            std::mem::swap(&mut self.packets, out);
        } else {
            out.append(&mut self.packets);
        }
    }
}

pub(crate) struct Session {
    pub(crate) sid: Arc<str>,
    engine: std::sync::Weak<Engine>,
    state: Mutex<State>,
    /// Packets queued or the state changed.
    pub(super) ready: Notify,
    /// Whether queuing a packet notifies `ready` ([`Wakeup`]).
    pub(super) wakeup: Wakeup,
    /// How the WebSocket's reader is woken, apart from its writer (`util::join`; the session's
    /// [`Wake`](std::task::Wake) impl is that waker).
    reader_woken: Woken,
    /// Where the client's messages go.
    incoming: Mutex<Inbox>,
    /// A polling GET is waiting.
    pub(super) polling: AtomicBool,
    /// A polling POST is reading its body.
    pub(super) posting: AtomicBool,
    /// The engine's heartbeat schedule, which this session has an entry in.
    heartbeats: Arc<Heartbeats>,
    pub(super) closed: Signal,
    /// Why it closed (the first cause).
    reason: Mutex<Option<CloseReason>>,
    max_buffered: usize,
    max_buffered_bytes: usize,
    /// Its place under `max_sessions`, given back when the session is dropped.
    _admission: Permit,
}

/// Where a session's messages go: the application's [`EngineSocket`] (a queue, read by a task of
/// its own), or a [`Direct`] handler called by the transport that read them. `None` once the
/// session is closed.
#[derive(Clone)]
enum Inbox {
    /// The queue, and the bytes the messages waiting in it may still hold.
    Queue(queue::Sender<EngineMessage>, Arc<Semaphore>),
    Direct(Arc<dyn Direct>),
    None,
}

/// The bytes one session may buffer each way (`max_buffered_bytes`), as a semaphore can count.
fn buffered_bytes(engine: &Engine) -> usize {
    engine
        .config
        .buffered_bytes_limit()
        .min(Semaphore::MAX_PERMITS)
}

/// What a message the application is not ready for waits on.
pub(crate) type Waiting = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A session's messages handled where they are read, without a queue or a task between the
/// transport and the application (how the Socket.IO engine takes them).
pub(crate) trait Direct: Send + Sync + 'static {
    /// Handles a message from the client. `None` when it is done; otherwise the message is
    /// handled once the future completes, and later messages wait for it (the WebSocket keeps
    /// reading meanwhile, up to the session's bounds, so that pongs and a close are seen).
    fn message(self: Arc<Self>, message: EngineMessage) -> Option<Waiting>;

    /// The session closed: no message comes any more.
    fn closed(&self, reason: CloseReason);
}

impl Session {
    /// A session whose messages go to the [`EngineSocket`] returned with it.
    pub(crate) fn new(
        engine: Arc<Engine>,
        handshake: Handshake,
        websocket: bool,
        admission: Permit,
    ) -> (Arc<Session>, EngineSocket) {
        let (tx, rx) = queue::channel(INCOMING);
        let max_buffered_bytes = buffered_bytes(&engine);
        let incoming_budget = Arc::new(Semaphore::new(max_buffered_bytes));
        let session = Session::with_inbox(
            engine,
            websocket,
            admission,
            Inbox::Queue(tx, incoming_budget.clone()),
        );
        let socket = EngineSocket {
            sender: EngineSender {
                session: session.clone(),
            },
            incoming: rx,
            incoming_budget,
            max_incoming: max_buffered_bytes,
            handshake,
        };
        (session, socket)
    }

    /// A session whose messages go to the handler `make` returns (given the session's sender
    /// and handshake).
    pub(crate) fn direct(
        engine: Arc<Engine>,
        handshake: Handshake,
        websocket: bool,
        admission: Permit,
        make: &super::MakeDirect,
    ) -> Arc<Session> {
        let session = Session::with_inbox(engine, websocket, admission, Inbox::None);
        let handler = make(
            EngineSender {
                session: session.clone(),
            },
            handshake,
        );
        *lock(&session.incoming) = Inbox::Direct(handler);
        session
    }

    fn with_inbox(
        engine: Arc<Engine>,
        websocket: bool,
        admission: Permit,
        inbox: Inbox,
    ) -> Arc<Session> {
        let max_buffered_bytes = buffered_bytes(&engine);
        Arc::new(Session {
            sid: crate::util::id::new_id(),
            engine: Arc::downgrade(&engine),
            state: Mutex::new(State {
                websocket,
                ..State::default()
            }),
            ready: Notify::new(),
            wakeup: Wakeup::default(),
            reader_woken: Woken::default(),
            incoming: Mutex::new(inbox),
            polling: AtomicBool::new(false),
            posting: AtomicBool::new(false),
            heartbeats: engine.heartbeats.clone(),
            closed: Signal::default(),
            reason: Mutex::new(None),
            max_buffered: engine.config.max_buffered,
            max_buffered_bytes,
            _admission: admission,
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned lock is usable.
        lock(&self.state)
    }

    /// Why the session closed, once it has.
    pub(super) fn reason(&self) -> Option<CloseReason> {
        *lock(&self.reason)
    }

    pub(super) fn queue(&self, packet: Packet) -> Result<(), EngineSendError> {
        self.queue_all(std::iter::once(packet), false).map(drop)
    }

    /// Queues packets together, all or nothing. When they would take the queue past
    /// `max_buffered` packets or `max_buffered_bytes`, a `volatile` send queues none of them and
    /// keeps the session open (the client misses them: `Ok(false)`); any other drops the client
    /// as too slow. Whether they were queued.
    pub(super) fn queue_all(
        &self,
        packets: impl IntoIterator<Item = Packet>,
        volatile: bool,
    ) -> Result<bool, EngineSendError> {
        let mut state = self.state();
        if state.closed {
            return Err(EngineSendError::Closed);
        }
        let (len, bytes) = (state.packets.len(), state.bytes);
        for packet in packets {
            state.bytes += packet.size();
            state.packets.push(packet);
        }
        if state.packets.len() > self.max_buffered || state.bytes > self.max_buffered_bytes {
            if volatile {
                // All or nothing: a binary packet without its attachments would break the stream.
                state.packets.truncate(len);
                state.bytes = bytes;
                return Ok(false);
            }
            drop(state);
            tracing::warn!(sid = %self.sid, "Engine.IO client too slow: closing its session");
            self.close(CloseReason::SlowClient);
            return Err(EngineSendError::Closed);
        }
        drop(state);
        if self.wakeup.queued() {
            self.ready.notify_waiters();
        }
        Ok(true)
    }

    /// Says that a transport is about to look for packets and wait on `ready` (call it after
    /// enabling the `Notified`, before looking): the next queued packet notifies.
    pub(super) fn wants_packets(&self) {
        self.wakeup.want();
    }

    /// Moves what is queued to `out`; whether the session is closed (nothing more will come).
    pub(super) fn take_packets(&self, out: &mut Vec<Packet>) -> bool {
        let mut state = self.state();
        state.take_into(out);
        state.closed
    }

    /// A transport has written what it took: its emptied buffer becomes the queue's room again
    /// when the queue has none, so a session keeps one buffer between writes, not two — and
    /// none past a burst ([`ROOM`] packets).
    pub(super) fn give_back(&self, written: &mut Vec<Packet>) {
        written.clear();
        let mut state = self.state();
        if state.packets.is_empty() {
            if state.packets.capacity() == 0 && written.capacity() <= ROOM {
                std::mem::swap(&mut state.packets, written);
            }
            *written = Vec::new();
        }
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

    pub(super) fn forget(&self) {
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
            if let Some(key) = state.beat.take() {
                self.heartbeats.cancel(key);
            }
            // What a client that is too slow, silent or broken did not collect is dropped at
            // once; a server's or the client's own close still delivers what was sent before.
            if !matches!(reason, CloseReason::ServerClose | CloseReason::ClientClose) {
                state.packets.clear();
                state.bytes = 0;
            }
        }
        *lock(&self.reason) = Some(reason);
        // Taken out under the lock, told outside it (the handler has locks of its own). A
        // handler holds the session's sender: dropping it here ends that cycle.
        match std::mem::replace(&mut *lock(&self.incoming), Inbox::None) {
            Inbox::Queue(_, budget) => budget.close(),
            Inbox::Direct(handler) => handler.closed(reason),
            Inbox::None => {}
        }
        if forget {
            self.forget();
        }
        self.closed.fire();
        self.ready.notify_waiters();
    }

    /// Whether the client missed its pong deadline; such a session is closed at once, whether
    /// or not the heartbeat task has woken up yet.
    pub(crate) fn expired(&self) -> bool {
        let due = self.state().pong_deadline(self.heartbeats.timeout);
        if due.is_some_and(|due| tokio::time::Instant::now() >= due) {
            tracing::debug!(sid = %self.sid, "Engine.IO ping timeout: closing the session");
            self.close(CloseReason::PingTimeout);
            return true;
        }
        false
    }

    /// A client's message, for the application: handed over at once, or a future to wait for
    /// while the application is behind (by messages, or by bytes: at most `max_buffered_bytes`
    /// wait for an application's own task).
    fn deliver(&self, payload: EngineMessage) -> Option<Waiting> {
        let inbox = lock(&self.incoming).clone();
        match inbox {
            Inbox::Queue(sender, incoming_budget) => {
                let budget = budget(&payload, self.max_buffered_bytes);
                if let Ok(permit) = incoming_budget.try_acquire_many(budget) {
                    // `recv` gives the bytes back.
                    permit.forget();
                    return match sender.try_send(payload) {
                        Ok(()) | Err(queue::TrySend::Closed(_)) => None,
                        Err(queue::TrySend::Full(payload)) => Some(Box::pin(async move {
                            let _ = sender.send(payload).await;
                        })),
                    };
                }
                Some(Box::pin(async move {
                    let Ok(permit) = incoming_budget.acquire_many(budget).await else {
                        return; // The session closed meanwhile.
                    };
                    permit.forget();
                    let _ = sender.send(payload).await;
                }))
            }
            Inbox::Direct(handler) => handler.message(payload),
            Inbox::None => None,
        }
    }

    /// Handles a packet from the client (either transport), waiting while the application is
    /// behind.
    pub(super) async fn receive(self: &Arc<Self>, packet: Packet) {
        if let Some(waiting) = self.receive_now(packet) {
            waiting.await;
        }
    }

    /// The bytes the client's messages may hold while a transport keeps them for a [`Direct`]
    /// handler that is not ready; none for an application's own queue, which holds them
    /// itself (within the same bound).
    pub(super) fn max_waiting_bytes(&self) -> usize {
        match &*lock(&self.incoming) {
            Inbox::Direct(_) => self.max_buffered_bytes,
            Inbox::Queue(..) | Inbox::None => 0,
        }
    }

    /// Handles a packet from the client (either transport); a message the application is not
    /// ready for is returned as the future to wait for before the next one is given.
    pub(super) fn receive_now(self: &Arc<Self>, packet: Packet) -> Option<Waiting> {
        match packet {
            Packet::Message(payload) => {
                // Before waiting for the application: this is when the client was last heard.
                self.state().last_message = Some(tokio::time::Instant::now());
                return self.deliver(payload);
            }
            Packet::Pong(_) => {
                let mut state = self.state();
                // Only a ping the client was given can be answered: a pong sent ahead of time
                // (or one for a ping still waiting to be collected) does not count.
                if state.pong_due.is_some() && state.ping_delivered {
                    state.pong_due = None;
                    // The next ping, an interval after this pong.
                    let next = tokio::time::Instant::now() + self.heartbeats.interval;
                    self.reschedule(&mut state, next);
                }
            }
            Packet::Close => {
                let _ = self.queue(Packet::Noop);
                if self.state().websocket {
                    self.close(CloseReason::ClientClose);
                } else {
                    self.close_lingering();
                }
            }
            // `Encoded` is the server's own: no decoder makes one.
            Packet::Ping(_)
            | Packet::Upgrade
            | Packet::Noop
            | Packet::Open(_)
            | Packet::Encoded(_) => {}
        }
        None
    }

    /// Gives the session its first heartbeat entry: a ping an interval from now.
    pub(super) fn start_heartbeat(self: &Arc<Self>) {
        let first = tokio::time::Instant::now() + self.heartbeats.interval;
        let mut state = self.state();
        if !state.closed {
            self.reschedule(&mut state, first);
        }
    }

    /// Replaces the session's heartbeat entry with one at `at`.
    fn reschedule(self: &Arc<Self>, state: &mut State, at: tokio::time::Instant) {
        if let Some(old) = state.beat.take() {
            self.heartbeats.cancel(old);
        }
        state.beat = Some(self.heartbeats.schedule(self, at));
    }

    /// The session's heartbeat entry `key` is due: ping the client, or, when its pong is late,
    /// close the session. Deadlines count from the entry's instant, not from when the driver
    /// got to it, so that a busy driver does not push them back.
    pub(super) fn beat(self: &Arc<Self>, heartbeats: &Heartbeats, key: Key) {
        let mut state = self.state();
        if state.closed || state.beat != Some(key) {
            // Stale: the session closed, or has a newer entry.
            return;
        }
        state.beat = None;
        if state.pong_due.is_none() {
            let due = key.0 + heartbeats.timeout;
            state.pong_due = Some(due);
            state.ping_delivered = false;
            let ping = Packet::Ping(None);
            state.bytes += ping.size();
            state.packets.push(ping);
            self.reschedule(&mut state, due);
            drop(state);
            self.ready.notify_waiters();
            return;
        }
        // Messages read since the ping may have moved the deadline (`State::pong_deadline`).
        match state.pong_deadline(heartbeats.timeout) {
            Some(later) if later > tokio::time::Instant::now() => {
                self.reschedule(&mut state, later);
            }
            _ => {
                drop(state);
                tracing::debug!(sid = %self.sid, "Engine.IO ping timeout: closing the session");
                self.close(CloseReason::PingTimeout);
            }
        }
    }
}

/// A session as a waker: the waker of its WebSocket's reader, which runs beside its writer on
/// one task and is polled only when this was woken (`util::join`). It holds no allocation of its
/// own: the session is already shared.
impl std::task::Wake for Session {
    fn wake(self: Arc<Self>) {
        self.reader_woken.wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reader_woken.wake();
    }
}

impl WokenBy for Session {
    fn woken(&self) -> &Woken {
        &self.reader_woken
    }
}

/// The bytes a client's message holds against the incoming budget (never more than all of it,
/// `max`, so that any message fits).
pub(super) fn budget(payload: &EngineMessage, max: usize) -> u32 {
    u32::try_from(payload.len().min(max)).unwrap_or(u32::MAX)
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

    /// The probe was answered: polling requests now get `6`.
    pub(super) fn probed(&self) {
        self.state().upgrading = true;
        self.ready.notify_waiters();
    }

    pub(super) fn is_upgrading(&self) -> bool {
        self.state().upgrading
    }

    /// The upgrade completed (the WebSocket takes over) or failed (polling goes on).
    pub(super) fn end_upgrade(&self, upgraded: bool) {
        let first = {
            let mut state = self.state();
            state.upgrading = false;
            state.probing = false;
            let first = upgraded && !state.websocket;
            state.websocket |= upgraded;
            first
        };
        if let (true, Some(engine)) = (first, self.engine.upgrade()) {
            engine.metrics.upgraded();
        }
        self.ready.notify_waiters();
    }

    /// Whether its transport is a WebSocket now.
    pub(super) fn on_websocket(&self) -> bool {
        self.state().websocket
    }
}
