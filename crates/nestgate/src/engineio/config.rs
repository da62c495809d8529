//! [`EngineConfig`]: every bound of an Engine.IO session, with its default (docs/LIMITS.md lists
//! them all with the test that hits each).

use crate::origin::OriginPolicy;
use std::time::Duration;

/// Engine.IO settings.
///
/// Every field has a safe default; the builder methods change one each:
///
/// ```
/// use nestgate::engineio::EngineConfig;
/// use std::time::Duration;
///
/// let config = EngineConfig::default()
///     .heartbeat(Duration::from_secs(25), Duration::from_secs(20))
///     .max_payload(1_000_000)
///     .max_sessions(50_000)
///     // Only when clients reach the server directly, not through a reverse proxy.
///     .max_sessions_per_ip(Some(64))
///     .post_timeout(Duration::from_secs(10));
/// assert_eq!(config.buffered_bytes_limit(), 4_000_000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// How often the server pings (default 25 s).
    pub ping_interval: Duration,
    /// How long a pong may take before the session is closed (default 20 s). A polling client
    /// that does not collect its ping with a GET within `ping_interval + ping_timeout` cannot
    /// answer it and is closed too. Once the client was handed the ping, each message it sends
    /// also counts as alive for `ping_timeout` (as engine.io's `lastPacketTime`): its pong may
    /// wait behind its own messages while they are read slowly (a rate limit, a busy app).
    pub ping_timeout: Duration,
    /// The largest message, WebSocket frame and polling request body, in bytes (default
    /// 1,000,000, engine.io's `maxHttpBufferSize`). It also caps the binary attachments of one
    /// Socket.IO packet, together.
    pub max_payload: usize,
    /// Packets waiting for a client before it is dropped as a slow consumer (default 4096).
    pub max_buffered: usize,
    /// Bytes waiting for a client before it is dropped as a slow consumer (default `None`:
    /// 4 × `max_payload`). See [`EngineConfig::buffered_bytes_limit`].
    pub max_buffered_bytes: Option<usize>,
    /// Sessions open at once, over both transports (default 100,000). A handshake past it is
    /// refused before anything is allocated: 403 `{"code":4,"message":"Too many sessions"}`
    /// over polling (engine.io's answer when `allowRequest` refuses), 400 for a WebSocket.
    pub max_sessions: usize,
    /// Sessions open at once from one IP address, an IPv6 /64 counting as one (default `None`:
    /// no per-address cap), refused as [`max_sessions`](Self::max_sessions) is.
    ///
    /// Recommended (e.g. 64) when clients connect to the server directly. Behind a reverse
    /// proxy every client has the proxy's address, so a per-address cap would turn everyone
    /// away at once: there, leave it off and cap per client at the proxy.
    pub max_sessions_per_ip: Option<usize>,
    /// How long a polling POST may take, whole (default 20 s): sending its body, then the
    /// application taking its messages (it waits while the application is behind, or past
    /// [`App::max_messages_per_second`](crate::App::max_messages_per_second) for Socket.IO).
    /// A POST not done by then gets 408, its connection is closed, and so is the session.
    pub post_timeout: Duration,
    /// How long a WebSocket may take to complete its upgrade of a polling session (`2probe`,
    /// then `5`; default 10 s, engine.io's `upgradeTimeout`). The WebSocket is then closed and
    /// the session stays on polling.
    pub upgrade_timeout: Duration,
    /// The request headers and URI a session keeps for guards and
    /// [`EngineSocket::handshake`](super::EngineSocket::handshake), in bytes (default 16 KiB).
    /// A handshake with more gets 431 and no session.
    pub max_handshake_bytes: usize,
    /// Browser origins allowed for polling (CORS) and WebSocket requests.
    pub origins: OriginPolicy,
    /// The WebSocket read buffer, in bytes (default 4 KiB). tungstenite's own default, 128 KiB,
    /// is zero-filled before every read: it was 94 % of a Socket.IO echo's instructions.
    pub read_buffer_size: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            max_buffered: 4096,
            max_buffered_bytes: None,
            max_sessions: 100_000,
            max_sessions_per_ip: None,
            post_timeout: Duration::from_secs(20),
            upgrade_timeout: Duration::from_secs(10),
            max_handshake_bytes: 16 * 1024,
            origins: OriginPolicy::default(),
            read_buffer_size: 4 * 1024,
        }
    }
}

impl EngineConfig {
    /// Sets the ping interval and timeout.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        self
    }

    /// Sets `maxPayload`.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Sets how many bytes may wait for one client (its queued messages, as the application
    /// sent them) before its session is closed as a slow client.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.max_buffered_bytes = Some(bytes);
        self
    }

    /// The bytes that may wait for one client: the setting, or 4 × `max_payload` (and never
    /// less than one message of `max_payload`).
    pub fn buffered_bytes_limit(&self) -> usize {
        self.max_buffered_bytes
            .unwrap_or(self.max_payload.saturating_mul(4))
            .max(self.max_payload)
    }

    /// Sets how many sessions may be open at once.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Sets how many sessions one IP address may have open at once (`None`: no cap).
    pub fn max_sessions_per_ip(mut self, sessions: Option<usize>) -> Self {
        self.max_sessions_per_ip = sessions;
        self
    }

    /// Sets how long a polling POST may take (its body, then its messages taken).
    pub fn post_timeout(mut self, timeout: Duration) -> Self {
        self.post_timeout = timeout;
        self
    }

    /// Sets how long a WebSocket upgrade may take.
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// Sets how many bytes of request headers and URI a session may keep.
    pub fn max_handshake_bytes(mut self, bytes: usize) -> Self {
        self.max_handshake_bytes = bytes;
        self
    }

    /// Sets which browser origins may connect.
    pub fn origins(mut self, origins: OriginPolicy) -> Self {
        self.origins = origins;
        self
    }
}
