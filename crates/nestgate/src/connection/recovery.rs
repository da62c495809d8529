//! A ws-json socket's part in connection-state recovery ([`crate::recovery`]): registered
//! with its session (and what it missed, when it recovers one), and its session kept when its
//! connection is lost.

use crate::adapter::Room;
use crate::guard::HandshakeRequest;
use crate::namespace::Namespace;
use crate::protocol;
use crate::recovery::{Attempt, NotRecovered, Outcome, Recovery, Saved, SessionId};
use crate::runtime::Runtime;
use crate::socket::{DisconnectReason, Socket};
use serde::Serialize;
use std::sync::Arc;

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

/// A connection that takes part in recovery: what it brought, and its session.
#[derive(Debug)]
pub(crate) struct Recovering {
    pub(crate) attempt: Attempt,
    /// The session it recovered, or its new one.
    pub(crate) session: Arc<str>,
    /// Tell the client with `nestgate:connected` (ws-json); a Socket.IO client had its session
    /// in the CONNECT answer.
    pub(crate) announce: bool,
}

impl Recovering {
    pub(crate) fn new(recovery: &Recovery, attempt: Attempt, announce: bool) -> Box<Self> {
        let session = match &attempt {
            Attempt::Claimed(claim) => claim.session.clone(),
            _ => recovery.new_session(),
        };
        Box::new(Recovering {
            attempt,
            session,
            announce,
        })
    }
}

/// The socket of a request its guards let in: the lost one's again when `recovering` claimed
/// a session, a new one otherwise ([`Socket::accept`]).
pub(crate) fn accept(
    request: HandshakeRequest,
    recovering: Option<&Recovering>,
    namespace: Arc<Namespace>,
    runtime: Arc<Runtime>,
) -> Socket {
    match recovering.map(|recovering| &recovering.attempt) {
        Some(Attempt::Claimed(claim)) => Socket::recover(request, &claim.saved, namespace, runtime),
        _ => Socket::accept(request, namespace, runtime),
    }
}

/// Makes `socket` a broadcast target: at once without recovery; with it, in log order, after
/// telling the client its session (ws-json), with what it missed.
pub(crate) async fn register(
    socket: &Socket,
    namespace: &Namespace,
    recovering: Option<Box<Recovering>>,
) {
    let (Some(recovery), Some(recovering)) = (namespace.recovery(), recovering) else {
        namespace.store().insert(socket.clone());
        return;
    };
    let Recovering {
        attempt,
        session,
        announce,
    } = *recovering;

    let config = &socket.runtime().config;
    let capacity = (config.outbound_queue, config.outbound_queue_bytes);
    let lost_rooms = match &attempt {
        Attempt::Claimed(claim) => Some(claim.saved.rooms.clone()),
        _ => None,
    };
    let store = namespace.store().clone();
    // Owned by the registration, which may run on another task (a store's reader).
    let (socket, live) = (socket.clone(), recovery.clone());
    let register = move |registration: crate::recovery::Registration| {
        let (recovered, reason) = match &registration.outcome {
            Outcome::Recovered(_) => (true, None),
            Outcome::Fresh(reason) => (false, *reason),
        };
        let id = SessionId {
            session: session.clone(),
            since: Arc::from(registration.offset.as_str()),
        };
        socket.insert_extension(id.clone());
        if let Some(rooms) = &lost_rooms {
            if recovered {
                store.add_to_its_rooms(&socket);
            } else {
                // Trimmed while its hooks ran: it starts fresh, out of the rooms it had.
                socket.remove_membership(rooms);
            }
        }
        if announce {
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
                // Strings and a bool: serializing cannot fail; if it ever did, the client
                // only misses its session.
                Err(err) => tracing::error!(%err, "cannot encode nestgate:connected"),
            }
        }
        if let Outcome::Recovered(missed) = registration.outcome {
            for frame in missed {
                let _ = socket.send_text(frame);
            }
        }
        store.insert(socket.clone());
        live.live(&id, socket.id(), || socket.rooms());
    };
    recovery.register(&attempt, capacity, register).await;
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

/// Keeps the session of a socket whose connection was lost (`rooms`: those it was in); its
/// namespace lives while the session waits (a dynamic path's would go with its last socket).
pub(crate) fn save(
    socket: &Socket,
    namespace: &Arc<Namespace>,
    rooms: Vec<Room>,
    cause: &DisconnectReason,
) {
    let Some(recovery) = namespace.recovery() else {
        return;
    };
    let Some(SessionId { session, since }) = socket.extension::<SessionId>() else {
        return;
    };
    if !recoverable(cause) {
        recovery.forget(&session);
        return;
    }
    let saved = Saved {
        id: socket.shared_id(),
        rooms,
        extensions: socket.extensions_snapshot(),
        since,
    };
    recovery.save(session, saved, namespace.clone());
}
