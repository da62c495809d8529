//! The `Host` check that stops DNS rebinding ([`App::allowed_hosts`](crate::App::allowed_hosts)).
//!
//! A page on `http://rebind.example:3000` whose name is then re-pointed at `127.0.0.1` talks to a
//! server on loopback as its own origin: `Origin` and `Host` both say `rebind.example:3000`, so the
//! same-host origin check lets it in. The name in `Host` is the one thing the page cannot choose,
//! so gateway requests whose `Host` is not a name of this server are refused with 403, before
//! the origin check.
//!
//! IP literals, `localhost` and `*.localhost` are always allowed: a rebinding page is served
//! under a DNS name, and browsers resolve `*.localhost` to loopback themselves (RFC 6761).
//!
//! This is the pure check (the setting, its parsing and matching); the middleware that applies
//! it to every gateway route, and the 403 it answers, sit where the router is built
//! (`app/router.rs`).

use axum::http::HeaderMap;
use axum::http::header::HOST;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What the app was told about hosts.
#[derive(Debug, Clone, Default)]
pub(crate) enum HostSetting {
    /// Check hosts when the app is bound to a loopback address (under `App::bind`/`listen`).
    #[default]
    Auto,
    /// Never check.
    Any,
    /// Check, allowing these names too.
    List(Vec<String>),
}

/// The check, once it is known whether it applies.
#[derive(Debug, Clone)]
pub(crate) struct HostCheck {
    /// Lowercase entries: `name`, `name:port`, or `.suffix` (the name and its subdomains).
    names: Vec<String>,
}

impl HostSetting {
    /// The check for an app bound to `bound` (`None` under `App::into_router`: unknown).
    pub(crate) fn resolve(&self, bound: Option<std::net::SocketAddr>) -> Option<HostCheck> {
        match self {
            HostSetting::Any => None,
            HostSetting::Auto => bound
                .is_some_and(|addr| addr.ip().is_loopback())
                .then(|| HostCheck { names: Vec::new() }),
            HostSetting::List(names) => Some(HostCheck {
                names: names
                    .iter()
                    .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|name| !name.is_empty())
                    .collect(),
            }),
        }
    }
}

impl HostCheck {
    /// Whether a request with these headers names an allowed host. A request without `Host`
    /// passes: no browser sends one (and under `App::listen` HTTP/1.1 without it gets 400).
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(HOST) else {
            return true;
        };
        let Some((name, port)) = host.to_str().ok().and_then(split_host) else {
            return false;
        };
        always_allowed(&name) || self.names.iter().any(|entry| matches(entry, &name, port))
    }
}

/// `name[:port]` or `[v6][:port]`, lowercased and without a trailing dot; `None` if malformed.
fn split_host(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?.parse().ok()?),
        };
        (format!("[{inside}]"), port)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port.parse().ok()?)),
            None => (host.to_owned(), None),
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some((name, port))
}

/// IP literals and the loopback names: never a rebinding page's host.
fn always_allowed(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") || name.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    name.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inside| inside.parse::<Ipv6Addr>().is_ok())
}

/// Whether an allow-list entry admits `name` (and `port`).
fn matches(entry: &str, name: &str, port: Option<u16>) -> bool {
    if let Some(suffix) = entry.strip_prefix('.') {
        return name == suffix || name.ends_with(entry);
    }
    match split_host(entry) {
        Some((entry_name, None)) => entry_name == name,
        Some((entry_name, Some(entry_port))) => entry_name == name && port == Some(entry_port),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn loopback_names_and_listed_hosts_pass() {
        let loopback: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let check = HostSetting::Auto.resolve(Some(loopback)).unwrap();
        for ok in [
            "localhost:3000",
            "LOCALHOST",
            "app.localhost:8080",
            "127.0.0.1:3000",
            "[::1]:3000",
            "192.168.1.5",
        ] {
            assert!(check.allows(&host(ok)), "{ok}");
        }
        for refused in [
            "rebind.evil.example:3000",
            "evil.example",
            "localhost.evil:3000",
            "[::1",
        ] {
            assert!(!check.allows(&host(refused)), "{refused}");
        }
        assert!(check.allows(&HeaderMap::new()));

        let listed = HostSetting::List(vec![
            "Example.com".into(),
            ".corp.test".into(),
            "api.test:8443".into(),
        ])
        .resolve(None)
        .unwrap();
        assert!(listed.allows(&host("example.com:3000")));
        assert!(listed.allows(&host("a.corp.test")));
        assert!(listed.allows(&host("corp.test")));
        assert!(listed.allows(&host("api.test:8443")));
        assert!(!listed.allows(&host("api.test:3000")));
        assert!(!listed.allows(&host("xcorp.test")));
        assert!(!listed.allows(&host("evil.example")));
    }

    #[test]
    fn only_loopback_binds_check_by_default() {
        let public: std::net::SocketAddr = "0.0.0.0:3000".parse().unwrap();
        assert!(HostSetting::Auto.resolve(Some(public)).is_none());
        assert!(HostSetting::Auto.resolve(None).is_none());
        let loopback: std::net::SocketAddr = "[::1]:3000".parse().unwrap();
        assert!(HostSetting::Any.resolve(Some(loopback)).is_none());
    }
}
