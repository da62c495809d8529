//! [`OriginPolicy`]: which browser pages may open a WebSocket or an Engine.IO session. A leaf:
//! it reads request headers and imports nothing of the crate.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

/// Which browser origins may open a WebSocket (checked before any handshake guard).
///
/// Browsers send cookies with cross-site WebSocket handshakes and WebSockets have no CORS, so a
/// page on any site could otherwise act as a logged-in user (cross-site WebSocket hijacking).
/// Requests without an `Origin` header (non-browser clients) are always let through: the check
/// protects browser users, it does not authenticate.
///
/// The default is [`OriginPolicy::SameHost`]: a browser page may connect when it was served by
/// this host (its `Origin` names the same host and port as the request's `Host`). A refused
/// origin gets `403` before any upgrade.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum OriginPolicy {
    /// The `Origin`'s host and port equal the request's `Host` (the default).
    #[default]
    SameHost,
    /// The same host, or one of these origins exactly (`scheme://host[:port]`).
    AllowList(Vec<String>),
    /// Any origin (for public, cookie-less APIs).
    Any,
}

impl OriginPolicy {
    /// Whether a request with these headers may connect.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::SameHost => same_host(origin, headers),
            OriginPolicy::AllowList(allowed) => {
                same_host(origin, headers)
                    || allowed
                        .iter()
                        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
            }
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the request's `Host`.
fn same_host(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|host| host.to_str().ok()) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    // `[::1]:3000`, `host:3000`, `host`.
    let has_port = |authority: &str| {
        authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.bytes().all(|byte| byte.is_ascii_digit()))
            && !authority.ends_with(']')
    };
    // With an explicit port the scheme is all that tells `https://host:3000` from this plain
    // HTTP server on `host:3000`; with none, the scheme's default port already must match.
    if has_port(authority) && scheme != request_scheme(headers) {
        return false;
    }
    let with_port = |authority: &str| -> String {
        if has_port(authority) {
            authority.to_ascii_lowercase()
        } else {
            format!("{}:{default_port}", authority.to_ascii_lowercase())
        }
    };
    with_port(authority) == with_port(host)
}

/// The scheme the client used: `http` (nestgate serves no TLS), or what a TLS-terminating proxy
/// says in `X-Forwarded-Proto` or `Forwarded: proto=` (only `https` is believed: the answer
/// is used to refuse, never to let in).
fn request_scheme(headers: &HeaderMap) -> &'static str {
    let says_https = |value: &str| value.trim().trim_matches('"').eq_ignore_ascii_case("https");
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(says_https);
    let forwarded = headers
        .get("forwarded")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|first| {
            first.split(';').any(|pair| {
                pair.trim().split_once('=').is_some_and(|(key, value)| {
                    key.eq_ignore_ascii_case("proto") && says_https(value)
                })
            })
        });
    if forwarded_proto || forwarded {
        "https"
    } else {
        "http"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A header map of `(name, value)` pairs (also for the handshake guards' tests).
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origin_policy() {
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        let cross = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        let default_port = headers(&[("host", "example.com"), ("origin", "https://example.com")]);
        let none = headers(&[("host", "127.0.0.1:3000")]);
        let policy = OriginPolicy::default();
        assert!(policy.allows(&same));
        assert!(policy.allows(&default_port));
        assert!(policy.allows(&none));
        assert!(!policy.allows(&cross));
        // An explicit port: the scheme must be this server's (http, or https behind a proxy).
        let other_scheme = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://127.0.0.1:3000"),
        ]);
        assert!(!policy.allows(&other_scheme));
        let proxied = headers(&[
            ("host", "example.com:8443"),
            ("origin", "https://example.com:8443"),
            ("x-forwarded-proto", "https"),
        ]);
        assert!(policy.allows(&proxied));
        let forwarded = headers(&[
            ("host", "example.com:8443"),
            ("origin", "https://example.com:8443"),
            ("forwarded", "for=1.2.3.4;proto=https"),
        ]);
        assert!(policy.allows(&forwarded));
        let list = OriginPolicy::AllowList(vec!["https://evil.example/".into()]);
        assert!(list.allows(&cross));
        assert!(OriginPolicy::Any.allows(&cross));
    }
}
