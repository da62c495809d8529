//! Metrics through the [`metrics`] crate's facade: any recorder works
//! ([`App::metrics_recorder`](crate::App::metrics_recorder),
//! [`App::global_metrics`](crate::App::global_metrics)), and with the `prometheus` feature
//! [`App::metrics_endpoint`](crate::App::metrics_endpoint) serves them in the Prometheus text
//! format on the app's own port. Off by default: nothing is recorded, nothing is measured.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `nestgate_connections_accepted_total` | counter | `path`, `transport` | connections registered (their hooks let them in) |
//! | `nestgate_connections_open` | gauge | `path`, `transport` | connections registered and not yet gone |
//! | `nestgate_connections_rejected_total` | counter | `path`, `reason` (and `status` for `guard`) | handshakes refused: `origin`, `guard` (with the HTTP status it answered: `401`, `403`, …), `hook`, `too_many_namespaces` |
//! | `nestgate_disconnects_total` | counter | `path`, `reason` | registered connections that ended, by [`DisconnectReason`](crate::DisconnectReason) (`client_close`, `transport_error`, `heartbeat_timeout`, `server_shutdown`, `kicked`, `message_too_large`, `slow_consumer`, `invalid_payload`, `token_expired`, `refresh_refused`) |
//! | `nestgate_messages_received_total` | counter | `path`, `event` | event frames received; an event no handler has is `event="<unknown>"` |
//! | `nestgate_received_bytes_total` | counter | `path`, `event` | their bytes |
//! | `nestgate_handler_duration_seconds` | histogram | `path`, `event` | from the frame's arrival to its reply (or its stream's end) |
//! | `nestgate_handler_errors_total` | counter | `path`, `event`, `kind` | `exception` (the handler's error), `validation` (`Data`/`Valid` refused the payload), `guard` (a message guard refused), `panic`, `unknown_event`, `invalid_frame` (`event="<none>"`) |
//! | `nestgate_messages_sent_total` | counter | `path` | frames queued for clients (broadcasts count once per recipient) |
//! | `nestgate_sent_bytes_total` | counter | `path` | their bytes |
//! | `nestgate_volatile_drops_total` | counter | `path` | `volatile` frames dropped for a client whose queue was full |
//! | `nestgate_ack_timeouts_total` | counter | `path` | clients that did not answer an `emit_with_ack` in time |
//! | `nestgate_outbound_queue_high_water` | gauge | `path` | the most frames one ws-json socket of the path had queued at once, since the start (`App::outbound_queue` is the bound; a Socket.IO socket's frames queue in its Engine.IO session) |
//! | `nestgate_sockets` | gauge | `path` | sockets of this process in the path's namespaces |
//! | `nestgate_rooms` | gauge | `path` | rooms with at least one of them (a socket's own id is no room here) |
//!
//! | `nestgate_connections_refused_total` | counter | `reason` | TCP connections refused before any path: `fd_limit` (the descriptor limit, 503), `connection_cap` (`App::max_connections`, per address too: 503), `handshake_timeout` (no request head within `App::handshake_timeout`), `host_header` (no or two `Host` headers: 400) |
//! | `nestgate_engineio_sessions` | gauge | `transport` | Engine.IO sessions open, by their transport now (`polling`, `websocket`) |
//! | `nestgate_engineio_upgrades_total` | counter | — | sessions upgraded from polling to WebSocket |
//!
//! Slow consumers closed with 1013 are `nestgate_disconnects_total{reason="slow_consumer"}`.
//!
//! Label values are bounded: `path` is a gateway's path as declared (a dynamic one's pattern,
//! `/tenant/{id}`, never the instance), `event` one of the path's handlers (or the two markers
//! above: a client cannot grow the label set), `transport` `ws-json` or `socket.io`. Never a
//! socket id, a room or anything of a payload.
//!
//! Handles are registered when the app is built: a global recorder must be installed before.

#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use std::collections::HashMap;
use std::sync::Arc;

/// The metric names.
pub mod names {
    /// Connections registered.
    pub const CONNECTIONS_ACCEPTED: &str = "nestgate_connections_accepted_total";
    /// Connections registered and not yet gone.
    pub const CONNECTIONS_OPEN: &str = "nestgate_connections_open";
    /// Handshakes refused, by reason.
    pub const CONNECTIONS_REJECTED: &str = "nestgate_connections_rejected_total";
    /// Registered connections that ended, by reason.
    pub const DISCONNECTS: &str = "nestgate_disconnects_total";
    /// Event frames received.
    pub const MESSAGES_RECEIVED: &str = "nestgate_messages_received_total";
    /// Bytes of event frames received.
    pub const RECEIVED_BYTES: &str = "nestgate_received_bytes_total";
    /// How long handlers take, in seconds.
    pub const HANDLER_DURATION: &str = "nestgate_handler_duration_seconds";
    /// Handler errors, by kind.
    pub const HANDLER_ERRORS: &str = "nestgate_handler_errors_total";
    /// Frames queued for clients.
    pub const MESSAGES_SENT: &str = "nestgate_messages_sent_total";
    /// Bytes of frames queued for clients.
    pub const SENT_BYTES: &str = "nestgate_sent_bytes_total";
    /// Volatile frames dropped.
    pub const VOLATILE_DROPS: &str = "nestgate_volatile_drops_total";
    /// Clients that did not answer an ack in time.
    pub const ACK_TIMEOUTS: &str = "nestgate_ack_timeouts_total";
    /// The most frames one socket had queued at once.
    pub const QUEUE_HIGH_WATER: &str = "nestgate_outbound_queue_high_water";
    /// Sockets in the path's namespaces.
    pub const SOCKETS: &str = "nestgate_sockets";
    /// Rooms in the path's namespaces.
    pub const ROOMS: &str = "nestgate_rooms";
    /// TCP connections refused before any path, by reason.
    pub const CONNECTIONS_REFUSED: &str = "nestgate_connections_refused_total";
    /// Engine.IO sessions, by transport.
    pub const ENGINEIO_SESSIONS: &str = "nestgate_engineio_sessions";
    /// Engine.IO upgrades to WebSocket.
    pub const ENGINEIO_UPGRADES: &str = "nestgate_engineio_upgrades_total";
}

/// The target of nestgate's spans: a span per connection (`connection`: `id`, `path`,
/// `transport`, `remote`) and, inside it, one per message (`message`: `event`, `id`, `outcome`
/// — `ok`, `gone` or an error kind — and `duration_us`), the handler running inside. At the
/// `DEBUG` level: `EnvFilter::new("info,nestgate::trace=debug")` turns them on without
/// nestgate's debug logs; off, they cost a check each.
pub const TRACE_TARGET: &str = "nestgate::trace";

/// The `event` label of a frame whose event no handler of its path has.
pub const UNKNOWN_EVENT: &str = "<unknown>";
/// The `event` label of a frame that names no event.
pub const NO_EVENT: &str = "<none>";

static METADATA: Metadata<'static> = Metadata::new("nestgate", Level::INFO, Some("nestgate"));

/// The app's metrics, for what plugs into it (an adapter, a library): register the handles
/// of what it counts here, and they go where the app's go
/// ([`AdapterBuilder::metrics`](crate::adapter::AdapterBuilder::metrics) hands one to the
/// adapter). Without a recorder the handles do nothing.
#[derive(Clone, Debug)]
pub struct Registry {
    source: Source,
}

impl Registry {
    pub(crate) fn new(source: &Source) -> Self {
        Registry {
            source: source.clone(),
        }
    }

    /// Whether anything records (else nothing need be measured).
    pub fn is_on(&self) -> bool {
        !matches!(self.source, Source::Off)
    }

    /// A counter `name` with these labels (bounded values only).
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.source.counter(name, labels)
    }

    /// A gauge `name` with these labels (bounded values only).
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.source.gauge(name, labels)
    }
}

/// Where the app's metrics go.
#[derive(Clone, Default)]
pub(crate) enum Source {
    /// Nowhere: nothing is recorded or measured.
    #[default]
    Off,
    /// The `metrics` crate's global recorder.
    Global,
    /// A recorder of the app's own.
    Own(Arc<dyn Recorder + Send + Sync>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Off => "Off",
            Source::Global => "Global",
            Source::Own(_) => "Own",
        })
    }
}

type Labels<'a> = &'a [(&'static str, &'a str)];

impl Source {
    fn key(name: &'static str, labels: Labels<'_>) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(name, value)| Label::new(*name, value.to_string()))
            .collect();
        Key::from_parts(name, labels)
    }

    fn with<T>(&self, off: T, register: impl FnOnce(&dyn Recorder) -> T) -> T {
        match self {
            Source::Off => off,
            Source::Global => metrics::with_recorder(register),
            Source::Own(recorder) => register(&**recorder),
        }
    }

    fn counter(&self, name: &'static str, labels: Labels<'_>) -> Counter {
        self.with(Counter::noop(), |recorder| {
            recorder.register_counter(&Self::key(name, labels), &METADATA)
        })
    }

    fn gauge(&self, name: &'static str, labels: Labels<'_>) -> Gauge {
        self.with(Gauge::noop(), |recorder| {
            recorder.register_gauge(&Self::key(name, labels), &METADATA)
        })
    }

    fn histogram(&self, name: &'static str, labels: Labels<'_>) -> Histogram {
        self.with(Histogram::noop(), |recorder| {
            recorder.register_histogram(&Self::key(name, labels), &METADATA)
        })
    }
}

/// The two wire modes, as the `transport` label says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    WsJson,
    SocketIo,
}

impl Wire {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Wire::WsJson => "ws-json",
            Wire::SocketIo => "socket.io",
        }
    }
}

/// One event's handles.
#[derive(Debug)]
pub(crate) struct EventMetrics {
    received: Counter,
    bytes: Counter,
    duration: Histogram,
}

impl EventMetrics {
    fn new(source: &Source, path: &str, event: &str) -> Self {
        let labels = [("path", path), ("event", event)];
        EventMetrics {
            received: source.counter(names::MESSAGES_RECEIVED, &labels),
            bytes: source.counter(names::RECEIVED_BYTES, &labels),
            duration: source.histogram(names::HANDLER_DURATION, &labels),
        }
    }

    /// A frame of `bytes` received.
    fn received(&self, bytes: usize) {
        self.received.increment(1);
        self.bytes.increment(bytes as u64);
    }

    /// Its handler took `seconds`.
    fn handled(&self, seconds: f64) {
        self.duration.record(seconds);
    }
}

/// The handles of one gateway path (shared by a dynamic path's instances).
#[derive(Debug)]
pub(crate) struct PathMetrics {
    source: Source,
    path: Box<str>,
    on: bool,
    accepted: [Counter; 2],
    open: [Gauge; 2],
    sent: Counter,
    sent_bytes: Counter,
    volatile_drops: Counter,
    ack_timeouts: Counter,
    sockets: Gauge,
    rooms: Gauge,
    high_water: Gauge,
    /// The high-water mark as the gauge has it (so that it is set only when it rises).
    peak: std::sync::atomic::AtomicUsize,
    unknown: EventMetrics,
    events: HashMap<&'static str, EventMetrics>,
}

impl PathMetrics {
    /// The handles of `path`, whose handlers are `events`.
    pub(crate) fn new(
        source: &Source,
        path: &str,
        events: impl IntoIterator<Item = &'static str>,
    ) -> Arc<Self> {
        let by_wire = |wire: Wire| [("path", path), ("transport", wire.label())];
        let counter = |name, wire| source.counter(name, &by_wire(wire));
        let gauge = |name, wire| source.gauge(name, &by_wire(wire));
        Arc::new(PathMetrics {
            on: !matches!(source, Source::Off),
            accepted: [
                counter(names::CONNECTIONS_ACCEPTED, Wire::WsJson),
                counter(names::CONNECTIONS_ACCEPTED, Wire::SocketIo),
            ],
            open: [
                gauge(names::CONNECTIONS_OPEN, Wire::WsJson),
                gauge(names::CONNECTIONS_OPEN, Wire::SocketIo),
            ],
            sent: source.counter(names::MESSAGES_SENT, &[("path", path)]),
            sent_bytes: source.counter(names::SENT_BYTES, &[("path", path)]),
            volatile_drops: source.counter(names::VOLATILE_DROPS, &[("path", path)]),
            ack_timeouts: source.counter(names::ACK_TIMEOUTS, &[("path", path)]),
            sockets: source.gauge(names::SOCKETS, &[("path", path)]),
            rooms: source.gauge(names::ROOMS, &[("path", path)]),
            high_water: source.gauge(names::QUEUE_HIGH_WATER, &[("path", path)]),
            peak: std::sync::atomic::AtomicUsize::new(0),
            unknown: EventMetrics::new(source, path, UNKNOWN_EVENT),
            events: events
                .into_iter()
                .map(|event| (event, EventMetrics::new(source, path, event)))
                .collect(),
            source: source.clone(),
            path: path.into(),
        })
    }

    /// Whether anything is recorded (else nothing need be measured).
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// The handles of `event` (an unknown one's: [`UNKNOWN_EVENT`]).
    fn event(&self, event: &str) -> &EventMetrics {
        self.events.get(event).unwrap_or(&self.unknown)
    }

    /// A frame of `bytes` for `event` received (nothing looked up when nothing records).
    pub(crate) fn received(&self, event: &str, bytes: usize) {
        if self.on {
            self.event(event).received(bytes);
        }
    }

    /// The message of `event` took `seconds`.
    pub(crate) fn handled(&self, event: &str, seconds: f64) {
        self.event(event).handled(seconds);
    }

    /// A connection registered.
    pub(crate) fn accepted(&self, wire: Wire) {
        self.accepted[wire as usize].increment(1);
        self.open[wire as usize].increment(1.0);
    }

    /// A registered connection ended.
    pub(crate) fn disconnected(&self, wire: Wire, reason: &'static str) {
        self.open[wire as usize].decrement(1.0);
        if self.on {
            let labels = [("path", &*self.path), ("reason", reason)];
            self.source
                .counter(names::DISCONNECTS, &labels)
                .increment(1);
        }
    }

    /// A handshake refused.
    pub(crate) fn rejected(&self, reason: &'static str) {
        if self.on {
            let labels = [("path", &*self.path), ("reason", reason)];
            self.source
                .counter(names::CONNECTIONS_REJECTED, &labels)
                .increment(1);
        }
    }

    /// A handshake a guard refused with `status` (401, 403, …: a bounded set, the guards').
    pub(crate) fn refused_by_guard(&self, status: u16) {
        if self.on {
            let status = status.to_string();
            let labels = [
                ("path", &*self.path),
                ("reason", "guard"),
                ("status", &*status),
            ];
            self.source
                .counter(names::CONNECTIONS_REJECTED, &labels)
                .increment(1);
        }
    }

    /// A handler error of `kind` for `event` (a known event's name, or a marker).
    pub(crate) fn error(&self, event: &str, kind: &'static str) {
        if self.on {
            let event = if self.events.contains_key(event) || event == NO_EVENT {
                event
            } else {
                UNKNOWN_EVENT
            };
            let labels = [("path", &*self.path), ("event", event), ("kind", kind)];
            self.source
                .counter(names::HANDLER_ERRORS, &labels)
                .increment(1);
        }
    }

    /// A socket's outbound queue holds `frames` now.
    pub(crate) fn queued(&self, frames: usize) {
        use std::sync::atomic::Ordering;
        // A load first: once the mark is high, a push costs no write.
        if self.on && frames > self.peak.load(Ordering::Relaxed) {
            let before = self.peak.fetch_max(frames, Ordering::Relaxed);
            if frames > before {
                self.high_water.set(frames as f64);
            }
        }
    }

    /// A volatile frame dropped.
    pub(crate) fn volatile_dropped(&self) {
        self.volatile_drops.increment(1);
    }

    /// `count` clients that did not answer in time.
    pub(crate) fn ack_timed_out(&self, count: usize) {
        self.ack_timeouts.increment(count as u64);
    }

    /// A socket more (`1`) or less (`-1`) in a namespace of the path.
    pub(crate) fn sockets(&self, change: f64) {
        self.sockets.increment(change);
    }

    /// A room more (`1`) or less (`-1`) in a namespace of the path.
    pub(crate) fn rooms(&self, change: f64) {
        self.rooms.increment(change);
    }

    /// `count` frames of `bytes` each queued for clients.
    pub(crate) fn sent(&self, count: usize, bytes: usize) {
        if self.on && count > 0 {
            self.sent.increment(count as u64);
            self.sent_bytes.increment((count * bytes) as u64);
        }
    }
}

/// The Engine.IO server's handles.
#[derive(Debug)]
pub(crate) struct EngineMetrics {
    polling: Gauge,
    websocket: Gauge,
    upgrades: Counter,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics::new(&Source::Off)
    }
}

impl EngineMetrics {
    pub(crate) fn new(source: &Source) -> Self {
        EngineMetrics {
            polling: source.gauge(names::ENGINEIO_SESSIONS, &[("transport", "polling")]),
            websocket: source.gauge(names::ENGINEIO_SESSIONS, &[("transport", "websocket")]),
            upgrades: source.counter(names::ENGINEIO_UPGRADES, &[]),
        }
    }

    fn transport(&self, websocket: bool) -> &Gauge {
        if websocket {
            &self.websocket
        } else {
            &self.polling
        }
    }

    /// A session opened on its first transport.
    pub(crate) fn opened(&self, websocket: bool) {
        self.transport(websocket).increment(1.0);
    }

    /// A polling session upgraded to WebSocket.
    pub(crate) fn upgraded(&self) {
        self.polling.decrement(1.0);
        self.websocket.increment(1.0);
        self.upgrades.increment(1);
    }

    /// A session closed, on the transport it had.
    pub(crate) fn closed(&self, websocket: bool) {
        self.transport(websocket).decrement(1.0);
    }
}

/// The accept loop's handles: connections refused before any path.
#[derive(Debug)]
pub(crate) struct ServeMetrics {
    fd_limit: Counter,
    connection_cap: Counter,
    handshake_timeout: Counter,
    host_header: Counter,
}

impl ServeMetrics {
    pub(crate) fn new(source: &Source) -> Self {
        let refused = |reason| source.counter(names::CONNECTIONS_REFUSED, &[("reason", reason)]);
        ServeMetrics {
            fd_limit: refused("fd_limit"),
            connection_cap: refused("connection_cap"),
            handshake_timeout: refused("handshake_timeout"),
            host_header: refused("host_header"),
        }
    }

    /// Refused at the descriptor limit.
    pub(crate) fn fd_limit(&self) {
        self.fd_limit.increment(1);
    }

    /// Refused by a connection cap.
    pub(crate) fn connection_cap(&self) {
        self.connection_cap.increment(1);
    }

    /// No request head in time.
    pub(crate) fn handshake_timeout(&self) {
        self.handshake_timeout.increment(1);
    }

    /// No or two `Host` headers.
    pub(crate) fn host_header(&self) {
        self.host_header.increment(1);
    }
}
