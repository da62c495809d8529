//! The reader of one namespace's log: delivers each stored message to this node's sockets in
//! stream order, and registers sockets between two entries — what makes a replay exact.

use super::stream::{self, Entry, Id};
use super::{Job, Shared};
use nestgate::adapter::Frame;
use nestgate::recovery::store::{Start, StoredTarget, stamp};
use nestgate::recovery::{NotRecovered, Registration};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a blocking read waits for new entries before it asks again.
const BLOCK: Duration = Duration::from_secs(2);
/// Entries read per command, at most.
const COUNT: usize = 512;

pub(crate) async fn run(shared: Arc<Shared>, mut jobs: mpsc::Receiver<Job>) {
    let mut reader = Reader {
        shared,
        last: Id::default(),
    };
    let mut backoff = reader.shared.node.config.reconnect_min;
    // Where to start: the newest entry (a marker when the stream is new, so that every
    // socket is registered at a real offset).
    loop {
        match reader.newest().await {
            Ok(id) => {
                reader.last = id;
                break;
            }
            Err(err) => {
                tracing::warn!(%err, "nestgate-redis: cannot read the recovery log");
                if reader.pause(&mut backoff).await {
                    return;
                }
            }
        }
    }
    loop {
        let mut blocking = match reader.shared.conn.dedicated().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(%err, "nestgate-redis: cannot connect the recovery reader");
                if reader.pause(&mut backoff).await {
                    return;
                }
                continue;
            }
        };
        backoff = reader.shared.node.config.reconnect_min;
        // One blocking read at a time, on its own connection; a recovering registration reads
        // its missed messages on the shared one meanwhile.
        'read: loop {
            let from = reader.last.to_string();
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("COUNT")
                .arg(COUNT)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(&reader.shared.keys.log)
                .arg(from);
            let read = cmd.query_async::<redis::Value>(&mut blocking);
            let deadline = BLOCK + reader.shared.node.config.command_timeout;
            let read = tokio::time::timeout(deadline, read);
            tokio::pin!(read);
            loop {
                tokio::select! {
                    _ = reader.shared.node.cancel.cancelled() => return,
                    answer = &mut read => {
                        match answer {
                            Ok(Ok(value)) => {
                                reader.deliver(stream::read_entries(value));
                                continue 'read;
                            }
                            Ok(Err(err)) => tracing::warn!(%err, "nestgate-redis: recovery log read failed"),
                            Err(_) => tracing::warn!("nestgate-redis: recovery log read timed out"),
                        }
                        break 'read;
                    }
                    job = jobs.recv() => {
                        let Some(job) = job else { return };
                        reader.register(job).await;
                    }
                }
            }
        }
        if reader.pause(&mut backoff).await {
            return;
        }
    }
}

struct Reader {
    shared: Arc<Shared>,
    /// The newest entry delivered.
    last: Id,
}

impl Reader {
    /// Waits before trying again; `true` when the node is shutting down.
    async fn pause(&self, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(self.shared.node.config.reconnect_max);
        tokio::select! {
            _ = self.shared.node.cancel.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    /// The newest entry's id, after adding a marker to an empty stream.
    async fn newest(&self) -> redis::RedisResult<Id> {
        let log = &self.shared.keys.log;
        let value: redis::Value = self
            .shared
            .conn
            .cmd(
                redis::cmd("XREVRANGE")
                    .arg(log)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        if let Some(entry) = stream::entries(value).pop() {
            return Ok(entry.id);
        }
        let id: String = self
            .shared
            .conn
            .cmd(redis::cmd("XADD").arg(log).arg("*").arg("m").arg(""))
            .await?;
        Ok(Id::parse(&id).unwrap_or_default())
    }

    /// The entries from `from` (inclusive) up to `to` (inclusive), in batches.
    async fn range(&self, from: String, to: &str) -> redis::RedisResult<Vec<Entry>> {
        let mut all = Vec::new();
        let mut from = from;
        loop {
            let value: redis::Value = self
                .shared
                .conn
                .cmd(
                    redis::cmd("XRANGE")
                        .arg(&self.shared.keys.log)
                        .arg(&from)
                        .arg(to)
                        .arg("COUNT")
                        .arg(COUNT),
                )
                .await?;
            let batch = stream::entries(value);
            let full = batch.len() == COUNT;
            if let Some(last) = batch.last() {
                from = last.id.after();
            }
            all.extend(batch);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Delivers entries newer than the last delivered, in order, to this node's sockets.
    fn deliver(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            if entry.id <= self.last {
                continue;
            }
            self.last = entry.id;
            if entry
                .node
                .as_deref()
                .is_some_and(|node| node != self.shared.node.uid)
            {
                // `local()`: the sending node's sockets only.
                continue;
            }
            if let Some((frame, target)) = message(entry) {
                self.shared.store.broadcast(&frame, &target.options());
            }
        }
    }

    /// Registers the socket at the last delivered entry: everything up to it is replayed
    /// (when it recovers), everything after it comes live from this reader — nothing twice,
    /// nothing missing, whatever the blocking read has in flight.
    async fn register(&mut self, job: Job) {
        let Job {
            start,
            register,
            done,
        } = job;
        register(self.registration(start).await);
        let _ = done.send(());
    }

    async fn registration(&self, start: Start) -> Registration {
        let Start::Recovering {
            id,
            rooms,
            offset,
            capacity,
        } = start
        else {
            return Registration::fresh(self.last.to_string(), None);
        };
        let fail = |why| {
            self.shared.count(|stats| stats.count(why));
            Registration::fresh(self.last.to_string(), Some(why))
        };
        let Some(from) = Id::parse(&offset) else {
            return fail(NotRecovered::InvalidOffset);
        };
        let entries = match self.range(from.to_string(), &self.last.to_string()).await {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(%err, "nestgate-redis: cannot read the missed messages");
                return fail(NotRecovered::Gap);
            }
        };
        // The client's own offset must still be there: else some after it were trimmed.
        if entries.first().is_none_or(|first| first.id != from) {
            return fail(NotRecovered::Gap);
        }
        let mut missed = Vec::new();
        let mut bytes = 0;
        for (frame, target) in entries.into_iter().skip(1).filter_map(message) {
            if !target.reaches(&id, &rooms) {
                continue;
            }
            bytes += frame.len();
            missed.push(frame);
            if missed.len() > capacity.0 || bytes > capacity.1 {
                return fail(NotRecovered::Overflow);
            }
        }
        self.shared.count(|stats| stats.recovered += 1);
        Registration::recovered(offset, missed)
    }
}

/// A stored message's frame, stamped with its entry's id, and its target; `None` for a
/// marker or an entry this crate did not write.
fn message(entry: Entry) -> Option<(Frame, StoredTarget)> {
    let target = serde_json::from_str::<StoredTarget>(&entry.target?).ok()?;
    let frame: Frame = stamp(&entry.frame?, &entry.id.to_string()).into();
    Some((frame, target))
}
