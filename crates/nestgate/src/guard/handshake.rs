//! Handshake guards: the [`HandshakeRequest`] they check, the [`HandshakeGuard`] trait, its boxed
//! form, and the run of a path's guards on one request.

use crate::handshake::{Handshake, HandshakeRejection};
use crate::state::AppState;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use futures_util::future::BoxFuture;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A socket's expiry, as the handshake guards set it (kept in its extensions: a socket without
/// one pays nothing; [`refresh`](crate::refresh) watches it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry(pub(crate) SystemTime);

/// Marks a [`HandshakeRequest`] made for a [`refresh`](crate::refresh).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refreshing;

/// The upgrade request a [`HandshakeGuard`] looks at, and what it establishes for the socket.
pub struct HandshakeRequest {
    pub(crate) handshake: Handshake,
    pub(crate) extensions: Extensions,
    /// `None` only in unit tests.
    pub(crate) state: Option<Arc<AppState>>,
}

impl HandshakeRequest {
    /// A request for the guards to check: `handshake`, with nothing established yet.
    pub(crate) fn new(handshake: Handshake, state: Option<Arc<AppState>>) -> Self {
        HandshakeRequest {
            handshake,
            extensions: Extensions::new(),
            state,
        }
    }

    /// The handshake the socket keeps, and what the guards established for it.
    pub(crate) fn into_parts(self) -> (Handshake, Extensions) {
        let mut handshake = self.handshake;
        // A header map a guard asked for is not kept for the socket's life (a handler that
        // asks has it made again). A Socket.IO session's handshake is shared by its
        // namespaces: its map, once made, stays.
        if let Some(head) = Arc::get_mut(&mut handshake.head) {
            head.headers.forget_map();
        }
        (handshake, self.extensions)
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.handshake.head.headers.map()
    }

    /// A header's value, when it is present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.handshake.head.headers.get(name)?.text()
    }

    /// The request URI (path and query).
    pub fn uri(&self) -> &Uri {
        &self.handshake.head.uri
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        self.handshake.query(name)
    }

    /// A cookie's value (from every `Cookie` header).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.handshake
            .head
            .headers
            .get_all(COOKIE.as_str())
            .filter_map(|header| header.text())
            .flat_map(|header| header.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then(|| value.trim_matches('"'))
            })
    }

    /// The token of an `Authorization: Bearer <token>` header (in a [refresh](Self::is_refresh):
    /// the token the client sent).
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self
            .handshake
            .head
            .headers
            .get(AUTHORIZATION.as_str())?
            .text()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|token| !token.is_empty())
    }

    /// The client's address, when the server knows it (always, under [`App::listen`](crate::App::listen)).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.handshake.remote_addr
    }

    /// The `auth` payload of a Socket.IO client's CONNECT (`io(url, { auth: { token } })`);
    /// `None` for ws-json clients. Guards see it per namespace, as socket.io middlewares do.
    /// In a [refresh](Self::is_refresh): the client's answer, `{"token": ...}`, on both
    /// protocols.
    pub fn auth(&self) -> Option<&serde_json::Value> {
        self.handshake.auth()
    }

    /// A clone of the state of type `T` provided with [`App::provide`](crate::App::provide).
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.state.as_ref()?.get::<T>()
    }

    /// Stores a value on the socket this request becomes; handlers read it with
    /// [`Extension<T>`](crate::extract::Extension) or
    /// [`Socket::extension`](crate::Socket::extension).
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.extensions.insert(value);
    }

    /// A value an earlier guard stored with [`insert`](Self::insert).
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }

    /// Says that what this request proves stops being valid at `when` (a JWT's `exp`:
    /// `UNIX_EPOCH + Duration::from_secs(exp)`). Before it, the server asks the client for a
    /// fresh token; without a valid one by then, the socket is closed with 4001 "token
    /// expired" (see [`refresh`](crate::refresh)). When several guards set one, the earliest
    /// wins.
    ///
    /// ```
    /// # use nestgate::guard::HandshakeRequest;
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # fn check(request: &mut HandshakeRequest, exp: u64) {
    /// request.expires_at(UNIX_EPOCH + Duration::from_secs(exp));
    /// # }
    /// ```
    pub fn expires_at(&mut self, when: SystemTime) {
        let earliest = match self.extensions.get::<Expiry>() {
            Some(Expiry(earlier)) if *earlier <= when => *earlier,
            _ => when,
        };
        self.extensions.insert(Expiry(earliest));
    }

    /// [`expires_at`](Self::expires_at) `after` from now (for tokens that carry a lifetime
    /// rather than a date).
    pub fn expires_in(&mut self, after: Duration) {
        // Past a century, an expiry is as good as none (and `SystemTime` cannot overflow).
        let after = after.min(Duration::from_secs(100 * 365 * 86_400));
        self.expires_at(SystemTime::now() + after);
    }

    /// The expiry an earlier guard set, if any.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.extensions.get::<Expiry>().map(|expiry| expiry.0)
    }

    /// Whether this request checks a token the client sent on a live socket (a
    /// [`refresh`](crate::refresh)), not an upgrade or a Socket.IO CONNECT. Its headers, URI and
    /// address are the socket's handshake, with the new token in place of the old one;
    /// [`auth`](Self::auth) is the client's answer.
    pub fn is_refresh(&self) -> bool {
        self.extensions.get::<Refreshing>().is_some()
    }
}

impl std::fmt::Debug for HandshakeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeRequest")
            .field("uri", &self.handshake.head.uri)
            .field("headers", &self.handshake.head.headers)
            .field("remote_addr", &self.handshake.remote_addr)
            .finish_non_exhaustive()
    }
}

/// Decides whether an upgrade request may become a socket. See the [module docs](crate::guard).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handshake guard",
    label = "not a `HandshakeGuard`",
    note = "implement `nestgate::guard::HandshakeGuard` for it: `async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection>`"
)]
pub trait HandshakeGuard: Send + Sync + 'static {
    /// `Ok(())` lets the client in; `Err` answers the HTTP rejection and no socket is created.
    fn check(
        &self,
        request: &mut HandshakeRequest,
    ) -> impl Future<Output = Result<(), HandshakeRejection>> + Send;
}

/// A [`HandshakeGuard`] without its type, as the app stores it.
#[derive(Clone)]
pub struct BoxedHandshakeGuard(Arc<dyn DynHandshakeGuard>);

impl BoxedHandshakeGuard {
    /// Erases a guard's type.
    pub fn new<G: HandshakeGuard>(guard: G) -> Self {
        BoxedHandshakeGuard(Arc::new(guard))
    }

    pub(crate) fn check<'a>(
        &'a self,
        request: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), HandshakeRejection>> {
        self.0.check_boxed(request)
    }
}

impl std::fmt::Debug for BoxedHandshakeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedHandshakeGuard")
    }
}

trait DynHandshakeGuard: Send + Sync {
    fn check_boxed<'a>(
        &'a self,
        request: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), HandshakeRejection>>;
}

impl<G: HandshakeGuard> DynHandshakeGuard for G {
    fn check_boxed<'a>(
        &'a self,
        request: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), HandshakeRejection>> {
        Box::pin(self.check(request))
    }
}

/// Runs `guards` in order on `request`: the first rejection wins; a guard that panics is a 500.
pub(crate) async fn check_all(
    guards: &[BoxedHandshakeGuard],
    request: &mut HandshakeRequest,
) -> Result<(), HandshakeRejection> {
    use futures_util::FutureExt as _;
    for guard in guards {
        match std::panic::AssertUnwindSafe(guard.check(request))
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(rejection)) => return Err(rejection),
            Err(_) => {
                tracing::error!(uri = %request.handshake.head.uri, "a handshake guard panicked");
                return Err(HandshakeRejection::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    crate::error::INTERNAL_SERVER_ERROR,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::tests::headers;

    #[test]
    fn request_helpers() {
        let head = headers(&[
            ("authorization", "Bearer abc.def"),
            ("cookie", "a=1; token=\"xyz\""),
        ]);
        let uri = "/chat?token=q%20r".parse().unwrap();
        let request = HandshakeRequest::new(Handshake::detached(&head, &uri, None), None);
        assert_eq!(request.bearer_token(), Some("abc.def"));
        assert_eq!(request.cookie("token"), Some("xyz"));
        assert_eq!(request.cookie("missing"), None);
        assert_eq!(request.query("token").as_deref(), Some("q r"));
    }

    #[test]
    fn the_earliest_expiry_wins() {
        let mut request = HandshakeRequest::new(
            Handshake::detached(&HeaderMap::new(), &Uri::default(), None),
            None,
        );
        assert_eq!(request.expiry(), None);
        assert!(!request.is_refresh());
        let soon = std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        request.expires_at(soon + Duration::from_secs(60));
        request.expires_at(soon);
        request.expires_at(soon + Duration::from_secs(30));
        assert_eq!(request.expiry(), Some(soon));
        request.expires_in(Duration::MAX);
        assert_eq!(
            request.expiry(),
            Some(soon),
            "a far expiry does not overflow"
        );
    }
}
