//! A ws-json socket's part in connection-state recovery ([`crate::recovery`]): registered
//! with its session (and what it missed, when it recovers one), and its session kept when its
//! connection is lost.

use crate::adapter::Room;
use crate::namespace::Namespace;
use crate::protocol;
use crate::recovery::{Attempt, NotRecovered, Outcome, Saved, SessionId};
use crate::socket::{DisconnectReason, Socket};
use serde::Serialize;

/// The data of `nestgate:connected`.
#[derive(Serialize)]
struct Connected<'a> {
    id: &'a str,
    session: &'a str,
    offset: &'a str,
    recovered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<NotRecovered>,
}

/// Makes `socket` a broadcast target: at once without recovery; with it, under the log's lock,
/// after telling the client its session, with what it missed.
pub(crate) fn register(socket: &Socket, namespace: &Namespace, attempt: Option<Box<Attempt>>) {
    let (Some(recovery), Some(attempt)) = (namespace.recovery(), attempt) else {
        namespace.store().insert(socket.clone());
        return;
    };
    let session = match &*attempt {
        Attempt::Claimed(claim) => claim.session.clone(),
        _ => crate::util::id::new_id(),
    };
    socket.insert_extension(SessionId(session.clone()));
    let config = &socket.runtime().config;
    let capacity = (config.outbound_queue, config.outbound_queue_bytes);
    recovery.register(&attempt, capacity, |registration| {
        let store = namespace.store();
        let (recovered, reason) = match &registration.outcome {
            Outcome::Recovered(_) => (true, None),
            Outcome::Fresh(reason) => (false, *reason),
        };
        if let (Attempt::Claimed(claim), true) = (&*attempt, recovered) {
            store.join(socket, &claim.saved.rooms);
        }
        let connected = Connected {
            id: socket.id(),
            session: &session,
            offset: &registration.offset,
            recovered,
            reason,
        };
        match protocol::encode_event(protocol::CONNECTED_EVENT, &connected) {
            Ok(frame) => {
                let _ = socket.send_text(frame.into());
            }
            // Strings and a bool: serializing cannot fail; if it ever did, the client only
            // misses its session.
            Err(err) => tracing::error!(%err, "cannot encode nestgate:connected"),
        }
        if let Outcome::Recovered(missed) = registration.outcome {
            for frame in missed {
                let _ = socket.send_text(frame);
            }
        }
        store.insert(socket.clone());
    });
}

/// Whether a connection that ended so may be recovered: it was lost, not closed on purpose.
fn recoverable(cause: &DisconnectReason) -> bool {
    matches!(
        cause,
        DisconnectReason::TransportError
            | DisconnectReason::HeartbeatTimeout
            | DisconnectReason::ServerShutdown
    )
}

/// Keeps the session of a socket whose connection was lost (`rooms`: those it was in).
pub(crate) fn save(
    socket: &Socket,
    namespace: &Namespace,
    rooms: Vec<Room>,
    cause: &DisconnectReason,
) {
    let Some(recovery) = namespace.recovery() else {
        return;
    };
    if !recoverable(cause) {
        return;
    }
    let Some(SessionId(session)) = socket.extension::<SessionId>() else {
        return;
    };
    let saved = Saved {
        id: socket.shared_id(),
        rooms,
        extensions: socket.extensions_snapshot(),
    };
    recovery.save(session, saved);
}
