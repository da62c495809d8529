//! [`RedisCluster`]: this process as a node of the cluster — the adapter builder for
//! [`App::adapter`](nestgate::App::adapter), server-side events, and the link's health.

use crate::adapter::RedisAdapter;
use crate::config::RedisConfig;
use crate::error::Error;
use crate::link::{self, ClusterStats, Counters, Publisher};
use crate::node::{self, Node, ServerHandler};
use crate::wire::{Body, Header};
use nestgate::adapter::{Adapter, AdapterBuilder, LocalStore};
use nestgate::operators::BroadcastError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// This process as a node of a nestgate cluster over Redis.
///
/// Connect it, hand it to [`App::adapter`](nestgate::App::adapter), and every operator —
/// broadcasts, rooms, `fetch_sockets`, `sockets_join`, `disconnect_sockets`, room sizes,
/// `emit_with_ack` — reaches the sockets of every process started the same way.
/// It is cheap to clone; the node stops when the last clone and the last adapter are dropped,
/// or at [`RedisCluster::close`].
///
/// ```no_run
/// use nestgate::prelude::*;
/// use nestgate_redis::{RedisCluster, RedisConfig};
///
/// #[websocket_gateway(path = "/chat")]
/// #[derive(Default)]
/// struct Chat;
///
/// #[websocket_gateway]
/// impl Chat {
///     #[subscribe_message("say")]
///     fn say(&self, server: Server, Data(text): Data<String>) -> Result<(), WsException> {
///         server.emit("said", &text)?; // every client of /chat, on every node, once
///         Ok(())
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let cluster = RedisCluster::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
///     nestgate::App::new().adapter(cluster).listen("127.0.0.1:3000").await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct RedisCluster {
    node: Arc<Node>,
    client: redis::Client,
    alive: Arc<Alive>,
}

/// Held by every handle and adapter: when the last one drops, the node's tasks stop.
pub(crate) struct Alive {
    cancel: CancellationToken,
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// One node's answer to [`RedisCluster::server_side_emit_with_ack`].
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReply<R> {
    /// The id of the node that answered.
    pub node: String,
    /// Its handler's answer, or why there is none (no handler for the event, a panic, an
    /// answer that does not decode as `R`).
    pub result: Result<R, String>,
}

impl RedisCluster {
    /// Connects to Redis, subscribes, announces this node, and waits
    /// [`RedisConfig::discovery`] for the other nodes to answer.
    ///
    /// Fails if Redis cannot be reached now; once connected, a lost connection is
    /// re-established in the background (see the crate docs on faults).
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let client = redis::Client::open(config.url.as_str()).map_err(|source| Error::Redis {
            url: config.url.clone(),
            source,
        })?;
        let uid = new_uid();
        let unreachable = |source| Error::Redis {
            url: config.url.clone(),
            source,
        };
        let publishing = link::connect_publisher(&client, &config)
            .await
            .map_err(unreachable)?;
        let channels = [config.all_channel(), config.node_channel(&uid)];
        let subscribed = link::connect_subscriber(
            &client,
            &config,
            &[channels[0].as_str(), channels[1].as_str()],
        )
        .await
        .map_err(unreachable)?;
        let counters = Arc::new(Counters::new());
        let cancel = CancellationToken::new();
        let publisher = Publisher::spawn(
            client.clone(),
            publishing,
            &config,
            counters.clone(),
            cancel.clone(),
        );
        let discovery = config.discovery;
        let node = Arc::new(Node::new(uid, config, publisher, counters, cancel.clone()));
        tokio::spawn(node::subscribe(node.clone(), client.clone(), subscribed));
        tokio::spawn(node::heartbeats(node.clone()));
        tokio::time::sleep(discovery).await;
        tracing::info!(
            node = node.uid,
            others = node.nodes().len(),
            "nestgate-redis: joined the cluster"
        );
        Ok(RedisCluster {
            node,
            client,
            alive: Arc::new(Alive { cancel }),
        })
    }

    /// This node's id (random, new at each start).
    pub fn node_id(&self) -> &str {
        &self.node.uid
    }

    /// The ids of the other live nodes (those whose heartbeat arrived within the heartbeat
    /// timeout), sorted.
    pub fn nodes(&self) -> Vec<String> {
        self.node.nodes()
    }

    /// What the link to Redis did: whether it is up, losses, reconnections, dropped messages.
    pub fn stats(&self) -> ClusterStats {
        self.node.counters.stats(self.node.nodes().len())
    }

    /// Handles server-side event `event` sent by other nodes with
    /// [`RedisCluster::server_side_emit`]; the handler's return value is the answer sent back to
    /// [`RedisCluster::server_side_emit_with_ack`]. One handler per event; a second replaces the
    /// first.
    ///
    /// ```
    /// # async fn setup(cluster: nestgate_redis::RedisCluster) {
    /// // Another node changed a user: drop our cached copy, and say how many we dropped.
    /// cluster.on("invalidate", |user_id: u64| async move {
    ///     let _ = user_id;
    ///     1
    /// });
    /// # }
    /// ```
    pub fn on<T, R, F, Fut>(&self, event: &str, handler: F)
    where
        T: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ServerHandler = Arc::new(move |data: String| {
            let handler = handler.clone();
            Box::pin(async move {
                let data: T = serde_json::from_str(&data)
                    .map_err(|err| format!("the event's data does not decode: {err}"))?;
                let answer = handler(data).await;
                serde_json::to_string(&answer)
                    .map_err(|err| format!("cannot serialize the answer: {err}"))
            })
        });
        self.node.on(event, erased);
    }

    /// Sends server-side event `event` to every other node's handler (socket.io's
    /// `serverSideEmit`), without waiting.
    ///
    /// Fails when `data` does not serialize or Redis is unreachable.
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), BroadcastError> {
        let data = serde_json::to_vec(data)?;
        self.node.ensure_up()?;
        let header = Header::ServerEvent {
            node: self.node.uid.clone(),
            req: None,
            event: event.to_owned(),
        };
        if self.node.publish_all(&header, &data) {
            Ok(())
        } else {
            Err(nestgate::adapter::AdapterError::Unavailable(
                "the event could not be published".to_owned(),
            )
            .into())
        }
    }

    /// Sends server-side event `event` to every other node and collects each node's answer,
    /// within the request timeout.
    ///
    /// ```
    /// # async fn ask(cluster: nestgate_redis::RedisCluster) -> Result<(), nestgate::operators::BroadcastError> {
    /// let replies = cluster.server_side_emit_with_ack::<_, usize>("connected_users", &()).await?;
    /// let total: usize = replies.iter().filter_map(|reply| reply.result.as_ref().ok()).sum();
    /// # Ok(()) }
    /// ```
    pub async fn server_side_emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<NodeReply<R>>, BroadcastError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let data = serde_json::to_vec(data)?;
        let (node, event) = (self.node.uid.clone(), event.to_owned());
        let answers = self
            .node
            .ask(
                |req| Header::ServerEvent {
                    node,
                    req: Some(req),
                    event,
                },
                &data,
            )
            .await?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                let result = match answer.body {
                    Body::Reply { error: Some(error) } => Err(error),
                    Body::Reply { error: None } => serde_json::from_slice(&answer.payload)
                        .map_err(|err| format!("the answer does not decode: {err}")),
                    other => Err(format!("unexpected answer: {other:?}")),
                };
                NodeReply {
                    node: answer.node,
                    result,
                }
            })
            .collect())
    }

    /// Leaves the cluster: says goodbye (the other nodes stop waiting for this one at once),
    /// waits up to a second for queued messages to go out, and stops the node's tasks. Its
    /// adapters then serve local sockets only.
    pub async fn close(&self) {
        let header = Header::Bye {
            node: self.node.uid.clone(),
        };
        self.node.publish_all(&header, b"");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while self.node.queued() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Give the last pipeline a moment to be written.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.node.shut_down();
    }
}

impl AdapterBuilder for RedisCluster {
    fn build(&self, _path: &str, store: Arc<LocalStore>) -> Arc<dyn Adapter> {
        Arc::new(RedisAdapter::new(
            self.node.clone(),
            self.client.clone(),
            store,
            self.alive.clone(),
        ))
    }

    /// Connection-state recovery lives in Redis: the log in a stream, the sessions in keys
    /// ([`App::recovery`](nestgate::App::recovery) works across nodes).
    fn stores_recovery(&self) -> bool {
        true
    }

    /// The node's counters as the app's metrics (`nestgate_redis_*`, updated at each
    /// heartbeat tick).
    fn metrics(&self, registry: &nestgate::metrics::Registry) {
        if registry.is_on() {
            let metrics = crate::metrics::ClusterMetrics::new(registry);
            metrics.update(&self.stats());
            let _ = self.node.metrics.set(metrics);
        }
    }
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("node", &self.node)
            .finish()
    }
}

/// 16 random URL-safe characters.
pub(crate) fn new_uid() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits: u128 = rand::random();
    (0..16)
        .map(|_| {
            let c = char::from(ALPHABET[(bits & 63) as usize]);
            bits >>= 6;
            c
        })
        .collect()
}
