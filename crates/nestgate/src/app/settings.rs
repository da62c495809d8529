//! [`App`]'s per-connection limits and timings: message size, outbound queue, inbound rate,
//! handlers in flight, heartbeat, acks, token refresh, lingering close and shutdown.

use super::App;
use std::time::Duration;

impl App {
    /// Turns on connection-state recovery: a client whose connection was lost comes back
    /// within `config.window` and gets every message it missed, in order — or is told it was
    /// not recovered, and why. Off by default; see [`recovery`](crate::recovery) for the
    /// protocol and what it costs.
    ///
    /// ```
    /// let app = nestgate::App::new().recovery(nestgate::recovery::RecoveryConfig::default());
    /// ```
    pub fn recovery(mut self, config: crate::recovery::RecoveryConfig) -> Self {
        self.config.recovery = Some(config);
        self
    }

    /// Records nestgate's metrics ([`metrics`](crate::metrics): names, labels) into
    /// `recorder`, any [`metrics::Recorder`], this app's own.
    ///
    /// ```
    /// let recorder = metrics_util::debugging::DebuggingRecorder::new();
    /// let snapshots = recorder.snapshotter();
    /// let app = nestgate::App::new().metrics_recorder(recorder);
    /// # let _ = (app, snapshots);
    /// ```
    pub fn metrics_recorder(
        mut self,
        recorder: impl metrics::Recorder + Send + Sync + 'static,
    ) -> Self {
        self.config.metrics = crate::metrics::Source::Own(std::sync::Arc::new(recorder));
        self
    }

    /// Records nestgate's metrics into the `metrics` crate's global recorder, which must be
    /// installed before the app is built (`listen`, `bind`, `into_router`).
    pub fn global_metrics(mut self) -> Self {
        self.config.metrics = crate::metrics::Source::Global;
        self
    }

    /// Serves nestgate's metrics in the Prometheus text format at `path` (e.g. `"/metrics"`),
    /// on the app's own port, from a recorder of its own (feature `prometheus`). Put it behind
    /// your proxy's access rules, or serve it on an internal listener of your own with
    /// [`metrics_recorder`](Self::metrics_recorder) and `metrics-exporter-prometheus`.
    ///
    /// ```
    /// let app = nestgate::App::new().metrics_endpoint("/metrics");
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn metrics_endpoint(mut self, path: &str) -> Self {
        let (source, handle) = crate::metrics::prometheus::recorder();
        self.config.metrics = source;
        self.merge(crate::metrics::prometheus::route(path, handle))
    }

    /// How long `emit_with_ack` waits for a client's answer by default (default 5 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// How long before a socket's token expires the server asks the client for a fresh one
    /// (default 30 s; never before half the time left has passed). Only sockets whose handshake
    /// guard set an expiry ([`HandshakeRequest::expires_at`](crate::guard::HandshakeRequest::expires_at))
    /// are asked; see [`refresh`](crate::refresh).
    pub fn token_refresh(mut self, lead: Duration) -> Self {
        self.config.refresh_lead = lead;
        self
    }

    /// The largest message a client may send, in bytes (default 1 MiB). A larger one closes the
    /// connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// How many frames may wait for one client (default 1024). A client whose queue is full is
    /// closed with 1013 as a slow consumer; nobody else waits for it.
    pub fn outbound_queue(mut self, frames: usize) -> Self {
        self.config.outbound_queue = frames.max(1);
        self
    }

    /// How long, and for how many bytes at most, a ws-json connection that the server closed
    /// keeps reading (and discarding) what its client still sends (defaults: 2 s, 64 MiB).
    ///
    /// A server that drops a connection while the client is still sending (the rest of an
    /// oversized message, a flood) makes the kernel answer with a TCP reset, and the client then
    /// loses the close frame it had not read yet: it sees 1006 instead of 1009, 1013, 1008 or
    /// 1001. So after its close frame the server half-closes the connection and drains it until
    /// the client closes its side or one of these limits is reached; then it drops it. A zero
    /// timeout drops it at once, as before this setting existed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let app = nestgate::App::new().lingering_close(Duration::from_secs(5), 256 * 1024 * 1024);
    /// # drop(app);
    /// ```
    pub fn lingering_close(mut self, timeout: Duration, max_bytes: usize) -> Self {
        self.config.linger_timeout = timeout;
        self.config.linger_bytes = max_bytes;
        self
    }

    /// How many payload bytes may wait for one client (default 16 MiB), beside
    /// [`outbound_queue`](App::outbound_queue)'s frame count: a client whose queued frames would
    /// exceed it is closed with 1013 as a slow consumer. A single frame larger than this is still
    /// queued when nothing else is, so one large emit does not by itself close a client.
    ///
    /// The default holds 16 messages of the default [`max_message_size`](App::max_message_size)
    /// (an echo of each), and bounds what one client that stops reading can pin to 16 MiB rather
    /// than 1,024 frames of any size.
    ///
    /// ```
    /// let app = nestgate::App::new().outbound_queue_bytes(4 * 1024 * 1024);
    /// # drop(app);
    /// ```
    pub fn outbound_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.outbound_queue_bytes = bytes.max(1);
        self
    }

    /// How many messages one ws-json connection, or one Socket.IO (Engine.IO) session, may send
    /// per second on average (default 100), and at once after a quiet period (`burst`, default
    /// 200). Past it the connection's reading pauses until the next message is due: the client
    /// is slowed down by backpressure, not answered with an error or closed. On ws-json every
    /// frame counts (text, binary, ping); on Socket.IO every packet (EVENT, ACK, CONNECT, …,
    /// binary attachments going with their packet) of all the session's namespaces together,
    /// while Engine.IO's pings, pongs and upgrade are never held back: a paused client is not
    /// closed for a ping timeout. A polling POST is held while its messages wait, at most
    /// [`EngineConfig::post_timeout`](crate::engineio::EngineConfig::post_timeout).
    ///
    /// This is what keeps one client that floods a fan-out event (`server.emit` of what it
    /// sends) from filling every other client's outbound queue: each recipient then gets at
    /// most this rate from it. Turn it off with [`App::without_message_rate_limit`] (for both
    /// protocols) where clients are trusted or a layer limits them (the benchmarks' echo
    /// server does).
    ///
    /// ```
    /// // A game: 60 position updates per second and some room for bursts.
    /// let app = nestgate::App::new().max_messages_per_second(120, 240);
    /// # drop(app);
    /// ```
    pub fn max_messages_per_second(mut self, per_second: u32, burst: u32) -> Self {
        self.config.message_rate = Some(crate::util::rate::Rate {
            per_second: per_second.max(1),
            burst: burst.max(1),
        });
        self
    }

    /// Removes the inbound message rate limit (see [`App::max_messages_per_second`]), for
    /// ws-json connections and Socket.IO sessions alike.
    ///
    /// ```
    /// let app = nestgate::App::new().without_message_rate_limit();
    /// # drop(app);
    /// ```
    pub fn without_message_rate_limit(mut self) -> Self {
        self.config.message_rate = None;
        self
    }

    /// How many handlers of one connection may run at once (default 128); past it, the
    /// connection's reading pauses until one finishes.
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.config.max_in_flight = handlers.max(1);
        self
    }

    /// Pings a client idle for `interval` and closes it (1008, "heartbeat timeout") when it has
    /// not answered within `timeout` (defaults 25 s and 20 s).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.ping_interval = interval;
        self.config.ping_timeout = timeout;
        self
    }

    /// How long running handlers get to finish at shutdown before the sockets close with 1001
    /// (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// The WebSocket read buffer of each connection (default 2 KiB).
    ///
    /// It is allocated for every connection, idle or not, and is the largest part of an idle
    /// connection's memory; a larger message only takes more reads. Raise it for clients that
    /// mostly send large messages.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.read_buffer_size = bytes;
        self
    }

    /// How long a new connection has to send its HTTP request head before it is closed
    /// (default 10 s), so that idle TCP connections cannot pile up. Applies under
    /// [`App::listen`] and [`App::bind`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }
}
