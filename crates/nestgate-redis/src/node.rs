//! One process's membership in the cluster: its id, the other nodes it knows, the requests it
//! waits on, the namespaces it serves, and what it does with each message from Redis.

use crate::config::{Backoff, RedisConfig};
use crate::link::{self, Counters, Publisher};
use crate::wire::{self, Body, Header, Op};
use futures_util::FutureExt as _;
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use nestgate::adapter::{AdapterError, Frame, LocalStore};
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Ack ids a node hands out for broadcasts that other nodes started begin here, far above the
/// ids nestgate's runtime hands out (it counts from 1), and below 2^53 so JavaScript clients
/// read them exactly.
const REMOTE_ACK_IDS: u64 = 1 << 52;

/// A server-side event handler, erased: the event's data as JSON in, the answer as JSON out.
pub(crate) type ServerHandler =
    Arc<dyn Fn(String) -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// What a waiting request receives.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A node's answer.
    Response {
        node: String,
        body: Body,
        payload: Vec<u8>,
    },
    /// A node left or expired: stop waiting for it.
    Gone(String),
}

/// One node's answer to a request.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) node: String,
    pub(crate) body: Body,
    pub(crate) payload: Vec<u8>,
}

/// A process's membership in the cluster, shared by its adapters and tasks.
pub(crate) struct Node {
    pub(crate) uid: String,
    pub(crate) config: RedisConfig,
    all_channel: Arc<str>,
    own_channel: String,
    publisher: Publisher,
    pub(crate) counters: Arc<Counters>,
    /// The other live nodes and when each was last heard of.
    nodes: Mutex<HashMap<String, Instant>>,
    /// Requests waiting for answers, by id.
    pending: Mutex<HashMap<u64, mpsc::Sender<Incoming>>>,
    next_request: AtomicU64,
    next_remote_ack: AtomicU64,
    namespaces: RwLock<HashMap<String, Arc<LocalStore>>>,
    handlers: RwLock<HashMap<String, ServerHandler>>,
    /// When this node last heard its own heartbeat back, in the counters' milliseconds.
    last_echo: AtomicU64,
    /// The app's metrics of this node, once an app built on it registered them.
    pub(crate) metrics: std::sync::OnceLock<crate::metrics::ClusterMetrics>,
    pub(crate) cancel: CancellationToken,
}

impl Node {
    pub(crate) fn new(
        uid: String,
        config: RedisConfig,
        publisher: Publisher,
        counters: Arc<Counters>,
        cancel: CancellationToken,
    ) -> Self {
        Node {
            all_channel: config.all_channel().into(),
            own_channel: config.node_channel(&uid),
            uid,
            config,
            publisher,
            counters,
            nodes: Mutex::default(),
            pending: Mutex::default(),
            next_request: AtomicU64::new(1),
            next_remote_ack: AtomicU64::new(REMOTE_ACK_IDS),
            namespaces: RwLock::default(),
            handlers: RwLock::default(),
            last_echo: AtomicU64::new(0),
            metrics: std::sync::OnceLock::new(),
            cancel,
        }
    }

    /// The channels this node subscribes to.
    pub(crate) fn channels(&self) -> [String; 2] {
        [self.all_channel.to_string(), self.own_channel.clone()]
    }

    /// Serves remote operations on the sockets of the namespace at `path`.
    pub(crate) fn register(&self, path: &str, store: Arc<LocalStore>) {
        write(&self.namespaces).insert(path.to_owned(), store);
    }

    /// Stops serving the namespace at `path`, if `store` is still the one registered there (a
    /// dynamic namespace dropped with its last socket; a new one at the same path may have
    /// registered its own store meanwhile).
    pub(crate) fn unregister(&self, path: &str, store: &Arc<LocalStore>) {
        let mut namespaces = write(&self.namespaces);
        if namespaces
            .get(path)
            .is_some_and(|registered| Arc::ptr_eq(registered, store))
        {
            namespaces.remove(path);
        }
    }

    /// Sets the handler of server-side event `event`.
    pub(crate) fn on(&self, event: &str, handler: ServerHandler) {
        write(&self.handlers).insert(event.to_owned(), handler);
    }

    /// The other live nodes.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = lock(&self.nodes).keys().cloned().collect();
        nodes.sort();
        nodes
    }

    /// Fails unless both connections are up.
    pub(crate) fn ensure_up(&self) -> Result<(), AdapterError> {
        if self.counters.is_up() {
            Ok(())
        } else {
            Err(AdapterError::Unavailable(
                "the connection to Redis is down".to_owned(),
            ))
        }
    }

    /// Publishes a message to every node; dropped and counted when Redis is unreachable.
    pub(crate) fn publish_all(&self, header: &Header, payload: &[u8]) -> bool {
        self.publisher
            .publish(&self.all_channel, wire::encode(header, payload))
    }

    /// Publishes an encoded message to every node (dropped and counted when it cannot be).
    pub(crate) fn publish_encoded(&self, message: Vec<u8>) -> bool {
        self.publisher.publish(&self.all_channel, message)
    }

    /// Marks both connections down, for good: the node is closing.
    pub(crate) fn shut_down(&self) {
        self.cancel.cancel();
        self.counters
            .publisher_up
            .store(false, std::sync::atomic::Ordering::Release);
        self.counters
            .subscriber_up
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Sends an answer to request `req` of node `to`.
    fn respond(&self, to: &str, req: u64, body: Body, payload: &[u8]) {
        let header = Header::Response {
            node: self.uid.clone(),
            req,
            body,
        };
        let channel: Arc<str> = self.config.node_channel(to).into();
        self.publisher
            .publish(&channel, wire::encode(&header, payload));
    }

    /// How many messages wait to be published.
    pub(crate) fn queued(&self) -> usize {
        self.publisher.queued()
    }

    /// Starts a request: registers it and returns its id, the nodes it waits for, and where
    /// their answers arrive. The entry is removed when the guard drops.
    pub(crate) fn start_request(self: &Arc<Self>, capacity: usize) -> PendingRequest {
        let req = self.next_request.fetch_add(1, Ordering::Relaxed);
        // Lock order: nodes, then pending (as in `forget`), so that no node leaves unnoticed
        // between the snapshot and the registration.
        let nodes = lock(&self.nodes);
        let waiting: HashSet<String> = nodes.keys().cloned().collect();
        let (sender, receiver) = mpsc::channel(capacity + waiting.len() + 8);
        lock(&self.pending).insert(req, sender);
        drop(nodes);
        PendingRequest {
            node: self.clone(),
            req,
            waiting,
            receiver,
        }
    }

    /// Publishes a request built with its id and waits for every live node's answer, within
    /// the request timeout.
    pub(crate) async fn ask(
        self: &Arc<Self>,
        header: impl FnOnce(u64) -> Header,
        payload: &[u8],
    ) -> Result<Vec<Answer>, AdapterError> {
        self.ensure_up()?;
        let mut request = self.start_request(0);
        if !self.publish_all(&header(request.req), payload) {
            return Err(AdapterError::Unavailable(
                "the request could not be published".to_owned(),
            ));
        }
        let timeout = self.config.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answers = Vec::new();
        while !request.waiting.is_empty() {
            match tokio::time::timeout_at(deadline, request.receiver.recv()).await {
                Ok(Some(Incoming::Response {
                    node,
                    body,
                    payload,
                })) => {
                    request.waiting.remove(&node);
                    answers.push(Answer {
                        node,
                        body,
                        payload,
                    });
                }
                Ok(Some(Incoming::Gone(node))) => {
                    request.waiting.remove(&node);
                }
                Ok(None) => break,
                Err(_) => {
                    self.counters
                        .request_timeouts
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        missing = ?request.waiting,
                        "nestgate-redis: nodes did not answer a request within {timeout:?}"
                    );
                    return Err(AdapterError::Timeout(timeout));
                }
            }
        }
        Ok(answers)
    }

    /// Applies a request's operation to the namespace's local sockets.
    fn apply(&self, path: &str, op: Op) -> Body {
        let store = self.store(path);
        match op {
            Op::Fetch { opts } => Body::Sockets(store.map(|s| s.fetch(&opts)).unwrap_or_default()),
            Op::Count { opts } => Body::Count(store.map_or(0, |s| s.count(&opts))),
            Op::Rooms => Body::Rooms(store.map(|s| s.rooms()).unwrap_or_default()),
            Op::Join { opts, rooms } => {
                if let Some(store) = store {
                    store.add_sockets(&opts, &rooms);
                }
                Body::Done
            }
            Op::Leave { opts, rooms } => {
                if let Some(store) = store {
                    store.del_sockets(&opts, &rooms);
                }
                Body::Done
            }
            Op::Disconnect { opts, code, reason } => {
                if let Some(store) = store {
                    store.disconnect(&opts, code, &reason);
                }
                Body::Done
            }
        }
    }

    fn store(&self, path: &str) -> Option<Arc<LocalStore>> {
        read(&self.namespaces).get(path).cloned()
    }

    /// Handles one message from Redis.
    pub(crate) fn handle(self: &Arc<Self>, message: &[u8]) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let (header, payload) = match wire::decode(message) {
            Ok(decoded) => decoded,
            Err(err) => {
                tracing::warn!(%err, "nestgate-redis: ignoring a message that does not decode");
                return;
            }
        };
        if header.node() == self.uid {
            if matches!(header, Header::Heartbeat { .. }) {
                self.last_echo
                    .store(self.counters.now_ms(), Ordering::Relaxed);
            }
            return;
        }
        match header {
            Header::Hello { node } => {
                self.saw(node);
                self.heartbeat();
            }
            Header::Heartbeat { node } => self.saw(node),
            Header::Bye { node } => self.forget(&node, "it said goodbye"),
            Header::Broadcast { path, opts, .. } => {
                if let (Some(store), Ok(frame)) = (self.store(&path), std::str::from_utf8(payload))
                {
                    store.broadcast(&Frame::from(frame), &opts);
                }
            }
            Header::BroadcastAck {
                node,
                req,
                path,
                opts,
                timeout_ms,
            } => self.remote_broadcast_ack(node, req, &path, &opts, timeout_ms, payload),
            Header::Request {
                node,
                req,
                path,
                op,
            } => {
                let body = self.apply(&path, op);
                if let Some(req) = req {
                    self.respond(&node, req, body, b"");
                }
            }
            Header::ServerEvent { node, req, event } => {
                self.server_event(node, req, &event, payload);
            }
            Header::Response { node, req, body } => {
                let pending = lock(&self.pending);
                if let Some(sender) = pending.get(&req) {
                    let incoming = Incoming::Response {
                        node,
                        body,
                        payload: payload.to_vec(),
                    };
                    if sender.try_send(incoming).is_err() {
                        tracing::warn!(
                            req,
                            "nestgate-redis: an answer was dropped: its reader is not keeping up"
                        );
                    }
                }
            }
        }
    }

    /// Sends a frame to the local sockets a remote broadcast with acks targets, and their
    /// answers back to its sender, then says it is done.
    fn remote_broadcast_ack(
        self: &Arc<Self>,
        origin: String,
        req: u64,
        path: &str,
        opts: &nestgate::adapter::BroadcastOptions,
        timeout_ms: u64,
        payload: &[u8],
    ) {
        let ack_id = self.next_remote_ack.fetch_add(1, Ordering::Relaxed);
        let frame = std::str::from_utf8(payload)
            .ok()
            .and_then(|frame| wire::with_ack_id(frame, ack_id));
        let (Some(store), Some(frame)) = (self.store(path), frame) else {
            self.respond(&origin, req, Body::AckDone, b"");
            return;
        };
        let timeout = Duration::from_millis(timeout_ms);
        let mut answers = store.broadcast_with_ack(&Frame::from(frame), ack_id, opts, timeout);
        let node = self.clone();
        tokio::spawn(async move {
            while let Some(answer) = answers.next().await {
                let (error, payload) = match &answer.result {
                    Ok(raw) => (None, raw.get().as_bytes()),
                    Err(err) => (Some(err.into()), &b""[..]),
                };
                let body = Body::Ack {
                    socket: answer.socket.clone(),
                    error,
                };
                node.respond(&origin, req, body, payload);
            }
            node.respond(&origin, req, Body::AckDone, b"");
        });
    }

    /// Runs the handler of a server-side event, answering when asked to.
    fn server_event(self: &Arc<Self>, origin: String, req: Option<u64>, event: &str, data: &[u8]) {
        let handler = read(&self.handlers).get(event).cloned();
        let Some(handler) = handler else {
            if let Some(req) = req {
                let error = format!("node {} has no handler for '{event}'", self.uid);
                self.respond(&origin, req, Body::Reply { error: Some(error) }, b"");
            }
            return;
        };
        let data = String::from_utf8_lossy(data).into_owned();
        let node = self.clone();
        let event = event.to_owned();
        tokio::spawn(async move {
            let result = match AssertUnwindSafe(handler(data)).catch_unwind().await {
                Ok(result) => result,
                Err(_) => {
                    tracing::error!(
                        event,
                        "nestgate-redis: a server-side event handler panicked"
                    );
                    Err("the handler panicked".to_owned())
                }
            };
            if let Some(req) = req {
                match result {
                    Ok(json) => {
                        node.respond(&origin, req, Body::Reply { error: None }, json.as_bytes())
                    }
                    Err(error) => {
                        node.respond(&origin, req, Body::Reply { error: Some(error) }, b"")
                    }
                }
            }
        });
    }

    /// Announces this node.
    pub(crate) fn heartbeat(&self) {
        let header = Header::Heartbeat {
            node: self.uid.clone(),
        };
        self.publish_all(&header, b"");
    }

    /// Notes that a node is alive.
    fn saw(&self, node: String) {
        let known = lock(&self.nodes).insert(node.clone(), Instant::now());
        if known.is_none() {
            tracing::info!(node, "nestgate-redis: a node joined the cluster");
        }
    }

    /// Removes a node; requests stop waiting for it.
    fn forget(&self, node: &str, why: &str) {
        let mut nodes = lock(&self.nodes);
        if nodes.remove(node).is_none() {
            return;
        }
        tracing::info!(node, why, "nestgate-redis: a node left the cluster");
        for sender in lock(&self.pending).values() {
            let _ = sender.try_send(Incoming::Gone(node.to_owned()));
        }
    }

    /// Removes the nodes not heard of within the heartbeat timeout.
    pub(crate) fn expire(&self) {
        let timeout = self.config.heartbeat_timeout;
        let expired: Vec<String> = lock(&self.nodes)
            .iter()
            .filter(|(_, seen)| seen.elapsed() > timeout)
            .map(|(node, _)| node.clone())
            .collect();
        for node in expired {
            self.forget(&node, "no heartbeat within the heartbeat timeout");
        }
    }

    /// Whether this node's own heartbeats stopped coming back while the publisher is up: the
    /// subscription is silently dead.
    fn echo_overdue(&self) -> bool {
        let counters = &self.counters;
        if !counters
            .publisher_up
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return false;
        }
        let since = self
            .last_echo
            .load(Ordering::Relaxed)
            .max(counters.publisher_since_ms());
        let timeout = u64::try_from(self.config.heartbeat_timeout.as_millis()).unwrap_or(u64::MAX);
        counters.now_ms().saturating_sub(since) > timeout
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("uid", &self.uid)
            .field("prefix", &self.config.prefix)
            .field("nodes", &lock(&self.nodes).len())
            .finish()
    }
}

/// A registered request: its id, the nodes still to answer, and where answers arrive.
/// Dropping it unregisters the request.
pub(crate) struct PendingRequest {
    node: Arc<Node>,
    pub(crate) req: u64,
    pub(crate) waiting: HashSet<String>,
    pub(crate) receiver: mpsc::Receiver<Incoming>,
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        lock(&self.node.pending).remove(&self.req);
    }
}

/// Keeps the subscription up: subscribes, hands every message to the node, watches that the
/// node's own heartbeats come back, and re-subscribes with backoff when the connection is lost.
pub(crate) async fn subscribe(node: Arc<Node>, client: redis::Client, first: redis::aio::PubSub) {
    let mut connection = Some(first);
    let mut backoff = Backoff::new(&node.config);
    let channels = node.channels();
    let channels = [channels[0].as_str(), channels[1].as_str()];
    let mut lost_at: Option<Instant> = None;
    loop {
        let mut pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => match link::connect_subscriber(&client, &node.config, &channels).await {
                Ok(pubsub) => pubsub,
                Err(err) => {
                    tracing::debug!(%err, "nestgate-redis: re-subscribing failed");
                    if !pause(&node.cancel, backoff.next_pause()).await {
                        return;
                    }
                    continue;
                }
            },
        };
        if let Some(at) = lost_at.take() {
            node.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                outage = ?at.elapsed(),
                "nestgate-redis: subscription re-established; cluster broadcasts resume"
            );
        }
        backoff.reset();
        node.last_echo
            .store(node.counters.now_ms(), Ordering::Relaxed);
        node.counters
            .subscriber_up
            .store(true, std::sync::atomic::Ordering::Release);
        // Tell the others we are (back) here; they answer with their heartbeats.
        node.publish_all(
            &Header::Hello {
                node: node.uid.clone(),
            },
            b"",
        );
        let reason = {
            let mut messages = pubsub.on_message();
            let mut watchdog = tokio::time::interval(node.config.heartbeat_interval);
            watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = node.cancel.cancelled() => return,
                    message = messages.next() => match message {
                        Some(message) => node.handle(message.get_payload_bytes()),
                        None => break "the connection closed".to_owned(),
                    },
                    _ = watchdog.tick() => {
                        if node.echo_overdue() {
                            break "this node's heartbeats stopped coming back".to_owned();
                        }
                    }
                }
            }
        };
        node.counters
            .subscriber_up
            .store(false, std::sync::atomic::Ordering::Release);
        node.counters
            .connection_losses
            .fetch_add(1, Ordering::Relaxed);
        lost_at = Some(Instant::now());
        tracing::warn!(
            reason,
            "nestgate-redis: lost the Redis subscription; local clients are still served; reconnecting with backoff"
        );
        if !pause(&node.cancel, backoff.next_pause()).await {
            return;
        }
    }
}

/// Announces the node every heartbeat interval and expires the silent ones. After the
/// publishing connection was re-established it says hello instead, so that the others answer at
/// once (the hello sent when the subscription came back may have been lost with the old
/// publishing connection).
pub(crate) async fn heartbeats(node: Arc<Node>) {
    let mut tick = tokio::time::interval(node.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut publisher_since = node.counters.publisher_since_ms();
    loop {
        tokio::select! {
            () = node.cancel.cancelled() => return,
            _ = tick.tick() => {
                let since = node.counters.publisher_since_ms();
                if since == publisher_since {
                    node.heartbeat();
                } else {
                    publisher_since = since;
                    node.publish_all(&Header::Hello { node: node.uid.clone() }, b"");
                }
                node.expire();
                if let Some(metrics) = node.metrics.get() {
                    metrics.update(&node.counters.stats(node.nodes().len()));
                }
            }
        }
    }
}

/// Sleeps unless cancelled first; `false` if cancelled.
async fn pause(cancel: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(pause) => true,
    }
}

/// Locks a mutex, going on after a panic elsewhere: every critical section here leaves its map
/// consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
