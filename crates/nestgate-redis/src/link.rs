//! The connections to Redis: connecting with a deadline, the publishing task with its bounded
//! queue, and the counters that say what happened.

use crate::config::{Backoff, RedisConfig};
use redis::aio::{MultiplexedConnection, PubSub};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many messages the publishing task sends in one pipeline at most.
const BATCH: usize = 256;

/// What the connections did, counted; read through [`ClusterStats`].
#[derive(Debug)]
pub(crate) struct Counters {
    epoch: Instant,
    pub(crate) publisher_up: AtomicBool,
    pub(crate) subscriber_up: AtomicBool,
    /// Whether drops are happening now (so that only the first of a series is logged).
    dropping: AtomicBool,
    /// When the publisher last (re)connected, in milliseconds since `epoch`.
    publisher_since: AtomicU64,
    pub(crate) connection_losses: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) request_timeouts: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            epoch: Instant::now(),
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            dropping: AtomicBool::new(false),
            publisher_since: AtomicU64::new(0),
            connection_losses: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            request_timeouts: AtomicU64::new(0),
        }
    }

    /// Milliseconds since these counters were created.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// When the publisher last (re)connected, in milliseconds since creation.
    pub(crate) fn publisher_since_ms(&self) -> u64 {
        self.publisher_since.load(Ordering::Relaxed)
    }

    /// Both connections are up: messages go out and answers come back.
    pub(crate) fn is_up(&self) -> bool {
        self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire)
    }

    /// Counts `count` messages that will not be published; logs the first of a series.
    pub(crate) fn drop_messages(&self, count: u64, why: &str) {
        if count == 0 {
            return;
        }
        self.dropped.fetch_add(count, Ordering::Relaxed);
        if !self.dropping.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                why,
                "nestgate-redis: dropping cluster messages (counted in ClusterStats::dropped); local clients are still served"
            );
        }
    }

    fn published(&self, count: u64) {
        self.published.fetch_add(count, Ordering::Relaxed);
        if self.dropping.swap(false, Ordering::Relaxed) {
            tracing::info!("nestgate-redis: cluster messages are published again");
        }
    }

    pub(crate) fn stats(&self, nodes: usize) -> ClusterStats {
        ClusterStats {
            connected: self.is_up(),
            nodes,
            connection_losses: self.connection_losses.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            request_timeouts: self.request_timeouts.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of a node's link to Redis: [`RedisCluster::stats`](crate::RedisCluster::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Both connections (publishing and subscribed) are up.
    pub connected: bool,
    /// How many other nodes are alive, as their heartbeats say.
    pub nodes: usize,
    /// How many times a connection to Redis was lost.
    pub connection_losses: u64,
    /// How many times a lost connection was re-established.
    pub reconnects: u64,
    /// Cluster messages dropped: Redis unreachable, or the publish queue full.
    pub dropped: u64,
    /// Messages published.
    pub published: u64,
    /// Messages received from the cluster (this node's own included).
    pub received: u64,
    /// Requests (queries, joins, server-side emits with answers) that some node did not
    /// answer within the request timeout.
    pub request_timeouts: u64,
}

/// A message waiting to be published.
#[derive(Debug)]
struct Outgoing {
    channel: Arc<str>,
    message: Vec<u8>,
}

/// Publishes messages in order, from a bounded queue, on one connection that it re-establishes
/// with backoff when it is lost. Nothing waits on it: a full queue or a lost connection drops
/// messages (counted), it never buffers without bound.
#[derive(Debug)]
pub(crate) struct Publisher {
    queue: mpsc::Sender<Outgoing>,
    counters: Arc<Counters>,
}

impl Publisher {
    /// Starts the publishing task on an established connection.
    pub(crate) fn spawn(
        client: redis::Client,
        connection: MultiplexedConnection,
        config: &RedisConfig,
        counters: Arc<Counters>,
        cancel: CancellationToken,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(config.publish_queue);
        counters.publisher_up.store(true, Ordering::Release);
        counters
            .publisher_since
            .store(counters.now_ms(), Ordering::Relaxed);
        let task = PublishTask {
            client,
            config: config.clone(),
            counters: counters.clone(),
            receiver,
            cancel,
        };
        tokio::spawn(task.run(connection));
        Publisher { queue, counters }
    }

    /// Queues a message; returns whether it was queued (otherwise it is counted as dropped).
    pub(crate) fn publish(&self, channel: &Arc<str>, message: Vec<u8>) -> bool {
        if !self.counters.publisher_up.load(Ordering::Acquire) {
            self.counters.drop_messages(1, "Redis is unreachable");
            return false;
        }
        let outgoing = Outgoing {
            channel: channel.clone(),
            message,
        };
        match self.queue.try_send(outgoing) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.drop_messages(1, "the publish queue is full");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.drop_messages(1, "the node is closed");
                false
            }
        }
    }

    /// How many messages wait to be published.
    pub(crate) fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

struct PublishTask {
    client: redis::Client,
    config: RedisConfig,
    counters: Arc<Counters>,
    receiver: mpsc::Receiver<Outgoing>,
    cancel: CancellationToken,
}

impl PublishTask {
    async fn run(mut self, first: MultiplexedConnection) {
        let mut connection = Some(first);
        let mut backoff = Backoff::new(&self.config);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let mut conn = match connection.take() {
                Some(conn) => conn,
                None => match connect_publisher(&self.client, &self.config).await {
                    Ok(conn) => {
                        self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        self.counters
                            .publisher_since
                            .store(self.counters.now_ms(), Ordering::Relaxed);
                        self.counters.publisher_up.store(true, Ordering::Release);
                        tracing::info!("nestgate-redis: publishing connection re-established");
                        backoff.reset();
                        conn
                    }
                    Err(err) => {
                        tracing::debug!(%err, "nestgate-redis: reconnecting the publisher failed");
                        if !self.pause(backoff.next_pause()).await {
                            return;
                        }
                        continue;
                    }
                },
            };
            let error = loop {
                batch.clear();
                let received = tokio::select! {
                    () = self.cancel.cancelled() => return,
                    received = self.receiver.recv_many(&mut batch, BATCH) => received,
                };
                if received == 0 {
                    return;
                }
                let mut pipe = redis::pipe();
                for outgoing in &batch {
                    pipe.cmd("PUBLISH")
                        .arg(&*outgoing.channel)
                        .arg(&outgoing.message)
                        .ignore();
                }
                let sent: Result<redis::RedisResult<()>, _> =
                    tokio::time::timeout(self.config.command_timeout, pipe.query_async(&mut conn))
                        .await;
                match sent {
                    Ok(Ok(())) => self.counters.published(received as u64),
                    Ok(Err(err)) => break err.to_string(),
                    Err(_) => {
                        break format!("no answer within {:?}", self.config.command_timeout);
                    }
                }
            };
            self.counters.publisher_up.store(false, Ordering::Release);
            self.counters
                .connection_losses
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %error,
                "nestgate-redis: lost the publishing connection to Redis; reconnecting with backoff"
            );
            self.counters
                .drop_messages(batch.len() as u64, "the publishing connection was lost");
            self.drain();
            if !self.pause(backoff.next_pause()).await {
                return;
            }
        }
    }

    /// Drops what is queued (stale by the time the connection is back), counting it.
    fn drain(&mut self) {
        let mut stale = 0;
        while self.receiver.try_recv().is_ok() {
            stale += 1;
        }
        self.counters
            .drop_messages(stale, "the publishing connection was lost");
    }

    /// Waits before the next attempt; `false` if the node is closing.
    async fn pause(&mut self, pause: Duration) -> bool {
        tokio::select! {
            () = self.cancel.cancelled() => false,
            () = tokio::time::sleep(pause) => {
                self.drain();
                true
            }
        }
    }
}

/// A connection for commands and publishing, within the connect timeout.
pub(crate) async fn connect_publisher(
    client: &redis::Client,
    config: &RedisConfig,
) -> redis::RedisResult<MultiplexedConnection> {
    within(
        config.connect_timeout,
        client.get_multiplexed_async_connection(),
    )
    .await
}

/// A connection subscribed to `channels`, within the connect timeout.
pub(crate) async fn connect_subscriber(
    client: &redis::Client,
    config: &RedisConfig,
    channels: &[&str],
) -> redis::RedisResult<PubSub> {
    within(config.connect_timeout, async {
        let mut pubsub = client.get_async_pubsub().await?;
        for channel in channels {
            pubsub.subscribe(*channel).await?;
        }
        Ok(pubsub)
    })
    .await
}

/// Runs `future` within `deadline`, turning a timeout into an I/O error.
async fn within<T>(
    deadline: Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(deadline, future).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("Redis did not answer within {deadline:?}"),
        )
        .into()),
    }
}
