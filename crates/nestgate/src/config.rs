//! Limits and timings, set through [`App`](crate::App)'s builder methods.

use std::time::Duration;

/// The configuration of an app. Every value has a documented default.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The largest message a client may send, in bytes; larger ones close with 1009.
    pub(crate) max_message_size: usize,
    /// Frames queued for one client before it is dropped as a slow consumer.
    pub(crate) outbound_queue: usize,
    /// Payload bytes queued for one client before it is dropped as a slow consumer.
    pub(crate) outbound_queue_bytes: usize,
    /// Messages one ws-json connection may send per second (and at once); past it, reading
    /// pauses. `None`: no limit.
    pub(crate) message_rate: Option<crate::util::rate::Rate>,
    /// Handlers of one connection running at once; past it, reading pauses.
    pub(crate) max_in_flight: usize,
    /// How often an idle client is pinged.
    pub(crate) ping_interval: Duration,
    /// How long a pinged client has to answer.
    pub(crate) ping_timeout: Duration,
    /// How long running handlers get to finish at shutdown, or after their client left.
    pub(crate) shutdown_timeout: Duration,
    /// The WebSocket read buffer of each connection.
    pub(crate) read_buffer_size: usize,
    /// How long a new TCP connection has to send its HTTP request head.
    pub(crate) handshake_timeout: Duration,
    /// How long a connection the server closed keeps draining what the client still sends.
    pub(crate) linger_timeout: Duration,
    /// How many bytes a connection the server closed drains at most.
    pub(crate) linger_bytes: usize,
    /// How long `emit_with_ack` waits by default.
    pub(crate) ack_timeout: Duration,
    /// How long before a socket's expiry the server asks for a fresh token.
    pub(crate) refresh_lead: Duration,
    /// Admission: what a client may open and keep before any handler runs (see `app/limits.rs`).
    pub(crate) admission: Admission,
    /// Connection-state recovery (`App::recovery`); `None`: off.
    pub(crate) recovery: Option<RecoveryConfig>,
    /// Where metrics go (`App::metrics_recorder`, `App::global_metrics`, `App::metrics_endpoint`).
    pub(crate) metrics: crate::metrics::Source,
}

/// The bounds on connections, request heads, rooms and dynamic namespaces.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    /// The largest request head (request line and headers), in bytes; larger ones get 431.
    pub(crate) max_header_size: usize,
    /// Open TCP connections at once; past it, new ones get 503.
    pub(crate) max_connections: Option<usize>,
    /// Open TCP connections from one address (an IPv6 /64) at once; past it, 503.
    pub(crate) max_connections_per_ip: Option<usize>,
    /// Rooms one socket may be in (not counting its own).
    pub(crate) max_rooms_per_socket: usize,
    /// Namespaces dynamic gateways may have at once.
    pub(crate) max_dynamic_namespaces: usize,
    /// Which `Host` names gateway requests may carry.
    pub(crate) hosts: crate::host::HostSetting,
}

/// 16 KiB, as Node.js's `--max-http-header-size`: what a NestJS or socket.io server accepts.
pub(crate) const DEFAULT_MAX_HEADER_SIZE: usize = 16 * 1024;

impl Default for Admission {
    fn default() -> Self {
        Admission {
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_connections: None,
            max_connections_per_ip: None,
            max_rooms_per_socket: 1_000,
            max_dynamic_namespaces: 10_000,
            hosts: crate::host::HostSetting::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 1024 * 1024,
            outbound_queue: 1024,
            outbound_queue_bytes: 16 * 1024 * 1024,
            message_rate: Some(crate::util::rate::Rate {
                per_second: 100,
                burst: 200,
            }),
            max_in_flight: 128,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            shutdown_timeout: Duration::from_secs(10),
            read_buffer_size: 2 * 1024,
            handshake_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            linger_timeout: Duration::from_secs(2),
            linger_bytes: 64 * 1024 * 1024,
            admission: Admission::default(),
            refresh_lead: Duration::from_secs(30),
            recovery: None,
            metrics: crate::metrics::Source::Off,
        }
    }
}

/// How connection-state recovery works: [`App::recovery`](crate::App::recovery).
///
/// ```
/// use nestgate::recovery::RecoveryConfig;
/// use std::time::Duration;
///
/// let config = RecoveryConfig {
///     window: Duration::from_secs(30),
///     ..RecoveryConfig::default()
/// };
/// let app = nestgate::App::new().recovery(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a lost session may come back, and how old a stored message may be. Default
    /// 2 minutes (socket.io's default).
    pub window: Duration,
    /// Messages stored per namespace. Default 10,000.
    pub max_messages: usize,
    /// Bytes of stored frames per namespace. Default 8 MiB.
    pub max_bytes: usize,
    /// Lost sessions kept per namespace; past it the oldest goes. Default 100,000.
    pub max_sessions: usize,
    /// Lets a recovering connection in without running the handshake guards again. Default
    /// `false`: the guards run, since a token may have expired meanwhile.
    pub skip_guards: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            window: Duration::from_secs(120),
            max_messages: 10_000,
            max_bytes: 8 * 1024 * 1024,
            max_sessions: 100_000,
            skip_guards: false,
        }
    }
}
