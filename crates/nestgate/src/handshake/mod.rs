//! [`Handshake`]: the HTTP request that opened a connection, as a socket keeps it — made in one
//! place ([`Handshake::detached`]) for every transport (the ws-json upgrade, Engine.IO's
//! handshake, the in-process test socket) — and [`HandshakeRejection`], the HTTP answer to one
//! that is refused.

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
mod headers;

pub(crate) use headers::Headers;

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

/// The first value of query parameter `name` in `uri`, percent-decoded.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// What a socket keeps of its request's head, in one block: the headers (packed) and the URI.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) headers: Headers,
    pub(crate) uri: Uri,
}

/// The HTTP request that opened the connection.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Shared: every namespace a Socket.IO session connects to keeps the same head.
    pub(crate) head: Arc<Head>,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// The Socket.IO CONNECT payload (`io({ auth })`); `None` for ws-json clients.
    pub(crate) auth: Option<Box<serde_json::Value>>,
}

impl Handshake {
    /// The request headers.
    ///
    /// The socket keeps them packed (see `handshake::headers`); the map is made on the first
    /// call and kept from then on.
    pub fn headers(&self) -> &HeaderMap {
        self.head.headers.map()
    }

    /// The request URI (path and query).
    pub fn uri(&self) -> &Uri {
        &self.head.uri
    }

    /// The first value of a query parameter, percent-decoded.
    ///
    /// ```
    /// # use nestgate::Handshake;
    /// # fn check(handshake: &Handshake) {
    /// // ws://host/chat?token=abc
    /// let token = handshake.query("token");
    /// # }
    /// ```
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(&self.head.uri, name)
    }

    /// The client's address, when the server knows it (always, under [`App::listen`](crate::App::listen)).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The auth payload a Socket.IO client connected with (`io(url, { auth: {...} })`);
    /// `None` for ws-json clients and for Socket.IO clients that sent none.
    pub fn auth(&self) -> Option<&serde_json::Value> {
        self.auth.as_deref()
    }
}

impl Handshake {
    /// A handshake that owns its bytes, made from a request's head.
    ///
    /// hyper parses without copying: header values and the URI are slices of its 8 KiB read
    /// buffer, and keeping any of them would keep that whole buffer alive for the connection's
    /// lifetime — more than everything else an idle connection holds.
    pub(crate) fn detached(
        headers: &HeaderMap,
        uri: &Uri,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        Handshake {
            head: Arc::new(Head {
                headers: Headers::copy(headers),
                uri: Uri::try_from(uri.to_string()).unwrap_or_default(),
            }),
            remote_addr,
            auth: None,
        }
    }
}

/// The size of a request's head as a handshake keeps it: the URI, and each header's name and
/// value plus the 2 bytes of `": "` (what `max_header_size` and Engine.IO's
/// `max_handshake_bytes` bound).
pub(crate) fn head_size(headers: &HeaderMap, uri: &Uri) -> usize {
    text_len(uri)
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 2)
            .sum::<usize>()
}

/// The length of `uri` as text, counted as it is written out, without building the text.
fn text_len(uri: &Uri) -> usize {
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0 += text.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing into a counter cannot fail.
    let _ = std::fmt::Write::write_fmt(&mut count, format_args!("{uri}"));
    count.0
}

/// Why a handshake was refused: an HTTP status and a message, sent before any upgrade as
/// `{"statusCode": 401, "message": "...", "error": "Unauthorized"}` (NestJS's HTTP error body).
#[derive(Debug, Clone)]
pub struct HandshakeRejection {
    status: StatusCode,
    message: Cow<'static, str>,
}

impl HandshakeRejection {
    /// A rejection with any status.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        HandshakeRejection {
            status,
            message: message.into(),
        }
    }

    /// 401: no credentials, or credentials that do not prove who the client is.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the client is known but not allowed.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for HandshakeRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "statusCode": self.status.as_u16(),
            "message": self.message,
            "error": self.status.canonical_reason().unwrap_or("Error"),
        });
        let mut response = (
            self.status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_is_counted_as_long_as_its_text() {
        for uri in [
            "/",
            "/chat?token=a%20b&x=1",
            "http://example.com:8080/a/b?c",
            "*",
        ] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(text_len(&uri), uri.to_string().len(), "{uri}");
        }
    }
}
