//! Taking a session a reconnecting client presents: saved by the node that lost it, or — when
//! that node died without saving it — from the node's live sessions once the cluster sees it
//! gone.

use super::Shared;
use super::stream::Id;
use nestgate::recovery::NotRecovered;
use nestgate::recovery::store::{Claimed, SessionState};
use std::time::Duration;

/// How often a claim looks again while the node that holds the session is still alive (it
/// saves the session once it sees the connection lost).
const POLL: Duration = Duration::from_millis(100);

pub(crate) async fn claim(
    shared: &Shared,
    session: &str,
    offset: Option<&str>,
) -> Result<Claimed, NotRecovered> {
    if offset.is_some_and(|offset| Id::parse(offset).is_none()) {
        return Err(NotRecovered::InvalidOffset);
    }
    let state = take(shared, session).await?;
    let offset = offset.map_or_else(|| state.since.clone(), str::to_owned);
    // The offset must still be in the log (else messages after it were trimmed), and not be
    // newer than its newest entry.
    let value: redis::Value = shared
        .conn
        .cmd(
            redis::cmd("XRANGE")
                .arg(&shared.keys.log)
                .arg(&offset)
                .arg(&offset),
        )
        .await
        .map_err(|_| NotRecovered::Gap)?;
    if super::stream::entries(value).is_empty() {
        return Err(NotRecovered::Gap);
    }
    Ok(Claimed::new(state, offset))
}

/// The session, taken so that no one else can take it.
async fn take(shared: &Shared, session: &str) -> Result<SessionState, NotRecovered> {
    let node = session.split_once('.').map(|(node, _)| node);
    // How long to wait for a live node to save the session, or for the cluster to see it gone.
    let deadline = tokio::time::Instant::now() + shared.node.config.heartbeat_timeout + POLL * 5;
    loop {
        if let Some(state) = saved(shared, session).await? {
            return Ok(state);
        }
        let Some(node) = node.filter(|node| *node != shared.node.uid) else {
            // This node's (still connected, or never known): nothing to wait for.
            return Err(NotRecovered::UnknownSession);
        };
        let live = shared.keys.live(node);
        let alive = shared.node.nodes().iter().any(|known| known == node);
        if !alive {
            return match take_live(shared, &live, session).await {
                Some(state) => Ok(state),
                // Saved meanwhile (a node saves, then drops the live one), or nobody's.
                None => saved(shared, session)
                    .await?
                    .ok_or(NotRecovered::UnknownSession),
            };
        }
        let held: Option<String> = shared
            .conn
            .cmd(redis::cmd("HGET").arg(&live).arg(session))
            .await
            .map_err(|_| NotRecovered::UnknownSession)?;
        if held.is_none() {
            // As above: saved between the two reads, or nobody's.
            return saved(shared, session)
                .await?
                .ok_or(NotRecovered::UnknownSession);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(NotRecovered::UnknownSession);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A session saved by the node that lost it (`GETDEL`).
async fn saved(shared: &Shared, session: &str) -> Result<Option<SessionState>, NotRecovered> {
    let saved: Option<String> = shared
        .conn
        .cmd(redis::cmd("GETDEL").arg(shared.keys.session(session)))
        .await
        .map_err(|_| NotRecovered::UnknownSession)?;
    Ok(saved.and_then(|json| serde_json::from_str(&json).ok()))
}

/// A dead node's live session: taken by whoever removes it from the node's hash first.
async fn take_live(shared: &Shared, live: &str, session: &str) -> Option<SessionState> {
    let mut pipe = redis::pipe();
    pipe.cmd("HGET").arg(live).arg(session);
    pipe.cmd("HDEL").arg(live).arg(session);
    let (held, removed): (Option<String>, u64) = shared.conn.pipe(pipe.atomic()).await.ok()?;
    match (held, removed) {
        (Some(json), 1) => serde_json::from_str(&json).ok(),
        _ => None,
    }
}
