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
//! expiry. `#[on_disconnect]` hooks see
//! [`DisconnectReason::TokenExpired`](crate::DisconnectReason::TokenExpired) and
//! [`DisconnectReason::RefreshRefused`](crate::DisconnectReason::RefreshRefused).
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

use crate::error::WsException;
use crate::extract::Message;
use crate::guard::{HandshakeRejection, HandshakeRequest};
use crate::handler::Route;
use crate::handler::reply::Reply;
use crate::handshake::{Handshake, Head, Headers};
use crate::socket::Socket;
use axum::http::Extensions;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

mod token;
mod watch;

pub(crate) use watch::watch_if_expiring;

/// The event of a refresh, both ways (see the [module docs](self)).
pub const EVENT: &str = "nestgate:refresh";

/// The query parameter and cookie whose value a refreshed token replaces (when the handshake
/// had them).
pub const TOKEN_PARAM: &str = "token";

// The markers a handshake request carries in its extensions, defined with it.
pub(crate) use crate::guard::handshake::{Expiry, Refreshing};

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
        needs: crate::extract::Needs::default(),
    }
}

/// A client sent a token by itself: check it; answer the new expiry or why not.
async fn client_refresh(message: Message) -> Reply {
    let socket = message.parts().socket().clone();
    let answer = serde_json::from_str(message.payload().json()).unwrap_or(Value::Null);
    match check(&socket, answer).await {
        Ok(extensions) => {
            let expiry = watch::apply(&socket, extensions);
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
        head: std::sync::Arc::new(Head {
            headers: Headers::copy(&token::headers_with(
                &handshake.head.headers.to_map(),
                token,
            )),
            uri: token::uri_with(&handshake.head.uri, token),
        }),
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

fn unix_ms(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
