//! The rooms one socket is in: a set in join order, capped by
//! [`App::max_rooms_per_socket`](crate::App::max_rooms_per_socket), and the socket's side of a
//! join or a leave (the store's side is `adapter::LocalStore`).

use super::Socket;
use crate::adapter::Room;
use crate::util::sync::lock;
use indexmap::IndexSet;

/// A join refused because the socket would be in more rooms than
/// [`App::max_rooms_per_socket`](crate::App::max_rooms_per_socket) allows. Returned by
/// [`Socket::try_join`](crate::Socket::try_join); the socket joined none of the rooms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a socket may be in {max} rooms; this join would make it {would_be}")]
#[non_exhaustive]
pub struct TooManyRooms {
    /// The cap.
    pub max: usize,
    /// How many rooms the socket would have been in.
    pub would_be: usize,
}

/// The rooms a socket is in; once closed it can join no more.
#[derive(Default)]
pub(crate) struct Membership {
    /// In join order (`Socket::rooms` lists them so); lookups and joins are O(1).
    rooms: IndexSet<Room>,
    closed: bool,
    /// Whether a join past the cap has been logged for this socket (once is enough).
    warned: bool,
}

impl Membership {
    pub(crate) fn rooms(&self) -> Vec<Room> {
        self.rooms.iter().cloned().collect()
    }

    pub(crate) fn contains(&self, room: &str) -> bool {
        self.rooms.contains(room)
    }

    /// Adds rooms, at most `max` in all; returns those newly joined, and the refusal if some
    /// did not fit. With `whole`, a join that does not fit entirely joins nothing.
    pub(crate) fn add(
        &mut self,
        rooms: &[Room],
        max: usize,
        whole: bool,
    ) -> (Vec<Room>, Option<TooManyRooms>) {
        if self.closed {
            return (Vec::new(), None);
        }
        let mut new: IndexSet<&Room> = IndexSet::new();
        for room in rooms {
            if !self.rooms.contains(room) {
                new.insert(room);
            }
        }
        let would_be = self.rooms.len() + new.len();
        let refusal = (would_be > max).then_some(TooManyRooms { max, would_be });
        let room_left = if whole && refusal.is_some() {
            0
        } else {
            max.saturating_sub(self.rooms.len())
        };
        let added: Vec<Room> = new.into_iter().take(room_left).cloned().collect();
        self.rooms.extend(added.iter().cloned());
        (added, refusal)
    }

    /// Whether to log a refusal at warning level (the first time only).
    pub(crate) fn first_refusal(&mut self) -> bool {
        !std::mem::replace(&mut self.warned, true)
    }

    /// Removes rooms; returns those actually left.
    pub(crate) fn remove(&mut self, rooms: &[Room]) -> Vec<Room> {
        if self.closed {
            return Vec::new();
        }
        // `shift_remove` keeps the join order; it is O(n), n at most the cap.
        rooms
            .iter()
            .filter(|room| self.rooms.shift_remove(room.as_ref()))
            .cloned()
            .collect()
    }

    /// Closes the membership: returns every room, and no room can be joined afterwards. The
    /// set is kept, so that `#[on_disconnect]` hooks can still read it.
    pub(crate) fn close(&mut self) -> Vec<Room> {
        self.closed = true;
        self.rooms()
    }
}

impl Socket {
    /// Adds rooms, up to the cap; returns those newly joined (none once the socket is
    /// closed), and the refusal if some did not fit. With `whole`, all or nothing.
    pub(crate) fn add_membership(
        &self,
        rooms: &[Room],
        whole: bool,
    ) -> (Vec<Room>, Option<TooManyRooms>) {
        let max = self.inner.runtime.config.admission.max_rooms_per_socket;
        let mut membership = lock(&self.inner.membership);
        let (added, refusal) = membership.add(rooms, max, whole);
        if let Some(refusal) = &refusal {
            // The target these lines had before `socket.rs` was split.
            if membership.first_refusal() {
                tracing::warn!(target: "nestgate::socket", socket = %self.id(), max, would_be = refusal.would_be, "a join past max_rooms_per_socket was refused (logged once per socket)");
            } else {
                tracing::debug!(target: "nestgate::socket", socket = %self.id(), max, "a join past max_rooms_per_socket was refused");
            }
        }
        (added, refusal)
    }

    /// Removes rooms; returns those actually left.
    pub(crate) fn remove_membership(&self, rooms: &[Room]) -> Vec<Room> {
        lock(&self.inner.membership).remove(rooms)
    }

    /// Closes the membership: returns every room, and no room can be joined afterwards.
    ///
    /// The list itself is kept, so that `#[on_disconnect]` hooks can still read which rooms the
    /// socket was in (socket.io's `disconnecting`), though it is no longer in any of them.
    pub(crate) fn close_membership(&self) -> Vec<Room> {
        lock(&self.inner.membership).close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(names: &[&'static str]) -> Vec<Room> {
        names.iter().map(|name| Room::Borrowed(name)).collect()
    }

    #[test]
    fn joins_keep_their_order_and_respect_the_cap() {
        let mut membership = Membership::default();
        let (added, refusal) = membership.add(&rooms(&["b", "a", "b"]), 3, false);
        assert_eq!(added, rooms(&["b", "a"]));
        assert!(refusal.is_none());
        // All or nothing: two new rooms do not fit in the one slot left.
        let (added, refusal) = membership.add(&rooms(&["c", "d", "a"]), 3, true);
        assert!(added.is_empty());
        assert_eq!(
            refusal,
            Some(TooManyRooms {
                max: 3,
                would_be: 4
            })
        );
        // What fits.
        let (added, refusal) = membership.add(&rooms(&["c", "d"]), 3, false);
        assert_eq!(added, rooms(&["c"]));
        assert!(refusal.is_some());
        assert_eq!(membership.remove(&rooms(&["a", "x"])), rooms(&["a"]));
        assert_eq!(membership.rooms(), rooms(&["b", "c"]));
        assert!(membership.contains("c") && !membership.contains("a"));
        assert!(membership.first_refusal() && !membership.first_refusal());
        assert_eq!(membership.close(), rooms(&["b", "c"]));
        assert_eq!(
            membership.add(&rooms(&["z"]), 3, false).0,
            Vec::<Room>::new()
        );
    }

    /// 20,000 joins, then 20,000 membership checks: with a set each is O(1), so this is
    /// linear; the old list made it about 2 × 10^8 string comparisons.
    #[test]
    fn twenty_thousand_joins_are_linear() {
        let mut membership = Membership::default();
        let names: Vec<Room> = (0..20_000).map(|n| Room::Owned(format!("r{n}"))).collect();
        for name in &names {
            let (added, refusal) = membership.add(std::slice::from_ref(name), usize::MAX, false);
            assert_eq!(added.len(), 1);
            assert!(refusal.is_none());
        }
        assert!(names.iter().all(|name| membership.contains(name)));
        assert_eq!(membership.rooms().len(), 20_000);
    }
}
