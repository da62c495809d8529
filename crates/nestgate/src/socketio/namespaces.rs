//! [`Namespaces`]: the namespaces one Socket.IO client is connected to, by name.
//!
//! Nearly every client connects to one namespace, a few to a handful: a `Vec` sorted by name
//! holds one in a 40-byte block where a `HashMap` takes 180, and finds it with one string
//! comparison instead of a SipHash of the name on every packet. The number of entries is
//! bounded by the namespaces the server has (dynamic ones by `App::max_dynamic_namespaces`), so
//! an insertion's shift stays small.

/// Namespace name → what its entry holds (for a client: its socket's inbound queue and socket).
pub(super) struct Namespaces<T> {
    sorted: Vec<(Box<str>, T)>,
}

impl<T> Default for Namespaces<T> {
    fn default() -> Self {
        Namespaces { sorted: Vec::new() }
    }
}

impl<T> Namespaces<T> {
    fn find(&self, nsp: &str) -> Result<usize, usize> {
        self.sorted.binary_search_by(|(name, _)| (**name).cmp(nsp))
    }

    pub(super) fn get(&self, nsp: &str) -> Option<&T> {
        self.find(nsp).ok().map(|index| &self.sorted[index].1)
    }

    /// Adds `nsp`'s entry, replacing (and returning) the one it had.
    pub(super) fn insert(&mut self, nsp: &str, value: T) -> Option<T> {
        match self.find(nsp) {
            Ok(index) => Some(std::mem::replace(&mut self.sorted[index].1, value)),
            Err(index) => {
                self.sorted.insert(index, (nsp.into(), value));
                None
            }
        }
    }

    pub(super) fn remove(&mut self, nsp: &str) -> Option<T> {
        let index = self.find(nsp).ok()?;
        let (_, value) = self.sorted.remove(index);
        if self.sorted.is_empty() {
            // A client that leaves its namespaces keeps no room for them.
            self.sorted = Vec::new();
        }
        Some(value)
    }

    /// Every entry, taken out (the iterator owns them: it outlives a lock on `self`).
    pub(super) fn take(&mut self) -> impl Iterator<Item = T> + use<T> {
        std::mem::take(&mut self.sorted)
            .into_iter()
            .map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::Namespaces;

    #[test]
    fn entries_are_found_replaced_and_removed_by_name() {
        let mut namespaces = Namespaces::default();
        for (index, nsp) in ["/", "/chat", "/admin", "/b"].into_iter().enumerate() {
            assert_eq!(namespaces.insert(nsp, index), None);
        }
        assert_eq!(namespaces.get("/chat"), Some(&1));
        assert_eq!(namespaces.get("/admin"), Some(&2));
        assert_eq!(namespaces.get("/"), Some(&0));
        assert_eq!(namespaces.get("/missing"), None);
        assert_eq!(namespaces.insert("/chat", 10), Some(1));
        assert_eq!(namespaces.get("/chat"), Some(&10));
        assert_eq!(namespaces.remove("/admin"), Some(2));
        assert_eq!(namespaces.remove("/admin"), None);
        assert_eq!(namespaces.get("/b"), Some(&3));
        let mut left: Vec<_> = namespaces.take().collect();
        left.sort();
        assert_eq!(left, [0, 3, 10]);
        assert_eq!(namespaces.get("/"), None, "taken out");
    }
}
