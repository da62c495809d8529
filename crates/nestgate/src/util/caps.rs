//! Counts of open things (TCP connections, Engine.IO sessions), in all and per client address,
//! each with an optional cap. A leaf: it imports nothing of the crate.
//!
//! [`Caps::admit`] takes a place and returns a [`Permit`]; dropping the permit gives the place
//! back. The per-address map holds only addresses with a place taken: an entry goes with its
//! last permit, so the map is bounded by what is open.

use super::sync::lock;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

/// The counts and their caps, shared by whoever admits and every permit.
#[derive(Debug)]
pub(crate) struct Caps {
    max_total: Option<usize>,
    max_per_ip: Option<usize>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses with a place taken.
    per_ip: HashMap<IpAddr, usize>,
}

/// Which cap refused a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_total` places are taken.
    Total,
    /// `max_per_ip` places are taken by this address.
    PerIp,
}

impl Caps {
    /// Caps of `max_total` places in all and `max_per_ip` per address (`None`: no cap).
    pub(crate) fn new(max_total: Option<usize>, max_per_ip: Option<usize>) -> Arc<Self> {
        Arc::new(Caps {
            max_total,
            max_per_ip,
            counts: Mutex::default(),
        })
    }

    /// Takes a place for `ip`, unless a cap is reached. Without an address (a server not
    /// started through `App`), only the total cap holds.
    pub(crate) fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Permit, Refused> {
        let key = ip.filter(|_| self.max_per_ip.is_some()).map(client_key);
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
            caps: self.clone(),
            key,
        })
    }

    /// Places taken, and by how many addresses (for tests and logs).
    #[cfg(test)]
    pub(crate) fn open(&self) -> (usize, usize) {
        let counts = self.lock();
        (counts.total, counts.per_ip.len())
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each update is one step.
        lock(&self.counts)
    }
}

/// The address a per-address cap counts under: an IPv4 address (IPv4-mapped IPv6 included) or
/// an IPv6 /64, the smallest block one host is usually given (it could otherwise take 2^64
/// places).
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

/// One place taken; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Permit {
    caps: Arc<Caps>,
    key: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.caps.lock();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("a valid address"))
    }

    #[test]
    fn caps_are_counted_and_entries_go_with_their_last_permit() {
        let caps = Caps::new(Some(3), Some(2));
        let first = caps.admit(ip("10.0.0.1")).unwrap();
        let second = caps.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(caps.admit(ip("10.0.0.1")).unwrap_err(), Refused::PerIp);
        let third = caps.admit(ip("::ffff:10.0.0.2")).unwrap();
        assert_eq!(caps.admit(ip("10.0.0.3")).unwrap_err(), Refused::Total);
        assert_eq!(caps.open(), (3, 2));
        drop((first, second));
        assert_eq!(caps.open(), (1, 1));
        let _again = caps.admit(ip("10.0.0.1")).unwrap();
        drop(third);
        assert_eq!(caps.open(), (1, 1));
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client() {
        let caps = Caps::new(None, Some(1));
        let _held = caps.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            caps.admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refused::PerIp
        );
        assert!(caps.admit(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn without_an_address_only_the_total_cap_holds() {
        let caps = Caps::new(Some(2), Some(1));
        let _a = caps.admit(None).unwrap();
        let _b = caps.admit(None).unwrap();
        assert_eq!(caps.admit(None).unwrap_err(), Refused::Total);
        assert_eq!(caps.open(), (2, 0));
    }
}
