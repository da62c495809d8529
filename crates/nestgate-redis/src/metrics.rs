//! The Redis adapter's counters as metrics of the app ([`nestgate::metrics`]): registered
//! when the app is built, updated at each heartbeat tick from [`ClusterStats`].
//!
//! | name | kind | what |
//! |---|---|---|
//! | `nestgate_redis_connected` | gauge | 1 while both connections to Redis are up |
//! | `nestgate_redis_nodes` | gauge | the other live nodes |
//! | `nestgate_redis_published_total` | counter | messages published |
//! | `nestgate_redis_received_total` | counter | messages received (this node's own included) |
//! | `nestgate_redis_dropped_total` | counter | cluster messages dropped (Redis unreachable, the queue full) |
//! | `nestgate_redis_connection_losses_total` | counter | connections to Redis lost |
//! | `nestgate_redis_reconnects_total` | counter | lost connections made again |
//! | `nestgate_redis_request_timeouts_total` | counter | requests some node did not answer within the request timeout |

use crate::link::ClusterStats;
use metrics::{Counter, Gauge};
use nestgate::metrics::Registry;

/// The handles.
#[derive(Debug)]
pub(crate) struct ClusterMetrics {
    connected: Gauge,
    nodes: Gauge,
    published: Counter,
    received: Counter,
    dropped: Counter,
    connection_losses: Counter,
    reconnects: Counter,
    request_timeouts: Counter,
}

impl ClusterMetrics {
    pub(crate) fn new(registry: &Registry) -> Self {
        ClusterMetrics {
            connected: registry.gauge("nestgate_redis_connected", &[]),
            nodes: registry.gauge("nestgate_redis_nodes", &[]),
            published: registry.counter("nestgate_redis_published_total", &[]),
            received: registry.counter("nestgate_redis_received_total", &[]),
            dropped: registry.counter("nestgate_redis_dropped_total", &[]),
            connection_losses: registry.counter("nestgate_redis_connection_losses_total", &[]),
            reconnects: registry.counter("nestgate_redis_reconnects_total", &[]),
            request_timeouts: registry.counter("nestgate_redis_request_timeouts_total", &[]),
        }
    }

    /// Sets them from a snapshot.
    pub(crate) fn update(&self, stats: &ClusterStats) {
        self.connected.set(if stats.connected { 1.0 } else { 0.0 });
        self.nodes.set(stats.nodes as f64);
        self.published.absolute(stats.published);
        self.received.absolute(stats.received);
        self.dropped.absolute(stats.dropped);
        self.connection_losses.absolute(stats.connection_losses);
        self.reconnects.absolute(stats.reconnects);
        self.request_timeouts.absolute(stats.request_timeouts);
    }
}
