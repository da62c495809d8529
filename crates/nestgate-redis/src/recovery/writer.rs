//! The writer of one namespace's recovery: appends stored messages to the log and writes the
//! sessions, in the order they were asked for, pipelined.

use super::Shared;
use nestgate::recovery::store::{SessionState, StoredTarget};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the writer writes.
#[derive(Debug)]
pub(crate) enum Op {
    /// A stored message.
    Append { frame: String, target: StoredTarget },
    /// A connected socket's session (registered, or its rooms changed).
    Live {
        session: String,
        state: SessionState,
    },
    /// A lost socket's session, claimable for the window.
    Save {
        session: String,
        state: SessionState,
    },
    /// A socket closed on purpose.
    Forget { session: String },
}

/// Ops written per pipeline, at most.
const BATCH: usize = 256;

pub(crate) async fn run(shared: Arc<Shared>, mut ops: mpsc::Receiver<Op>) {
    let live = shared.keys.live(&shared.node.uid);
    // The live hash outlives this node by the window, for the node that recovers its sockets.
    let live_ttl = shared.config.window + shared.node.config.heartbeat_timeout;
    let live_ttl_ms = u64::try_from(live_ttl.as_millis()).unwrap_or(u64::MAX);
    let mut refresh = tokio::time::interval((live_ttl / 4).max(Duration::from_millis(100)));
    let mut batch = Vec::with_capacity(BATCH);
    let mut backoff = shared.node.config.reconnect_min;
    loop {
        tokio::select! {
            _ = shared.node.cancel.cancelled() => return,
            _ = refresh.tick() => {
                let _ = shared
                    .conn
                    .cmd::<()>(redis::cmd("PEXPIRE").arg(&live).arg(live_ttl_ms))
                    .await;
                continue;
            }
            received = ops.recv_many(&mut batch, BATCH) => if received == 0 {
                return;
            },
        }
        let (pipe, appends) = pipeline(&shared, &live, live_ttl_ms, &mut batch);
        match shared.conn.pipe::<()>(&pipe).await {
            Ok(()) => backoff = shared.node.config.reconnect_min,
            Err(err) => {
                shared.count(|stats| stats.dropped += appends);
                tracing::warn!(%err, appends, "nestgate-redis: recovery writes lost");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(shared.node.config.reconnect_max);
            }
        }
    }
}

/// The commands of a batch (drained), and how many messages it appends.
fn pipeline(
    shared: &Shared,
    live: &str,
    live_ttl_ms: u64,
    batch: &mut Vec<Op>,
) -> (redis::Pipeline, u64) {
    let mut pipe = redis::pipe();
    let mut appends = 0;
    let window_ms = u64::try_from(shared.config.window.as_millis()).unwrap_or(u64::MAX);
    let json = |state: &SessionState| serde_json::to_string(state).unwrap_or_default();
    for op in batch.drain(..) {
        match op {
            Op::Append { frame, target } => {
                appends += 1;
                let cmd = pipe
                    .cmd("XADD")
                    .arg(&shared.keys.log)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(shared.config.max_messages)
                    .arg("*")
                    .arg("f")
                    .arg(frame)
                    // A target serializes as an object of names and strings: it cannot fail.
                    .arg("t")
                    .arg(serde_json::to_string(&target).unwrap_or_default());
                if target.local {
                    cmd.arg("n").arg(&shared.node.uid);
                }
                cmd.ignore();
            }
            Op::Live { session, state } => {
                pipe.cmd("HSET")
                    .arg(live)
                    .arg(session)
                    .arg(json(&state))
                    .ignore();
                pipe.cmd("PEXPIRE").arg(live).arg(live_ttl_ms).ignore();
            }
            Op::Save { session, state } => {
                pipe.cmd("SET")
                    .arg(shared.keys.session(&session))
                    .arg(json(&state))
                    .arg("PX")
                    .arg(window_ms.max(1))
                    .ignore();
                pipe.cmd("HDEL").arg(live).arg(session).ignore();
            }
            Op::Forget { session } => {
                pipe.cmd("HDEL").arg(live).arg(session).ignore();
            }
        }
    }
    (pipe, appends)
}
