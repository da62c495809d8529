//! [`RedisConfig`]: where Redis is, how the channels are named, and every timing.

use std::time::Duration;

/// How a node (or an [`Emitter`](crate::Emitter)) reaches Redis and talks to the other nodes.
///
/// Every value has a default; only the URL is required.
///
/// ```
/// use nestgate_redis::RedisConfig;
/// use std::time::Duration;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379")
///     .prefix("chat") // several apps can share one Redis
///     .request_timeout(Duration::from_secs(2));
/// assert_eq!(config.channel_prefix(), "chat");
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) request_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) publish_queue: usize,
    pub(crate) discovery: Duration,
}

impl RedisConfig {
    /// A configuration for the Redis server at `url`: `redis://host:port/db`, with
    /// `redis://user:password@host:port` for authentication, as the `redis` crate reads it.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "nestgate".to_owned(),
            request_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            command_timeout: Duration::from_secs(3),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            publish_queue: 8192,
            discovery: Duration::from_millis(200),
        }
    }

    /// The prefix of every channel (default `nestgate`): apps that share a Redis each take their
    /// own, and only nodes with the same prefix form a cluster.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a query (`fetch_sockets`, room sizes, `sockets_join`, a server-side emit with
    /// acks...) waits for the other nodes before failing with
    /// [`AdapterError::Timeout`](nestgate::adapter::AdapterError::Timeout) (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How often a node announces itself (default 5 s).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long a node that stopped announcing itself is still counted on (default 10 s); after
    /// it, queries no longer wait for it.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// How long one connection attempt to Redis may take (default 3 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long Redis has to answer a batch of publishes (default 3 s); past it the connection
    /// is considered lost.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The first and the longest pause between reconnection attempts (defaults 100 ms and 5 s);
    /// the pause doubles after each failure, with jitter.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// How many messages may wait to be published (default 8192). When Redis is slow and the
    /// queue is full, or Redis is unreachable, cluster messages are dropped and counted in
    /// [`ClusterStats::dropped`](crate::ClusterStats::dropped); local sockets are still served.
    pub fn publish_queue(mut self, messages: usize) -> Self {
        self.publish_queue = messages.max(1);
        self
    }

    /// How long [`RedisCluster::connect`](crate::RedisCluster::connect) waits for the other
    /// nodes to answer its hello before returning (default 200 ms), so that the first queries
    /// already count them.
    pub fn discovery(mut self, wait: Duration) -> Self {
        self.discovery = wait;
        self
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The channel prefix.
    pub fn channel_prefix(&self) -> &str {
        &self.prefix
    }

    /// The channel every node listens to: broadcasts, requests, heartbeats.
    pub(crate) fn all_channel(&self) -> String {
        format!("{}#all", self.prefix)
    }

    /// The channel only node `uid` listens to: answers to its requests.
    pub(crate) fn node_channel(&self, uid: &str) -> String {
        format!("{}#node#{uid}", self.prefix)
    }
}

/// Exponential backoff with jitter between `min` and `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &RedisConfig) -> Self {
        Backoff {
            min: config.reconnect_min,
            max: config.reconnect_max,
            next: config.reconnect_min,
        }
    }

    /// The pause before the next attempt: the current step plus up to 50 % jitter, capped.
    pub(crate) fn next_pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = step.mul_f64(rand::random::<f64>() * 0.5);
        (step + jitter).min(self.max)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max_and_resets() {
        let config = RedisConfig::new("redis://x")
            .reconnect_backoff(Duration::from_millis(100), Duration::from_millis(1000));
        let mut backoff = Backoff::new(&config);
        let pauses: Vec<_> = (0..8).map(|_| backoff.next_pause()).collect();
        assert!(pauses[0] >= Duration::from_millis(100) && pauses[0] <= Duration::from_millis(150));
        assert!(pauses[1] >= Duration::from_millis(200));
        assert!(
            pauses
                .iter()
                .all(|pause| *pause <= Duration::from_millis(1000))
        );
        assert_eq!(pauses[7], Duration::from_millis(1000));
        backoff.reset();
        assert!(backoff.next_pause() <= Duration::from_millis(150));
    }
}
