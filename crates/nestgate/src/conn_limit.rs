//! Caps on open TCP connections, in all and per client address
//! ([`App::max_connections`](crate::App::max_connections),
//! [`App::max_connections_per_ip`](crate::App::max_connections_per_ip)).
//!
//! The accept loop takes a [`Permit`] for each connection; the permit travels inside the
//! connection's I/O object ([`Counted`]), so it is held exactly as long as the socket is open:
//! through the HTTP exchange and, after an upgrade, for the WebSocket's whole life.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The connection counts, shared by the accept loop and every open connection's permit.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    max_total: Option<usize>,
    max_per_ip: Option<usize>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses with an open connection: an entry goes with its last connection.
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Total,
    PerIp,
}

impl ConnectionLimits {
    /// The limits, or `None` when neither is set (nothing to count).
    pub(crate) fn new(max_total: Option<usize>, max_per_ip: Option<usize>) -> Option<Arc<Self>> {
        (max_total.is_some() || max_per_ip.is_some()).then(|| {
            Arc::new(ConnectionLimits {
                max_total,
                max_per_ip,
                counts: Mutex::default(),
            })
        })
    }

    /// Counts a new connection from `ip`, unless a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        let key = self.max_per_ip.map(|_| client_key(ip));
        let mut counts = self.lock();
        if self.max_total.is_some_and(|max| counts.total >= max) {
            return Err(Refused::Total);
        }
        if let (Some(max), Some(key)) = (self.max_per_ip, key) {
            let open = counts.per_ip.entry(key).or_insert(0);
            if *open >= max {
                return Err(Refused::PerIp);
            }
            *open += 1;
        }
        counts.total += 1;
        Ok(Permit {
            limits: self.clone(),
            key,
        })
    }

    /// How many connections are counted (and from how many addresses), for tests and logs.
    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let counts = self.lock();
        (counts.total, counts.per_ip.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each update is one step.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The address a per-IP cap counts under: an IPv4 address (IPv4-mapped IPv6 included) or an
/// IPv6 /64, the smallest block one host is usually given (it could otherwise take 2^64 slots).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Permit {
    limits: Arc<ConnectionLimits>,
    key: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.limits.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(open) = counts.per_ip.get_mut(&key)
        {
            *open -= 1;
            if *open == 0 {
                counts.per_ip.remove(&key);
            }
        }
    }
}

/// A TCP stream that holds its connection's permit (if any) until it is dropped.
#[derive(Debug)]
pub(crate) struct Counted {
    tcp: TcpStream,
    _permit: Option<Permit>,
}

impl Counted {
    pub(crate) fn new(tcp: TcpStream, permit: Option<Permit>) -> Self {
        Counted {
            tcp,
            _permit: permit,
        }
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_counted_and_entries_go_with_their_last_connection() {
        let limits = ConnectionLimits::new(Some(3), Some(2)).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refused::PerIp);
        let third = limits.admit(b).unwrap();
        assert_eq!(
            limits.admit("10.0.0.3".parse().unwrap()).unwrap_err(),
            Refused::Total
        );
        assert_eq!(limits.open(), (3, 2));
        drop((first, second));
        assert_eq!(limits.open(), (1, 1));
        drop(third);
        assert_eq!(limits.open(), (0, 0));
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client() {
        let limits = ConnectionLimits::new(None, Some(1)).unwrap();
        let _held = limits.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert_eq!(
            limits
                .admit("2001:db8:1:2:ffff::9".parse().unwrap())
                .unwrap_err(),
            Refused::PerIp
        );
        assert!(limits.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert!(ConnectionLimits::new(None, None).is_none());
    }
}
