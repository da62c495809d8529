//! The watcher of a socket whose credentials expire: it asks the client for a fresh token
//! before the expiry, applies what a refresh established, and closes the socket at the expiry
//! (or when the guards refuse the token it asked for).

use super::{EVENT, Expiry, check, unix_ms};
use crate::close;
use crate::error::{WsException, truncate_reason};
use crate::guard::HandshakeRejection;
use crate::protocol;
use crate::socket::{DisconnectReason, Socket};
use axum::http::Extensions;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// How far ahead a deadline is kept at most (an `exp` years away is as good as none).
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The socket's watcher task is running; notified when a refresh changed the expiry.
#[derive(Clone)]
struct Watcher(Arc<Notify>);

/// Starts the socket's watcher when its handshake set an expiry. Called once the socket is
/// connected (its connection hooks passed), for ws-json and Socket.IO sockets alike.
pub(crate) fn watch_if_expiring(socket: &Socket) {
    if socket.expires_at().is_none() {
        return;
    }
    let started = socket.with_extensions(|extensions| {
        if extensions.get::<Watcher>().is_some() {
            return None;
        }
        let changed = Arc::new(Notify::new());
        extensions.insert(Watcher(changed.clone()));
        Some(changed)
    });
    if let Some(changed) = started {
        tokio::spawn(watch(socket.clone(), changed));
    }
}

/// The watcher: asks for a fresh token before the expiry, closes the socket at it. Ends when
/// the socket closes.
async fn watch(socket: Socket, changed: Arc<Notify>) {
    let lead = socket.runtime().config.refresh_lead;
    let closing = socket.closing_signal().fired();
    tokio::pin!(closing);
    // When the current expiry was set, and the expiry already asked about.
    let mut since = Instant::now();
    let mut asked: Option<SystemTime> = None;
    loop {
        let Some(expiry) = socket.expires_at() else {
            // A refresh removed the expiry: nothing to do until another sets one.
            tokio::select! {
                () = &mut closing => return,
                () = changed.notified() => since = Instant::now(),
            }
            continue;
        };
        let deadline = instant_of(expiry);
        // One timer per wait (an idle watcher is a memory budget): until the ask, or, once this
        // expiry was asked about, until the deadline.
        let wake = match asked {
            Some(asked) if asked == expiry => deadline,
            _ => ask_time(since, deadline, lead),
        };
        tokio::select! {
            biased;
            () = &mut closing => return,
            () = changed.notified() => {
                since = Instant::now();
                continue;
            }
            () = sleep_until(wake) => {}
        }
        if Instant::now() >= deadline {
            return expired(&socket);
        }
        asked = Some(expiry);
        // Raced against the deadline, and against a refresh the client makes by itself
        // meanwhile (the server's ask is then moot; its pending ack is dropped when the client
        // answers it or leaves).
        let outcome = tokio::select! {
            biased;
            () = &mut closing => return,
            () = changed.notified() => {
                since = Instant::now();
                continue;
            }
            () = sleep_until(deadline) => return expired(&socket),
            // Boxed: the watcher spends its life waiting, and should not carry the size of the
            // ask (the ack wait and the guards' request) while it does.
            outcome = Box::pin(ask(&socket, expiry, deadline)) => outcome,
        };
        match outcome {
            // `apply` notifies `changed`: the next turn starts from the new expiry.
            Some(Ok(extensions)) => {
                apply(&socket, extensions);
            }
            Some(Err(rejection)) => return refused(&socket, rejection.message()),
            // No usable answer (the frame could not be sent, or the client is leaving): the
            // deadline still holds.
            None => {}
        }
    }
}

/// Sends the request and checks the answer with the guards; `None` without an answer.
async fn ask(
    socket: &Socket,
    expiry: SystemTime,
    deadline: Instant,
) -> Option<Result<Extensions, HandshakeRejection>> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let request = serde_json::json!({"expiresAt": unix_ms(expiry)});
    tracing::debug!(socket = %socket.id(), "asking the client for a fresh token");
    let answer: Value = socket
        .emit_with_ack_timeout(EVENT, &request, wait)
        .await
        .ok()?;
    Some(check(socket, answer).await)
}

/// Gives the socket what a refresh established; returns its new expiry.
pub(super) fn apply(socket: &Socket, extensions: Extensions) -> Option<SystemTime> {
    let (expiry, start) = socket.with_extensions(|current| {
        current.remove::<Expiry>();
        current.extend(extensions);
        let expiry = current.get::<Expiry>().map(|expiry| expiry.0);
        let start = match (current.get::<Watcher>(), expiry) {
            (Some(watcher), _) => {
                watcher.0.notify_one();
                None
            }
            (None, Some(_)) => {
                let changed = Arc::new(Notify::new());
                current.insert(Watcher(changed.clone()));
                Some(changed)
            }
            (None, None) => None,
        };
        (expiry, start)
    });
    if let Some(changed) = start {
        tokio::spawn(watch(socket.clone(), changed));
    }
    tracing::debug!(socket = %socket.id(), expires = ?expiry, "token refreshed");
    expiry
}

fn expired(socket: &Socket) {
    tracing::debug!(socket = %socket.id(), "token expired: closing the socket");
    end(
        socket,
        DisconnectReason::TokenExpired,
        close::TOKEN_EXPIRED,
        "token expired".to_owned(),
    );
}

fn refused(socket: &Socket, message: &str) {
    tracing::debug!(socket = %socket.id(), reason = message, "refresh refused: closing the socket");
    end(
        socket,
        DisconnectReason::RefreshRefused,
        close::REFRESH_REFUSED,
        format!("refresh refused: {message}"),
    );
}

/// The exception event, then the close (for Socket.IO, whose DISCONNECT carries no reason).
fn end(socket: &Socket, reason: DisconnectReason, code: u16, text: String) {
    let exception = WsException::new(text.clone());
    let _ = socket.send_text(protocol::encode_exception(&exception, None).into());
    socket.close(reason, Some((code, Cow::Owned(truncate_reason(&text)))));
}

/// When to ask: `lead` before the deadline, but not before half the time left has passed.
fn ask_time(since: Instant, deadline: Instant, lead: Duration) -> Instant {
    let half = since + deadline.saturating_duration_since(since) / 2;
    let before = deadline.checked_sub(lead).unwrap_or(since);
    half.max(before)
}

/// The monotonic instant of a wall-clock expiry (now, when it is past).
fn instant_of(expiry: SystemTime) -> Instant {
    let left = expiry.duration_since(SystemTime::now()).unwrap_or_default();
    Instant::now() + left.min(FAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_asks_at_the_lead_but_not_before_half_the_time_left() {
        let since = Instant::now();
        let lead = Duration::from_secs(30);
        let long = since + Duration::from_secs(600);
        assert_eq!(ask_time(since, long, lead), long - lead);
        let short = since + Duration::from_secs(10);
        assert_eq!(ask_time(since, short, lead), since + Duration::from_secs(5));
    }
}
