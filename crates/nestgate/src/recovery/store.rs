//! The seam for a recovery that lives outside this process: what a cluster adapter implements
//! so that a client lost by one node recovers on another ([`Adapter::recovery`]).
//!
//! A [`RecoveryStore`] owns a namespace's log and its sessions, and decides the order in which
//! stored messages reach this node's sockets: every stored message (a broadcast or an emit to
//! one socket) goes to [`append`](RecoveryStore::append) and comes back, stamped with its
//! offset ([`stamp`]), to the sockets it targets on every node, in log order. A socket is
//! registered in that same order ([`register`](RecoveryStore::register)), which is what makes a
//! replay exact: what the log held before the registration is replayed, what comes after is
//! delivered live, nothing twice, nothing missing.
//!
//! [`Adapter::recovery`]: crate::adapter::Adapter::recovery

use super::{NotRecovered, RecoveryStats, Registration};
use crate::adapter::{AdapterError, BroadcastOptions, Room};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Whom a stored message was for: the targets of its emit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredTarget {
    /// The rooms (a socket id is a room too); empty: every socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<Room>,
    /// Left out: sockets in these rooms, or with these ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<Room>,
    /// Left out: the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Sent to the socket of `rooms[0]` alone (`socket.emit`, an event reply).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
    /// Only the sockets of the node that sent it (`server.local()`): other nodes store it
    /// (a socket it reached may recover elsewhere) but do not deliver it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
}

impl StoredTarget {
    /// The targets of an emit through the adapter.
    pub fn of(options: &BroadcastOptions) -> Self {
        StoredTarget {
            rooms: options.rooms.clone(),
            except: options.except.clone(),
            sender: options.sender.clone(),
            direct: false,
            local: options.local,
        }
    }

    /// One socket, sent to directly.
    pub fn socket(id: &str) -> Self {
        StoredTarget {
            rooms: vec![std::borrow::Cow::Owned(id.to_owned())],
            direct: true,
            ..StoredTarget::default()
        }
    }

    /// The options that deliver it to this node's sockets.
    pub fn options(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            sender: self.sender.clone(),
            local: true,
            volatile: false,
        }
    }

    /// Whether the socket `id`, in `rooms`, was one of the recipients.
    pub fn reaches(&self, id: &str, rooms: &[Room]) -> bool {
        let is = |room: &Room| room.as_ref() == id || rooms.contains(room);
        if self.sender.as_deref() == Some(id) || self.except.iter().any(is) {
            return false;
        }
        self.rooms.is_empty() || self.rooms.iter().any(is)
    }
}

/// What a socket was, as a store keeps it: enough to be it again on any node (its extensions,
/// arbitrary Rust values, stay in the process that made them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionState {
    /// Its id, which the recovered socket keeps.
    pub id: String,
    /// Its rooms (not the one named by its id).
    pub rooms: Vec<Room>,
    /// The offset it was registered at: where a client that got no stored message since is
    /// recovered from.
    pub since: String,
}

impl SessionState {
    /// A socket's state.
    pub fn new(id: impl Into<String>, rooms: Vec<Room>, since: impl Into<String>) -> Self {
        SessionState {
            id: id.into(),
            rooms,
            since: since.into(),
        }
    }
}

/// A session taken by a reconnecting client, and the offset to replay from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claimed {
    /// What the socket was.
    pub state: SessionState,
    /// The last offset the client got (its `since` when it presented none).
    pub offset: String,
}

impl Claimed {
    /// A claim.
    pub fn new(state: SessionState, offset: impl Into<String>) -> Self {
        Claimed {
            state,
            offset: offset.into(),
        }
    }
}

/// Whom [`RecoveryStore::register`] registers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Start {
    /// A new socket: registered at the newest offset, nothing replayed.
    Fresh,
    /// A claimed session: the messages after `offset` that reach `id` or one of `rooms` are
    /// replayed, at most `capacity` (frames, bytes) of them, else [`NotRecovered::Overflow`].
    Recovering {
        /// The socket's id.
        id: String,
        /// Its rooms.
        rooms: Vec<Room>,
        /// The client's offset.
        offset: String,
        /// How much the socket's outbound queue holds.
        capacity: (usize, usize),
    },
}

/// A namespace's log and sessions kept outside this process (see the [module](self)).
pub trait RecoveryStore: Send + Sync + 'static {
    /// A new private session id. A store may put in it what it needs to find the session
    /// again (the node that holds it).
    fn new_session(&self) -> String;

    /// Stores `frame` (a ws-json event object, as `{"event":…,"data":…}`) for `target`, then
    /// delivers it, stamped with its offset, to the sockets it targets on every node (this
    /// one included), in log order.
    fn append(&self, frame: String, target: StoredTarget) -> Result<(), AdapterError>;

    /// Takes the session a reconnecting client presents, if it can be recovered from `offset`
    /// (`None`: from its `since`); afterwards no one else can take it.
    fn claim<'a>(
        &'a self,
        session: &'a str,
        offset: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Claimed, NotRecovered>>;

    /// Calls `register` in log order with what the socket is told: the offset to present next
    /// time and, for a claimed session, the frames it missed. `register` makes the socket a
    /// broadcast target before it returns.
    fn register(
        &self,
        start: Start,
        register: Box<dyn FnOnce(Registration) + Send>,
    ) -> BoxFuture<'_, ()>;

    /// A registered socket's session, and each change of its rooms since: what is recovered
    /// if this process dies without saving it.
    fn live(&self, session: &str, state: SessionState);

    /// The session of a socket whose connection was lost, to be claimed within the window.
    fn save(&self, session: &str, state: SessionState);

    /// The session of a socket closed on purpose: it will not be recovered.
    fn forget(&self, session: &str);

    /// What it holds and has done, as far as this node knows.
    fn stats(&self) -> RecoveryStats;
}

/// `frame`, an event frame as [`RecoveryStore::append`] takes it, with `"offset":<offset>` at
/// its end: what the sockets get.
pub fn stamp(frame: &str, offset: &str) -> String {
    crate::protocol::with_offset(frame.to_owned(), offset)
}
