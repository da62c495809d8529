//! The smallest gateway, at path `/`.
//!
//! - `{"event":"echo","data":X}` replies `{"event":"echo","data":X}` to the sender.
//! - `{"event":"broadcast","data":X}` sends `{"event":"broadcast","data":X}` to every client.
//!
//! Run it with `cargo run -p echo` (listens on 127.0.0.1:$PORT, default 3000). The benchmark
//! suite drives exactly these two events, over ws-json and over Socket.IO (`42["echo",X]`).
//!
//! With `REDIS_URL` set (and optionally `REDIS_PREFIX`, default `echo`), it joins a cluster
//! through the Redis adapter: `broadcast` then reaches the clients of every echo process started
//! with the same URL and prefix. Without it, everything stays in memory.
//!
//! With `RECOVERY=1`, connection-state recovery is on (`App::recovery`, its defaults), to
//! measure what it costs: each ws-json connection then starts with `nestgate:connected`
//! `{"id","session","offset","recovered"}`, and a lost one may come back with
//! `?session=&offset=`. The `echo` reply is stored (its frame carries an `offset`, and one
//! missed while the connection was lost is replayed); the volatile `broadcast` is not. With
//! `REDIS_URL` too, recovery is in Redis (a stream per namespace, shared by the nodes).
//! `BROADCAST=stored` makes `broadcast` an ordinary emit instead (closing a recipient that
//! cannot keep up with 1013), which recovery stores: what `scripts/bench-recovery.sh` measures,
//! with and without `RECOVERY=1`.
//!
//! With `METRICS=1`, `/metrics` serves nestgate's metrics in the Prometheus text format
//! (`App::metrics_endpoint`): what `scripts/bench-metrics.sh` measures, on against off.

use nestgate::prelude::*;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicBool, Ordering};

/// `BROADCAST=stored`: `broadcast` is not volatile (set once, in `main`).
static STORED: AtomicBool = AtomicBool::new(false);

/// Echoes and broadcasts whatever it is sent.
#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
pub struct EchoGateway;

#[websocket_gateway]
impl EchoGateway {
    /// Replies to the sender with the same data. `RawValue` keeps the data as the bytes it came
    /// in, so nothing is parsed into a tree and serialized again.
    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<Box<RawValue>>) -> WsResponse<Box<RawValue>> {
        WsResponse::new("echo", data)
    }

    /// Sends the data to every connected client, serialized once.
    ///
    /// Volatile, as a fan-out of what a client sends should be: a recipient whose queue is full
    /// misses this frame rather than being closed with 1013, so a client that floods `broadcast`
    /// cannot evict everyone else.
    #[subscribe_message("broadcast")]
    fn broadcast(
        &self,
        server: Server,
        Data(data): Data<Box<RawValue>>,
    ) -> Result<(), WsException> {
        if STORED.load(Ordering::Relaxed) {
            server.emit("broadcast", &data)?;
        } else {
            server.volatile().emit("broadcast", &data)?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let mut app = nestgate::App::new()
        // Socket.IO clients too (at /socket.io/, namespace /): the benchmarks drive both.
        .socket_io(nestgate::socketio::SocketIoConfig::default())
        // The benchmarks drive this server from few connections at line rate (echo: about 3,000
        // messages/s per connection at C=50; the broadcast ramp: up to 1,000,000/s from one
        // sender): the default 100 messages/s per connection (and per Socket.IO session: this
        // call turns off both) would measure the limit, not the server. `broadcast` is
        // volatile, so a flood of it evicts nobody.
        .without_message_rate_limit();
    STORED.store(
        std::env::var("BROADCAST").is_ok_and(|how| how == "stored"),
        Ordering::Relaxed,
    );
    if std::env::var("RECOVERY").is_ok_and(|on| on == "1") {
        app = app.recovery(nestgate::recovery::RecoveryConfig::default());
    }
    if std::env::var("METRICS").is_ok_and(|on| on == "1") {
        app = app.metrics_endpoint("/metrics");
    }
    let mut cluster = None;
    if let Ok(url) = std::env::var("REDIS_URL") {
        let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "echo".to_owned());
        let config = nestgate_redis::RedisConfig::new(url).prefix(prefix);
        let node = nestgate_redis::RedisCluster::connect(config).await?;
        println!(
            "node {} joined the cluster ({} other nodes)",
            node.node_id(),
            node.nodes().len()
        );
        app = app.adapter(node.clone());
        cluster = Some(node);
    }
    let listening = app.bind(format!("127.0.0.1:{port}")).await?;
    println!("echo listening on http://{}", listening.local_addr());
    listening.run().await?;
    if let Some(cluster) = cluster {
        // Tell the other nodes at once rather than let them wait for the heartbeat timeout.
        cluster.close().await;
    }
    Ok(())
}
