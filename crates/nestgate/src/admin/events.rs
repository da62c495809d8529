//! What the Admin UI is told as it happens: sockets connecting and leaving, rooms joined and
//! left (development mode), and the counts per second the stats carry (both modes).

use super::{Admin, NAMESPACE, serialize};
use crate::extract::Args;
use crate::observer::Observer;
use crate::server::Server;
use crate::socket::{DisconnectReason, Socket};
use crate::util::sync::lock;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Distinct (second, type, sub-type) counts kept between two stats, at most (a few are made
/// per second: this bounds a stats task that stopped).
const MAX_BUFFERED: usize = 1024;

/// The UI's "aggregated events": counts per second and type, drained by each stats.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    counts: Vec<(u64, &'static str, Option<&'static str>, u64)>,
}

impl Buffer {
    fn push(&mut self, kind: &'static str, sub: Option<&'static str>) {
        let second = unix_ms() / 1000 * 1000;
        let full = self.counts.len() >= MAX_BUFFERED;
        match self
            .counts
            .iter_mut()
            .find(|(at, k, s, _)| *at == second && *k == kind && *s == sub)
        {
            Some(entry) => entry.3 += 1,
            None if !full => self.counts.push((second, kind, sub, 1)),
            None => {}
        }
    }

    /// The counts since the last call, as the UI reads them.
    pub(crate) fn drain(&mut self) -> Vec<Value> {
        self.counts
            .drain(..)
            .map(|(timestamp, kind, sub, count)| {
                json!({"timestamp": timestamp, "type": kind, "subType": sub, "count": count})
            })
            .collect()
    }
}

/// Tells the admin namespace of every socket's life.
#[derive(Debug)]
pub(crate) struct AdminObserver(pub(crate) Admin);

impl AdminObserver {
    fn verbose(&self) -> bool {
        !self.0.0.config.production
    }

    fn count(&self, kind: &'static str, sub: Option<&'static str>) {
        lock(&self.0.0.buffer).push(kind, sub);
    }
}

/// Sends `event` with `args` to the UI's sockets.
pub(super) fn tell(socket: &Socket, event: &str, args: Vec<Value>) {
    let runtime = socket.runtime();
    let Some(namespace) = runtime.namespaces.get(NAMESPACE) else {
        return;
    };
    let server = Server::new(namespace.clone(), runtime.clone());
    if let Err(err) = server.emit(event, &Args(args)) {
        tracing::debug!(%err, event, "cannot tell the admin UI");
    }
}

/// The transport the UI shows for every socket: ws-json is always a WebSocket; a Socket.IO
/// socket's Engine.IO transport is not the socket's to know, and it is a WebSocket once
/// upgraded.
pub(super) const TRANSPORT: &str = "websocket";

impl Observer for AdminObserver {
    fn connected(&self, socket: &Socket) {
        self.count("rawConnection", None);
        if self.verbose() {
            let serialized = serialize::socket(&socket.info(), TRANSPORT);
            tell(socket, "socket_connected", vec![serialized, now()]);
        }
    }

    fn disconnected(&self, socket: &Socket, reason: &DisconnectReason) {
        let reason = socket_io_reason(reason);
        self.count("rawDisconnection", Some(reason));
        if self.verbose() {
            let args = vec![
                json!(socket.path()),
                json!(socket.id()),
                json!(reason),
                now(),
            ];
            tell(socket, "socket_disconnected", args);
        }
    }

    fn joined(&self, socket: &Socket, room: &str) {
        if self.verbose() {
            let args = vec![json!(socket.path()), json!(room), json!(socket.id()), now()];
            tell(socket, "room_joined", args);
        }
    }

    fn left(&self, socket: &Socket, room: &str) {
        if self.verbose() {
            let args = vec![json!(socket.path()), json!(room), json!(socket.id()), now()];
            tell(socket, "room_left", args);
        }
    }
}

/// A disconnection's reason in socket.io's words, where it has one.
fn socket_io_reason(reason: &DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::ClientClose => "client namespace disconnect",
        DisconnectReason::TransportError => "transport close",
        DisconnectReason::HeartbeatTimeout => "ping timeout",
        DisconnectReason::ServerShutdown => "server shutting down",
        DisconnectReason::Kicked => "server namespace disconnect",
        other => other.label(),
    }
}

pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Now, as JavaScript's `Date` serializes (`2026-12-04T19:00:00.000Z`).
pub(super) fn now() -> Value {
    Value::String(iso(unix_ms()))
}

fn iso(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_as_javascript_writes_dates() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso(1_796_411_445_123), "2026-12-04T19:10:45.123Z");
        assert_eq!(super::iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
