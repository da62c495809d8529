//! Counting sessions, globally and per IP address, so that a handshake past a cap is refused
//! before anything is allocated for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The sessions an engine has open, by address.
#[derive(Debug, Default)]
pub(crate) struct Admissions {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_sessions` are open.
    Full,
    /// `max_sessions_per_ip` are open from this address.
    FullForIp,
}

/// One admitted session's place; it is given back when the session is dropped, which is when
/// its memory is.
#[derive(Debug)]
pub(crate) struct Admission {
    admissions: Arc<Admissions>,
    ip: Option<IpAddr>,
}

impl Admissions {
    /// Takes a place for a new session from `ip`, if the caps allow it.
    pub(crate) fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        max_sessions: usize,
        max_per_ip: Option<usize>,
    ) -> Result<Admission, Refused> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= max_sessions {
            return Err(Refused::Full);
        }
        // Without an address (a server not started through `App`), only the global cap holds.
        let ip = ip.filter(|_| max_per_ip.is_some());
        if let (Some(ip), Some(max)) = (ip, max_per_ip) {
            let count = counts.per_ip.entry(ip).or_insert(0);
            if *count >= max {
                return Err(Refused::FullForIp);
            }
            *count += 1;
        }
        counts.total += 1;
        Ok(Admission {
            admissions: self.clone(),
            ip,
        })
    }

    /// Sessions admitted and not yet dropped.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self
            .admissions
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = self.ip
            && let Some(count) = counts.per_ip.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_places_come_back() {
        let admissions = Arc::new(Admissions::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admissions.admit(Some(a), 3, Some(2)).unwrap();
        let _second = admissions.admit(Some(a), 3, Some(2)).unwrap();
        assert_eq!(
            admissions.admit(Some(a), 3, Some(2)).unwrap_err(),
            Refused::FullForIp
        );
        let _third = admissions.admit(Some(b), 3, Some(2)).unwrap();
        assert_eq!(
            admissions.admit(Some(b), 3, Some(2)).unwrap_err(),
            Refused::Full
        );
        drop(first);
        assert_eq!(admissions.total(), 2);
        let _again = admissions.admit(Some(a), 3, Some(2)).unwrap();
        assert!(admissions.counts.lock().unwrap().per_ip.len() == 2);
    }
}
