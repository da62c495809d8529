//! The Redis adapter for [`nestgate`]: N processes behind a load balancer behave as one
//! server.
//!
//! - [`RedisCluster`] makes this process a node: hand it to
//!   [`App::adapter`](nestgate::App::adapter) and every operator works across nodes —
//!   broadcasts, `to`/`except` rooms, `fetch_sockets` (remote sockets with their id, rooms and
//!   handshake), `sockets_join`/`sockets_leave`, `disconnect_sockets`, room lists and sizes, and
//!   `emit_with_ack`, which collects every client's answer wherever it is connected.
//!   Node-to-node events, with answers, go through [`RedisCluster::on`] and
//!   [`RedisCluster::server_side_emit_with_ack`].
//! - [`Emitter`] reaches the clients from a process that serves none (a worker, a cron job).
//! - [`RedisConfig`]: the URL, a channel prefix (several apps on one Redis), the timeouts.
//!
//! ```no_run
//! use nestgate::prelude::*;
//! use nestgate_redis::{RedisCluster, RedisConfig};
//!
//! #[websocket_gateway(path = "/chat")]
//! #[derive(Default)]
//! struct Chat;
//!
//! #[websocket_gateway]
//! impl Chat {
//!     #[subscribe_message("join")]
//!     async fn join(&self, socket: Socket, server: Server, Data(room): Data<String>) -> Result<usize, WsException> {
//!         socket.join(&room);
//!         socket.to(&room).emit("joined", socket.id())?; // members on every node
//!         Ok(server.to(&room).sockets_count().await?)   // the room's size, cluster-wide
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let url = std::env::var("REDIS_URL")?;
//!     let cluster = RedisCluster::connect(RedisConfig::new(url).prefix("chat")).await?;
//!     nestgate::App::new().adapter(cluster).listen("127.0.0.1:3000").await?;
//!     Ok(())
//! }
//! ```
//!
//! # Server-side events
//!
//! Nodes can talk to each other (socket.io's `serverSideEmit`): register handlers with
//! [`RedisCluster::on`], and provide the cluster as state to reach it from a handler.
//!
//! ```no_run
//! use nestgate::extract::State;
//! use nestgate::prelude::*;
//! use nestgate_redis::{RedisCluster, RedisConfig};
//!
//! #[websocket_gateway(path = "/admin")]
//! #[derive(Default)]
//! struct Admin;
//!
//! #[websocket_gateway]
//! impl Admin {
//!     /// How many clients each node holds, asked of every other node.
//!     #[subscribe_message("census")]
//!     async fn census(&self, server: Server, State(cluster): State<RedisCluster>) -> Result<usize, WsException> {
//!         let replies = cluster.server_side_emit_with_ack::<_, usize>("local_count", &()).await?;
//!         let others: usize = replies.iter().filter_map(|reply| reply.result.as_ref().ok()).sum();
//!         Ok(server.local_socket_count() + others)
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let cluster = RedisCluster::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
//!     let app = nestgate::App::new().adapter(cluster.clone()).provide(cluster.clone());
//!     let handle = app.handle();
//!     cluster.on("local_count", move |(): ()| {
//!         let count = handle.server("/admin").map_or(0, |server| server.local_socket_count());
//!         async move { count }
//!     });
//!     app.listen("127.0.0.1:3000").await?;
//!     Ok(())
//! }
//! ```
//!
//! # How it works
//!
//! Each node subscribes to two channels: `{prefix}#all`, where every node publishes broadcasts,
//! requests and heartbeats, and `{prefix}#node#{id}`, where the others send it their answers.
//! A message is a small JSON header, a newline, and a raw payload: a broadcast's frame crosses
//! Redis as the very bytes clients receive, serialized once on the node that emitted it.
//!
//! - **Broadcasts**: the emitting node sends the frame to its own targeted sockets at once and
//!   queues one publish; each other node applies the same targets (rooms, exceptions, sender)
//!   to its own sockets. A client is connected to exactly one node and a node skips its own
//!   messages, so each broadcast reaches each client once. `local()` is never published.
//! - **Queries and membership changes** (`fetch_sockets`, counts, rooms, `sockets_join`,
//!   `sockets_leave`, `disconnect_sockets`) are requests: the node publishes one with an id and
//!   waits, at most [`RedisConfig::request_timeout`], for an answer from every node it knows.
//! - **Acknowledgements across nodes**: the other nodes send the frame to their sockets under an
//!   ack id of their own, forward each answer (or timeout) to the emitting node as it arrives,
//!   then say they are done; the emitting node merges those answers with its local ones.
//! - **Nodes announce themselves**: a hello when they subscribe (the others answer with a
//!   heartbeat), a heartbeat every [`RedisConfig::heartbeat_interval`], a goodbye on
//!   [`RedisCluster::close`]. A node silent for [`RedisConfig::heartbeat_timeout`] is forgotten,
//!   and requests stop waiting for it; a request to a node that died in between fails with
//!   [`AdapterError::Timeout`](nestgate::adapter::AdapterError::Timeout) instead of hanging.
//!
//! # Connection-state recovery
//!
//! With [`App::recovery`](nestgate::App::recovery) on, each namespace's log and sessions are in
//! Redis: a client lost by one node recovers on any node, also after the first was killed with
//! `kill -9`. Stored messages (broadcasts that are not `volatile`, `socket.emit`, event replies)
//! then go through a Redis stream instead of pub/sub: each is one `XADD`, and every node (the
//! sender too) delivers it from its reader of the stream, where sockets are also registered, so
//! a replay and the live messages after it meet exactly. A lost session is a key with the
//! window as its TTL; a connected one is kept in its node's hash, from which another node takes
//! it once it sees that node gone (its heartbeat timeout). What it costs: a stored message
//! reaches even the sender's own sockets one Redis round trip later; guards run again on
//! every recovery (extensions stay in the process that made them, so `skip_guards` is refused).
//! While Redis is away, stored messages are neither stored nor delivered (counted in
//! `RecoveryStats::dropped`); volatile ones still go out locally.
//!
//! # Faults
//!
//! When Redis stops, every node goes on serving its own clients: local deliveries, rooms and
//! acks work as with one process. Broadcasts are still delivered locally; their cluster part is
//! dropped, never buffered without bound (the publish queue is bounded, and emptied while the
//! connection is down), and counted in [`ClusterStats::dropped`]. Queries and acknowledged
//! broadcasts fail with
//! [`AdapterError::Unavailable`](nestgate::adapter::AdapterError::Unavailable) rather than
//! return a partial answer; membership changes and disconnections are applied to the local
//! sockets, then fail the same way for the rest of the cluster. Each connection reconnects by itself with exponential backoff and
//! jitter ([`RedisConfig::reconnect_backoff`]), says hello again, and cluster broadcasts resume.
//! A warning is logged when a connection is lost, and [`RedisCluster::stats`] counts losses,
//! reconnections and drops. A subscription that silently stops delivering is noticed too: a
//! node expects its own heartbeats back, and re-subscribes when they stop coming.
//!
//! # Choices
//!
//! The [`redis`] crate, with one multiplexed connection for publishing (in pipelines, in order)
//! and one dedicated subscription connection, and reconnection done here rather than by the
//! client: we decide what happens to messages while Redis is away (dropped and counted), and
//! nothing queues without bound. `docs/ARCHITECTURE.md` says more.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
mod cluster;
mod config;
mod emitter;
mod error;
mod link;
mod metrics;
mod node;
mod recovery;
mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use adapter::RedisAdapter;
pub use cluster::{NodeReply, RedisCluster};
pub use config::RedisConfig;
pub use emitter::{Emitter, EmitterOperators};
pub use error::Error;
pub use link::ClusterStats;

/// The `redis` crate this adapter is built on, for its error type.
pub use redis;
