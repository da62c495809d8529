//! Tokens that expire: a socket lives on after the handshake, its credentials do not.
//!
//! A [`HandshakeGuard`](crate::guard::HandshakeGuard) that checks a token with an expiry (a
//! JWT's `exp`) says so with [`HandshakeRequest::expires_at`]. The socket then keeps that
//! deadline ([`Socket::expires_at`]), and before it the server asks the client for a fresh
//! token, on ws-json and Socket.IO alike:
//!
//! | | ws-json | Socket.IO |
//! |---|---|---|
//! | the server asks | `{"event": "nestgate:refresh", "data": {"expiresAt": <ms>}, "id": N}` | `42N["nestgate:refresh",{"expiresAt":<ms>}]` |
//! | the client answers | `{"ack": N, "data": {"token": "<token>"}}` | `43N[{"token":"<token>"}]` (the ack callback) |
//! | the client refreshes by itself | `{"event": "nestgate:refresh", "data": {"token": "<token>"}, "id": N}` | `42N["nestgate:refresh",{"token":"<token>"}]` |
//! | … and is answered | `{"ack": N, "data": {"expiresAt": <ms> or null}}`, or an ack error | `43N[{"expiresAt":<ms>}]`, or `43N[{"status":"error","message":"refresh refused: …"}]` |
//!
//! `expiresAt` is milliseconds since the Unix epoch. The answer may also be the token as a
//! bare string.
//!
//! **When.** The server asks [`App::token_refresh`](crate::App::token_refresh) before the expiry
//! (default 30 s), but not before half of the time left when the expiry was set has passed (a
//! 10 s token is asked for at 5 s), and once per expiry: a refresh that does not extend it is
//! not asked again.
//!
//! **The check.** The answer goes through the same handshake guards as the upgrade (or the
//! Socket.IO CONNECT), on a request made from the socket's original handshake (its headers, URI
//! and remote address) in which the new token replaces the old one wherever a guard usually
//! looks: `Authorization: Bearer <token>` ([`HandshakeRequest::bearer_token`]), the `token`
//! query parameter and the `token` cookie when the handshake had them, and
//! [`HandshakeRequest::auth`], which is the client's answer. A guard that authenticated the
//! handshake therefore authenticates the refresh unchanged;
//! [`HandshakeRequest::is_refresh`] tells the two apart when it matters. On success, what the
//! guards [`insert`](HandshakeRequest::insert)ed replaces the socket's values of those types (so
//! [`Extension<T>`](crate::extract::Extension) reads the new identity in later messages; values
//! of other types, such as those an `#[on_connection]` hook stored, stay), and the expiry they
//! set (or none) becomes the socket's. [`Socket::handshake`] stays the original request.
//!
//! **The end.** Without a valid answer by the expiry the socket is closed: the client gets the
//! exception event `{"status": "error", "message": "token expired"}`, then close code
//! [`TOKEN_EXPIRED`](crate::close::TOKEN_EXPIRED) (4001) "token expired"; when the guards refuse
//! the token the server asked for, [`REFRESH_REFUSED`](crate::close::REFRESH_REFUSED) (4003)
//! "refresh refused: <the guard's message>". A Socket.IO client gets the same `exception` event,
//! then a DISCONNECT of that namespace: socket.io-client reports `disconnect` with reason
//! `"io server disconnect"` and does not reconnect by itself. A refused *client-initiated*
//! refresh is answered with the error and changes nothing: the socket keeps its identity and
//! expiry. `#[on_disconnect]` hooks see [`DisconnectReason::TokenExpired`] and
//! [`DisconnectReason::RefreshRefused`].
//!
//! The expiry is kept by a task of the socket, started only for sockets that have one: it fires
//! even when the client sends nothing. A socket without an expiry has no timer, no task and no
//! extra memory. The event name is reserved on every path with handshake guards.
//!
//! ```
//! use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! struct Jwt;
//!
//! impl HandshakeGuard for Jwt {
//!     async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
//!         let token = request.bearer_token().ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
//!         let exp: u64 = verify(token)?; // the JWT's `exp`, in Unix seconds
//!         request.expires_at(UNIX_EPOCH + Duration::from_secs(exp));
//!         Ok(())
//!     }
//! }
//! # fn verify(_: &str) -> Result<u64, HandshakeRejection> { Ok(0) }
//! ```

use crate::close;
use crate::error::{WsException, truncate_reason};
use crate::extract::Message;
use crate::guard::{HandshakeRejection, HandshakeRequest};
use crate::handshake::Handshake;
use crate::namespace::Route;
use crate::protocol;
use crate::reply::Reply;
use crate::socket::{DisconnectReason, Socket};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Extensions, HeaderMap, HeaderValue, Uri};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// The event of a refresh, both ways (see the [module docs](self)).
pub const EVENT: &str = "nestgate:refresh";

/// The query parameter and cookie whose value a refreshed token replaces (when the handshake
/// had them).
pub const TOKEN_PARAM: &str = "token";

/// How far ahead a deadline is kept at most (an `exp` years away is as good as none).
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A socket's expiry, as the handshake guards set it (kept in its extensions: a socket without
/// one pays nothing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry(pub(crate) SystemTime);

/// Marks a [`HandshakeRequest`] made for a refresh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refreshing;

/// The socket's watcher task is running; notified when a refresh changed the expiry.
#[derive(Clone)]
struct Watcher(Arc<Notify>);

impl Socket {
    /// When the credentials this socket connected (or last refreshed) with expire, as a
    /// handshake guard set it with [`HandshakeRequest::expires_at`]; `None` when they do not.
    ///
    /// ```
    /// # fn show(socket: nestgate::Socket) {
    /// if let Some(when) = socket.expires_at() {
    ///     let left = when.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    ///     println!("{} must refresh within {left:?}", socket.id());
    /// }
    /// # }
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.extension::<Expiry>().map(|expiry| expiry.0)
    }
}

/// The route of the client-initiated refresh, on a path with handshake guards.
pub(crate) fn route() -> Route {
    Route {
        event: EVENT,
        handler_name: "nestgate's token refresh".to_owned(),
        call: Box::new(|message: Message| Box::pin(client_refresh(message))),
        filters: Vec::new(),
    }
}

/// A client sent a token by itself: check it; answer the new expiry or why not.
async fn client_refresh(message: Message) -> Reply {
    let socket = message.parts().socket().clone();
    let answer = serde_json::from_str(message.payload().json()).unwrap_or(Value::Null);
    match check(&socket, answer).await {
        Ok(extensions) => {
            let expiry = apply(&socket, extensions);
            Reply::json(&serde_json::json!({"expiresAt": expiry.map(unix_ms)}))
        }
        Err(rejection) => {
            tracing::debug!(socket = %socket.id(), reason = rejection.message(), "a client's refresh was refused");
            Reply::error(WsException::new(format!(
                "refresh refused: {}",
                rejection.message()
            )))
        }
    }
}

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

/// Runs the path's handshake guards on the socket's handshake carrying `answer`'s token;
/// returns what they established.
async fn check(socket: &Socket, answer: Value) -> Result<Extensions, HandshakeRejection> {
    let answer = match answer {
        Value::String(token) => serde_json::json!({ "token": token }),
        other => other,
    };
    let token = answer
        .get("token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty());
    let handshake = socket.handshake();
    let renewed = Handshake {
        headers: headers_with(&handshake.headers, token),
        uri: uri_with(&handshake.uri, token),
        remote_addr: handshake.remote_addr,
        auth: Some(Box::new(answer)),
    };
    let mut request = HandshakeRequest::new(renewed, Some(socket.runtime().state.clone()));
    request.extensions.insert(Refreshing);
    crate::guard::check_all(socket.namespace().handshake_guards(), &mut request).await?;
    let mut extensions = request.extensions;
    extensions.remove::<Refreshing>();
    if let Some(Expiry(expiry)) = extensions.get::<Expiry>()
        && *expiry <= SystemTime::now()
    {
        return Err(HandshakeRejection::unauthorized("token expired"));
    }
    Ok(extensions)
}

/// Gives the socket what a refresh established; returns its new expiry.
fn apply(socket: &Socket, extensions: Extensions) -> Option<SystemTime> {
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

fn unix_ms(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The handshake's headers with `token` as the bearer token and the `token` cookie (when it had
/// one); without a token, the old ones are removed, never reused.
fn headers_with(original: &HeaderMap, token: Option<&str>) -> HeaderMap {
    let mut headers = original.clone();
    headers.remove(AUTHORIZATION);
    if let Some(Ok(mut bearer)) =
        token.map(|token| HeaderValue::from_str(&format!("Bearer {token}")))
    {
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| cookie_with(value, token))
        .collect();
    headers.remove(COOKIE);
    for cookie in cookies {
        headers.append(COOKIE, cookie);
    }
    headers
}

/// One `Cookie` header with the `token` cookie's value replaced (or removed).
fn cookie_with(value: &HeaderValue, token: Option<&str>) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let pairs: Vec<String> = text
        .split(';')
        .filter_map(|pair| {
            let pair = pair.trim();
            match pair.split_once('=') {
                Some((name, _)) if name == TOKEN_PARAM => {
                    token.map(|token| format!("{name}={token}"))
                }
                _ => (!pair.is_empty()).then(|| pair.to_owned()),
            }
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut cookie = HeaderValue::from_str(&pairs.join("; ")).ok()?;
    cookie.set_sensitive(value.is_sensitive());
    Some(cookie)
}

/// The handshake's URI with the `token` query parameter's value replaced (or removed), when it
/// had one.
fn uri_with(uri: &Uri, token: Option<&str>) -> Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let pairs = || form_urlencoded::parse(query.as_bytes());
    if !pairs().any(|(name, _)| name == TOKEN_PARAM) {
        return uri.clone();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs() {
        match (name == TOKEN_PARAM, token) {
            (false, _) => out.append_pair(&name, &value),
            (true, Some(token)) => out.append_pair(&name, token),
            (true, None) => &mut out,
        };
    }
    let query = out.finish();
    let text = if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{query}", uri.path())
    };
    // Made from a valid path and an encoded query; the path alone is the fallback.
    Uri::try_from(text).unwrap_or_else(|_| Uri::try_from(uri.path()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_token_replaces_the_old_one_everywhere() {
        let mut original = HeaderMap::new();
        original.insert(AUTHORIZATION, HeaderValue::from_static("Bearer old"));
        original.insert(COOKIE, HeaderValue::from_static("a=1; token=old; b=2"));
        let headers = headers_with(&original, Some("new"));
        assert_eq!(headers[AUTHORIZATION], "Bearer new");
        assert_eq!(headers[COOKIE], "a=1; token=new; b=2");
        let headers = headers_with(&original, None);
        assert!(headers.get(AUTHORIZATION).is_none());
        assert_eq!(headers[COOKIE], "a=1; b=2");

        let uri: Uri = "/chat?room=a%20b&token=old".parse().unwrap();
        assert_eq!(uri_with(&uri, Some("new")), "/chat?room=a+b&token=new");
        assert_eq!(uri_with(&uri, None), "/chat?room=a+b");
        let plain: Uri = "/chat?room=a".parse().unwrap();
        assert_eq!(uri_with(&plain, Some("new")), plain);
    }

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
