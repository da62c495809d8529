//! Who is told of each socket's life: connected, disconnected, joining and leaving rooms, on
//! every path. The Socket.IO Admin UI's server side ([`admin`](crate::admin)) is one; nothing is
//! called when there is none.

use crate::socket::{DisconnectReason, Socket};

/// Told of each socket's life, synchronously, on the task that changed it: an observer must
/// not block (queue what it does).
pub(crate) trait Observer: Send + Sync + 'static {
    /// A socket was registered (its hooks let it in).
    fn connected(&self, socket: &Socket);
    /// A registered socket ended.
    fn disconnected(&self, socket: &Socket, reason: &DisconnectReason);
    /// A socket joined `room`.
    fn joined(&self, socket: &Socket, room: &str);
    /// A socket left `room` (also when it disconnects).
    fn left(&self, socket: &Socket, room: &str);
}
