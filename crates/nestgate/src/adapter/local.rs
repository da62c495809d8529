//! The in-memory store of a namespace's sockets and rooms, and the adapter over it alone.

use super::{Adapter, AdapterError, BroadcastOptions, Frame, Room, SocketInfo};
use crate::ack::AckStream;
use crate::socket::{DisconnectReason, Shared, Socket, TooManyRooms};
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// This process's sockets of one namespace and their rooms.
///
/// Both tables are sharded maps, so broadcasts to different rooms, joins and disconnects do not
/// contend on one lock. Rooms hold the sockets themselves: a broadcast reaches each member
/// without a second lookup. An empty room is removed when its last member leaves.
pub struct LocalStore {
    path: Box<str>,
    sockets: DashMap<Arc<str>, Socket>,
    rooms: DashMap<Room, HashMap<Arc<str>, Socket>>,
    /// Its path's metrics: what broadcasts send is counted here, once per broadcast.
    metrics: Arc<crate::metrics::PathMetrics>,
}

impl LocalStore {
    pub(crate) fn new(path: &str, metrics: Arc<crate::metrics::PathMetrics>) -> Self {
        LocalStore {
            path: path.into(),
            sockets: DashMap::new(),
            rooms: DashMap::new(),
            metrics,
        }
    }

    /// The namespace's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Adds a connected socket.
    pub(crate) fn insert(&self, socket: Socket) {
        if self.sockets.insert(socket.shared_id(), socket).is_none() {
            self.metrics.sockets(1.0);
        }
    }

    /// Removes a socket and its room memberships; it can join no room afterwards.
    pub(crate) fn remove(&self, socket: &Socket) {
        if self.sockets.remove(socket.id()).is_some() {
            self.metrics.sockets(-1.0);
        }
        let observer = socket.runtime().observer.as_ref();
        for room in socket.close_membership() {
            self.remove_member(&room, socket.id());
            if let Some(observer) = observer {
                observer.left(socket, &room);
            }
        }
    }

    /// The connected socket with this id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.sockets.get(id).map(|entry| entry.value().clone())
    }

    /// How many sockets are connected to this process.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Whether no socket is connected to this process.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Every room with at least one local member.
    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.iter().map(|entry| entry.key().clone()).collect()
    }

    /// Makes a local socket join rooms (ignored once the socket is closing); past
    /// [`App::max_rooms_per_socket`](crate::App::max_rooms_per_socket), only those that fit.
    pub fn join(&self, socket: &Socket, rooms: &[Room]) {
        let (added, _) = socket.add_membership(rooms, false);
        let changed = !added.is_empty();
        self.add_members(socket, added);
        if changed {
            socket.rooms_changed();
        }
    }

    /// Joins all these rooms, or none if they do not all fit under the cap.
    pub(crate) fn try_join(&self, socket: &Socket, rooms: &[Room]) -> Result<(), TooManyRooms> {
        let (added, refusal) = socket.add_membership(rooms, true);
        let changed = !added.is_empty();
        self.add_members(socket, added);
        if changed {
            socket.rooms_changed();
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Puts a socket in the store's rooms for every room it is in: a recovered socket, whose
    /// rooms came back before it was registered.
    pub(crate) fn add_to_its_rooms(&self, socket: &Socket) {
        self.add_members(socket, socket.rooms());
    }

    fn add_members(&self, socket: &Socket, rooms: Vec<Room>) {
        let observer = socket.runtime().observer.as_ref();
        for room in rooms {
            if let Some(observer) = observer {
                observer.joined(socket, &room);
            }
            let mut members = self.rooms.entry(room).or_insert_with(|| {
                self.metrics.rooms(1.0);
                HashMap::new()
            });
            members.insert(socket.shared_id(), socket.clone());
        }
    }

    /// Makes a local socket leave rooms.
    pub fn leave(&self, socket: &Socket, rooms: &[Room]) {
        let mut changed = false;
        let observer = socket.runtime().observer.as_ref();
        for room in socket.remove_membership(rooms) {
            self.remove_member(&room, socket.id());
            if let Some(observer) = observer {
                observer.left(socket, &room);
            }
            changed = true;
        }
        if changed {
            socket.rooms_changed();
        }
    }

    fn remove_member(&self, room: &str, id: &str) {
        // Removes the room with its last member, atomically with respect to other joins.
        let removed = self.rooms.remove_if_mut(room, |_, members| {
            members.remove(id);
            members.is_empty()
        });
        if removed.is_some() {
            self.metrics.rooms(-1.0);
        }
    }

    /// Calls `f` once for every local socket the options target. `f` runs under a shard's read
    /// lock: it must not join, leave or remove sockets.
    pub fn for_each_target(&self, options: &BroadcastOptions, mut f: impl FnMut(&Socket)) {
        let excluded = self.excluded(options);
        let skip = |socket: &Socket| {
            excluded
                .as_ref()
                .is_some_and(|ids| ids.contains(socket.id()))
        };
        match options.rooms.as_slice() {
            [] => {
                for entry in &self.sockets {
                    if !skip(entry.value()) {
                        f(entry.value());
                    }
                }
            }
            [room] => {
                let members = self.rooms.get(room.as_ref());
                let mut member_of_room = false;
                if let Some(members) = &members {
                    for socket in members.values() {
                        member_of_room |= socket.id() == room.as_ref();
                        if !skip(socket) {
                            f(socket);
                        }
                    }
                }
                // A socket is also reachable by its id.
                if !member_of_room
                    && let Some(socket) = self.sockets.get(room.as_ref())
                    && !skip(socket.value())
                {
                    f(socket.value());
                }
            }
            rooms => {
                let mut seen: HashSet<Arc<str>> = HashSet::new();
                for room in rooms {
                    if let Some(members) = self.rooms.get(room.as_ref()) {
                        for socket in members.values() {
                            if !skip(socket) && seen.insert(socket.shared_id()) {
                                f(socket);
                            }
                        }
                    }
                    if let Some(socket) = self.sockets.get(room.as_ref())
                        && !skip(socket.value())
                        && seen.insert(socket.shared_id())
                    {
                        f(socket.value());
                    }
                }
            }
        }
    }

    /// The targeted local sockets.
    pub fn targets(&self, options: &BroadcastOptions) -> Vec<Socket> {
        let mut targets = Vec::new();
        self.for_each_target(options, |socket| targets.push(socket.clone()));
        targets
    }

    /// The ids left out by `except` and `sender`.
    fn excluded(&self, options: &BroadcastOptions) -> Option<HashSet<Arc<str>>> {
        if options.except.is_empty() && options.sender.is_none() {
            return None;
        }
        let mut ids: HashSet<Arc<str>> = HashSet::new();
        if let Some(sender) = &options.sender {
            ids.insert(Arc::from(sender.as_str()));
        }
        for room in &options.except {
            if let Some(members) = self.rooms.get(room.as_ref()) {
                ids.extend(members.keys().cloned());
            }
            ids.insert(Arc::from(room.as_ref()));
        }
        Some(ids)
    }

    /// Sends a frame to the targeted local sockets; returns how many it was queued for.
    pub fn broadcast(&self, frame: &Frame, options: &BroadcastOptions) -> usize {
        let mut sent = 0;
        let shared = Shared::default();
        self.for_each_target(options, |socket| {
            if socket.send_frame(frame.clone(), options.volatile, Some(&shared)) {
                sent += 1;
            }
        });
        self.metrics.sent(sent, frame.len());
        sent
    }

    /// Sends a frame with ack id `ack_id` to the targeted local sockets and collects their answers.
    pub fn broadcast_with_ack(
        &self,
        frame: &Frame,
        ack_id: u64,
        options: &BroadcastOptions,
        timeout: Duration,
    ) -> AckStream {
        let targets = self.targets(options);
        let (sender, receiver) = mpsc::channel(targets.len().max(1));
        let mut waiting = Vec::with_capacity(targets.len());
        let mut failed = Vec::new();
        let shared = Shared::default();
        for socket in targets {
            socket.expect_ack(ack_id, sender.clone());
            if socket.send_frame(frame.clone(), options.volatile, Some(&shared)) {
                waiting.push(socket);
            } else {
                socket.forget_ack(ack_id);
                failed.push(socket.shared_id());
            }
        }
        super::acks::local_acks(
            receiver,
            ack_id,
            waiting,
            failed,
            tokio::time::Instant::now() + timeout,
        )
    }

    /// The targeted local sockets, described.
    pub fn fetch(&self, options: &BroadcastOptions) -> Vec<SocketInfo> {
        let mut sockets = Vec::new();
        self.for_each_target(options, |socket| sockets.push(socket.info()));
        sockets
    }

    /// How many local sockets are targeted.
    pub fn count(&self, options: &BroadcastOptions) -> usize {
        let mut count = 0;
        self.for_each_target(options, |_| count += 1);
        count
    }

    /// Makes the targeted local sockets join rooms.
    pub fn add_sockets(&self, options: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(options) {
            self.join(&socket, rooms);
        }
    }

    /// Makes the targeted local sockets leave rooms.
    pub fn del_sockets(&self, options: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(options) {
            self.leave(&socket, rooms);
        }
    }

    /// Closes the targeted local sockets.
    pub fn disconnect(&self, options: &BroadcastOptions, code: u16, reason: &str) {
        for socket in self.targets(options) {
            socket.close_with(DisconnectReason::Kicked, code, reason);
        }
    }
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .field("sockets", &self.sockets.len())
            .field("rooms", &self.rooms.len())
            .finish()
    }
}

/// The in-memory adapter: one process, nothing to fan out. The default.
#[derive(Debug)]
pub struct LocalAdapter {
    store: Arc<LocalStore>,
}

impl LocalAdapter {
    /// The adapter over a namespace's store.
    pub fn new(store: Arc<LocalStore>) -> Self {
        LocalAdapter { store }
    }

    /// The builder [`App`](crate::App) uses when no other adapter is set.
    pub fn builder() -> impl super::AdapterBuilder {
        |_: &str, store: Arc<LocalStore>| -> Arc<dyn Adapter> { Arc::new(LocalAdapter::new(store)) }
    }
}

impl Adapter for LocalAdapter {
    fn store(&self) -> &Arc<LocalStore> {
        &self.store
    }

    fn broadcast(&self, frame: Frame, options: &BroadcastOptions) -> Result<(), AdapterError> {
        self.store.broadcast(&frame, options);
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        frame: Frame,
        ack_id: u64,
        options: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<AckStream, AdapterError>> {
        let stream = self
            .store
            .broadcast_with_ack(&frame, ack_id, &options, timeout);
        Box::pin(async move { Ok(stream) })
    }

    fn fetch_sockets(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        let sockets = self.store.fetch(&options);
        Box::pin(async move { Ok(sockets) })
    }

    fn sockets_count(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        let count = self.store.count(&options);
        Box::pin(async move { Ok(count) })
    }

    fn add_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.add_sockets(&options, &rooms);
        Box::pin(async { Ok(()) })
    }

    fn del_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.del_sockets(&options, &rooms);
        Box::pin(async { Ok(()) })
    }

    fn disconnect_sockets(
        &self,
        options: BroadcastOptions,
        code: u16,
        reason: String,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.disconnect(&options, code, &reason);
        Box::pin(async { Ok(()) })
    }

    fn rooms(&self, _local: bool) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>> {
        let rooms = self.store.rooms();
        Box::pin(async move { Ok(rooms) })
    }
}
