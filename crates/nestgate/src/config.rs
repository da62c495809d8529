//! Limits and timings, set through [`App`](crate::App)'s builder methods.

use std::time::Duration;

/// The configuration of an app. Every value has a documented default.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The largest message a client may send, in bytes; larger ones close with 1009.
    pub(crate) max_message_size: usize,
    /// Frames queued for one client before it is dropped as a slow consumer.
    pub(crate) outbound_queue: usize,
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
    /// How long `emit_with_ack` waits by default.
    pub(crate) ack_timeout: Duration,
    /// How long before a socket's expiry the server asks for a fresh token.
    pub(crate) refresh_lead: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 1024 * 1024,
            outbound_queue: 1024,
            max_in_flight: 128,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            shutdown_timeout: Duration::from_secs(10),
            read_buffer_size: 2 * 1024,
            handshake_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            refresh_lead: Duration::from_secs(30),
        }
    }
}
