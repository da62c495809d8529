//! One Engine.IO session's Socket.IO side: the CONNECT of each namespace (its guards, then a
//! socket served by the connection driver), the packets in, routed to their namespace's socket,
//! and binary attachments awaited within their bounds.

use super::packet::{self, Kind};
use super::sink::{text_sink, translating_sink};
use super::translate;
use crate::connection::{self, Inbound, Transport};
use crate::engineio::{CloseReason, EngineMessage, EngineSender, EngineSocket};
use crate::guard::HandshakeRequest;
use crate::runtime::Runtime;
use crate::socket::{DisconnectReason, Socket};
use crate::util::queue;
use crate::util::rate::Bucket;
use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The bounds of one session's Socket.IO layer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// How long a session may go without a CONNECT.
    pub(super) connect_timeout: Duration,
    /// The most one packet may hold: its header and all its binary attachments.
    pub(super) max_payload: usize,
    /// How long a packet may wait for its attachments (the Engine.IO `ping_timeout`).
    pub(super) attachment_timeout: Duration,
}

/// A BINARY_EVENT or BINARY_ACK waiting for its attachments.
struct PendingBinary {
    header: String,
    expected: usize,
    attachments: Vec<Bytes>,
    /// The header's and the attachments' bytes so far.
    bytes: usize,
    /// When the packet is dropped (and its session closed) if still incomplete.
    deadline: tokio::time::Instant,
}

/// One Socket.IO client: the namespaces one Engine.IO session is connected to (socketioxide's
/// `Client`; not the Engine.IO `Session` under it).
struct Client {
    runtime: Arc<Runtime>,
    sender: EngineSender,
    /// Each namespace's inbound frames, and its socket (to tell a closed one from a live one).
    namespaces: HashMap<String, (queue::Sender<Result<Inbound, axum::Error>>, Socket)>,
}

/// Handles one Engine.IO session: CONNECT/DISCONNECT per namespace, events and acks routed to
/// each namespace's socket. Returns when the session ends.
pub(super) async fn run(runtime: Arc<Runtime>, mut socket: EngineSocket, limits: Limits) {
    let mut session = Client {
        runtime,
        sender: socket.sender(),
        namespaces: HashMap::new(),
    };
    let mut pending: Option<PendingBinary> = None;
    let mut invalid = false;
    let mut connected_once = false;
    let deadline = tokio::time::sleep(limits.connect_timeout);
    tokio::pin!(deadline);
    // `App::max_messages_per_second`, for the whole session (all its namespaces): past it the
    // session takes no message until the next is due. Engine.IO's control packets (ping, pong,
    // upgrade) are handled by its transports and never wait for this; see `docs/LIMITS.md`.
    let rate = session.runtime.config.message_rate;
    let mut bucket: Option<Box<Bucket>> = None;
    loop {
        let attachments_due = pending.as_ref().map(|pending| pending.deadline);
        let paused_until = bucket
            .as_deref()
            .and_then(|bucket| bucket.pause_until(tokio::time::Instant::now()));
        let payload = tokio::select! {
            payload = socket.recv(), if paused_until.is_none() => payload,
            () = sleep_until(paused_until) => continue,
            () = &mut deadline, if !connected_once => {
                tracing::debug!(sid = socket.id(), "no Socket.IO CONNECT in time: closing the session");
                break;
            }
            () = sleep_until(attachments_due) => {
                tracing::debug!(sid = socket.id(), "binary attachments not sent in time: closing the session");
                invalid = true;
                break;
            }
        };
        if let (Some(rate), Some(EngineMessage::Text(_))) = (rate, &payload) {
            // One token per Socket.IO packet (a packet's binary attachments go with it).
            let now = tokio::time::Instant::now();
            bucket
                .get_or_insert_with(|| Box::new(Bucket::new(rate, now)))
                .take(now);
        }
        let result = match payload {
            None => break,
            Some(EngineMessage::Text(text)) => {
                if pending.is_some() {
                    Err("a text packet while binary attachments were expected")
                } else {
                    session
                        .text(&text, &socket, &mut pending, &mut connected_once, limits)
                        .await
                }
            }
            Some(EngineMessage::Binary(bytes)) => match pending.as_mut() {
                Some(waiting) if waiting.bytes + bytes.len() > limits.max_payload => {
                    Err("binary attachments over maxPayload")
                }
                Some(waiting) => {
                    waiting.bytes += bytes.len();
                    waiting.attachments.push(bytes);
                    if waiting.attachments.len() == waiting.expected {
                        let PendingBinary {
                            header,
                            attachments,
                            ..
                        } = pending.take().expect("checked just above");
                        session.binary(&header, &attachments).await
                    } else {
                        Ok(())
                    }
                }
                None => Err("a binary frame nobody announced"),
            },
        };
        if let Err(reason) = result {
            tracing::debug!(
                sid = socket.id(),
                reason,
                "invalid Socket.IO packet: closing the session"
            );
            invalid = true;
            break;
        }
    }
    socket.close();
    // Every namespace socket of this session ends, learning why (for `#[on_disconnect]`).
    let reason = if invalid {
        CloseReason::InvalidPacket
    } else {
        socket.close_reason().unwrap_or(CloseReason::TransportClose)
    };
    let reason = disconnect_reason(reason);
    for (_, (inbound, _)) in session.namespaces.drain() {
        let _ = inbound.try_send(Err(axum::Error::new(connection::Ended(reason.clone()))));
    }
}

/// Completes at `deadline`; never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Why a namespace socket ended when its Engine.IO session did: the reason its
/// `#[on_disconnect]` hooks see, sent as the last item of its stream ([`connection::Ended`]).
fn disconnect_reason(reason: CloseReason) -> DisconnectReason {
    match reason {
        CloseReason::ClientClose => DisconnectReason::ClientClose,
        CloseReason::PingTimeout => DisconnectReason::HeartbeatTimeout,
        CloseReason::TooLarge => DisconnectReason::MessageTooLarge,
        CloseReason::SlowClient => DisconnectReason::SlowConsumer,
        CloseReason::TransportClose | CloseReason::InvalidPacket | CloseReason::ServerClose => {
            DisconnectReason::TransportError
        }
    }
}

impl Client {
    async fn text(
        &mut self,
        text: &Utf8Bytes,
        socket: &EngineSocket,
        pending: &mut Option<PendingBinary>,
        connected_once: &mut bool,
        limits: Limits,
    ) -> Result<(), &'static str> {
        let packet = packet::decode(text).map_err(|_| "not a Socket.IO packet")?;
        match packet.kind {
            Kind::Connect => {
                *connected_once = true;
                // Boxed: the guards' futures are large, and a session waits for its messages
                // far longer than it connects; unboxed, every idle session would keep their room.
                Box::pin(self.connect(packet.nsp, packet.data, socket)).await;
                Ok(())
            }
            Kind::Disconnect => {
                // Dropping the sender ends that socket's stream: a client disconnect.
                self.namespaces.remove(packet.nsp);
                Ok(())
            }
            Kind::BinaryEvent | Kind::BinaryAck if packet.attachments > 0 => {
                *pending = Some(PendingBinary {
                    header: text.as_str().to_owned(),
                    expected: packet.attachments,
                    attachments: Vec::with_capacity(packet.attachments),
                    bytes: text.len(),
                    deadline: tokio::time::Instant::now() + limits.attachment_timeout,
                });
                Ok(())
            }
            _ => {
                let inbound = match translate::decoded(&packet, text) {
                    Ok(Some((frame, decoded))) => Inbound::Decoded(frame, decoded),
                    Ok(None) => Inbound::Message(Message::Text(
                        translate::incoming(&packet, &[])
                            .map_err(|_| "malformed arguments")?
                            .into(),
                    )),
                    Err(_) => return Err("malformed arguments"),
                };
                self.route(packet.nsp, inbound).await;
                Ok(())
            }
        }
    }

    async fn binary(&mut self, header: &str, attachments: &[Bytes]) -> Result<(), &'static str> {
        let packet = packet::decode(header).map_err(|_| "not a Socket.IO packet")?;
        // With its attachments, as a ws-json frame (the bytes become `{"$binary": ...}`).
        let frame = translate::incoming(&packet, attachments).map_err(|_| "malformed arguments")?;
        self.route(packet.nsp, Inbound::Message(Message::Text(frame.into())))
            .await;
        Ok(())
    }

    /// An EVENT or ACK, to its namespace's socket.
    async fn route(&mut self, nsp: &str, frame: Inbound) {
        let Some((inbound, _)) = self.namespaces.get(nsp) else {
            tracing::debug!(
                nsp,
                "a packet for a namespace this client is not connected to"
            );
            return;
        };
        if inbound.send(Ok(frame)).await.is_err() {
            // The server closed that socket; the client will learn it from the DISCONNECT.
            self.namespaces.remove(nsp);
        }
    }

    /// CONNECT to a namespace: guards, then a socket served by the core.
    async fn connect(&mut self, nsp: &str, auth: &str, engine_socket: &EngineSocket) {
        let runtime = self.runtime.clone();
        // The guards run before the namespace is looked up: for a dynamic gateway's path that
        // lookup makes a namespace, which only a client that passed them may do.
        let Some(guards) = runtime.handshake_guards(nsp) else {
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        match self.namespaces.get(nsp) {
            Some((_, socket)) if socket.connected() => return,
            // The server closed that socket (a kick, an expired token: its DISCONNECT went out
            // first): the client may connect again on the same session.
            Some(_) => {
                self.namespaces.remove(nsp);
            }
            None => {}
        }
        let auth: Option<serde_json::Value> = if auth.is_empty() {
            None
        } else {
            serde_json::from_str(auth).ok()
        };
        let mut handshake = engine_socket.handshake().clone();
        handshake.auth = auth.map(Box::new);
        let mut request = HandshakeRequest::new(handshake, Some(runtime.state.clone()));
        if let Err(rejection) = crate::guard::check_all(guards, &mut request).await {
            let data = serde_json::json!({"status": rejection.status().as_u16()});
            self.connect_error(nsp, rejection.message(), Some(data));
            return;
        }
        let Some(namespace) = runtime.namespace(nsp) else {
            // Too many dynamic namespaces.
            self.connect_error(nsp, "Invalid namespace", None);
            return;
        };
        let socket = Socket::accept(request, namespace.clone(), runtime.clone());
        // The namespace's own cache: shared by its sockets, gone with it.
        let translation = namespace.translation().clone();
        // Frames go straight to the session, translated on the sending task: no second
        // queue and no writer task hop per frame.
        socket.set_text_sink(text_sink(
            self.sender.clone(),
            nsp.to_owned(),
            translation.clone(),
        ));
        // The CONNECT answer goes before anything the connection hooks emit.
        let reply = serde_json::json!({"sid": socket.id()}).to_string();
        let _ = self.sender.send(EngineMessage::text(packet::encode(
            Kind::Connect,
            nsp,
            None,
            0,
            &reply,
        )));
        let (inbound, receiver) = queue::channel(runtime.config.max_in_flight.max(1));
        self.namespaces
            .insert(nsp.to_owned(), (inbound, socket.clone()));
        let transport = Transport {
            stream: tokio_stream_of(receiver),
            sink: translating_sink(self.sender.clone(), nsp.to_owned(), translation),
            heartbeat: false,
            close_handshake: false,
            // The inbound rate limit is the session's (above): a namespace socket that paused
            // here would stall the whole session behind it.
            rate_limit: false,
            // Its frames go through the text sink; the queue only carries its close.
            writer_task: false,
        };
        runtime.connections.spawn(connection::serve(
            socket,
            transport,
            runtime.clone(),
            namespace,
        ));
    }

    fn connect_error(&self, nsp: &str, message: &str, data: Option<serde_json::Value>) {
        let mut body = serde_json::json!({"message": message});
        if let Some(data) = data {
            body["data"] = data;
        }
        let packet = packet::encode(Kind::ConnectError, nsp, None, 0, &body.to_string());
        let _ = self.sender.send(EngineMessage::text(packet));
    }
}

/// The stream of ws-json frames the session routes to one namespace socket.
fn tokio_stream_of(
    mut receiver: queue::Receiver<Result<Inbound, axum::Error>>,
) -> impl futures_util::Stream<Item = Result<Inbound, axum::Error>> + Unpin + Send {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
