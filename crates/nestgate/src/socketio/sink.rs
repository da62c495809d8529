//! What a Socket.IO socket sends, on its way to the Engine.IO session: the socket's text sink
//! (its frames go straight to the session, translated on the sending task, a broadcast's once
//! for all its recipients), and the sink the connection driver writes the rest (the close) to.

use super::packet::{self, Kind};
use super::translate::{outgoing, wire_packet};
use crate::engineio::{EngineMessage, EngineSender, Packet};
#[cfg(test)]
use crate::socket::Shared;
use crate::socket::{Delivery, SendError, TextSink};
use axum::extract::ws::{Message, Utf8Bytes};

/// A broadcast's frame translated for Socket.IO, once for all its recipients (kept in the
/// broadcast's [`Shared`](crate::socket::Shared)): its namespace, and its packets (`None`: the
/// frame has nothing to say to a Socket.IO client).
struct Translated {
    nsp: Box<str>,
    packets: Option<Box<[Packet]>>,
}

/// Translates a core frame and queues it on the session (a frame with nothing to say to a
/// Socket.IO client is dropped, and counts as sent); a `volatile` frame is dropped, not fatal,
/// when the session's queue is full. A broadcast's frame is translated once for every
/// recipient in the namespace (each queue then holds the same bytes). Whether it was queued.
fn send(
    sender: &EngineSender,
    frame: &Utf8Bytes,
    nsp: &str,
    delivery: Delivery<'_>,
) -> Result<bool, crate::engineio::EngineSendError> {
    let translated = delivery.shared.and_then(|shared| {
        shared.get_or_make(|| Translated {
            nsp: nsp.into(),
            packets: outgoing(frame.as_str(), nsp).map(|packets| packets.into_iter().collect()),
        })
    });
    match translated {
        // The recipients of a broadcast share a namespace; the check costs a comparison.
        Some(translated) if *translated.nsp == *nsp => match &translated.packets {
            Some(packets) => sender.queue_packets(packets.iter().cloned(), delivery.volatile),
            None => Ok(true),
        },
        _ => match outgoing(frame.as_str(), nsp) {
            Some(packets) => sender.queue_packets(packets, delivery.volatile),
            None => Ok(true),
        },
    }
}

/// Where a Socket.IO socket's text frames go (`Socket::set_text_sink`): straight to the session,
/// translated on the sending task; a volatile frame that does not fit is dropped.
pub(super) fn text_sink(sender: EngineSender, nsp: String) -> Box<dyn TextSink> {
    Box::new(SessionSink { sender, nsp })
}

/// A Socket.IO socket's [`TextSink`]: its namespace on its Engine.IO session.
struct SessionSink {
    sender: EngineSender,
    nsp: String,
}

impl TextSink for SessionSink {
    fn text(&self, frame: Utf8Bytes, delivery: Delivery<'_>) -> Result<bool, SendError> {
        send(&self.sender, &frame, &self.nsp, delivery).map_err(|_| SendError::Closed)
    }

    fn ack(&self, id: u64, data: &str) -> Result<(), SendError> {
        let packets = match ack_packet(&self.nsp, id, data) {
            Some(packet) => smallvec::smallvec![packet],
            // Several arguments or binary values: the general translation.
            None => {
                let frame = crate::protocol::encode_ack(id, data);
                match outgoing(&frame, &self.nsp) {
                    Some(packets) => packets,
                    None => return Ok(()),
                }
            }
        };
        self.sender
            .queue_packets(packets, false)
            .map(drop)
            .map_err(|_| SendError::Closed)
    }
}

/// The ACK packet of `data` (one argument, or none for `null`), written at once; `None` when
/// `data` spreads into several arguments or holds binary values.
fn ack_packet(nsp: &str, id: u64, data: &str) -> Option<Packet> {
    if data.starts_with("{\"$args\"") || data.contains("\"$binary\"") {
        return None;
    }
    let args: &[&str] = if data == "null" { &[] } else { &[data] };
    Some(wire_packet(Kind::Ack, nsp, Some(id), args))
}

/// A sink that turns the core's ws-json frames into Socket.IO packets on the session.
pub(super) fn translating_sink(
    sender: EngineSender,
    nsp: String,
) -> impl futures_util::Sink<Message, Error = axum::Error> + Unpin + Send + 'static {
    TranslatingSink(SessionSink { sender, nsp })
}

/// [`translating_sink`]'s sink. Queuing on the session never waits (a full queue drops the
/// client), so every frame is handled in `start_send` and the sink is always ready: a plain
/// struct, not a boxed `sink::unfold` (whose future would be one more block per socket). Its
/// text goes the way of the socket's text sink.
struct TranslatingSink(SessionSink);

impl futures_util::Sink<Message> for TranslatingSink {
    type Error = axum::Error;

    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn start_send(self: std::pin::Pin<&mut Self>, message: Message) -> Result<(), axum::Error> {
        let sink = &self.get_mut().0;
        let (sender, nsp) = (&sink.sender, &sink.nsp);
        match message {
            // Text frames normally go straight to the session (`Socket::set_text_sink`).
            Message::Text(frame) => {
                sink.text(frame, Delivery::ALONE)
                    .map_err(axum::Error::new)?;
            }
            Message::Close(Some(frame)) if frame.code == crate::close::GOING_AWAY => {
                // The server is shutting down: close the whole session, as socket.io's
                // `io.close()` does, so that clients reconnect by themselves (a DISCONNECT
                // packet would tell them not to).
                sender.close();
            }
            Message::Close(Some(_)) => {
                // The server closed this namespace's socket: tell the client.
                let packet = packet::encode(Kind::Disconnect, nsp, None, 0, "");
                let _ = sender.send(EngineMessage::text(packet));
            }
            Message::Close(None) | Message::Ping(_) | Message::Pong(_) => {}
            Message::Binary(_) => {}
        }
        Ok(())
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::{EngineConfig, EngineIo};

    /// An ack written at once is the packet the general translation makes of its frame.
    #[test]
    fn acks_are_written_as_their_frames_translate() {
        for (nsp, data) in [
            ("/", r#"{"a":[1,2]}"#),
            ("/chat", "null"),
            ("/", r#""text""#),
            ("/x", "12"),
        ] {
            let direct = ack_packet(nsp, 42, data).expect("one argument");
            let frame = crate::protocol::encode_ack(42, data);
            assert_eq!(
                Some(vec![direct]),
                outgoing(&frame, nsp).map(|packets| packets.into_vec()),
                "{nsp} {data}"
            );
        }
        assert_eq!(ack_packet("/", 1, r#"{"$args":[1,2]}"#), None);
        assert_eq!(ack_packet("/", 1, r#"[{"$binary":"AQID"}]"#), None);
    }

    /// A broadcast reaches every session as the same bytes: it is translated once, and each
    /// queue holds a reference to that text, not a copy of it.
    #[tokio::test]
    async fn one_translation_is_shared_by_every_recipient() {
        let engine = EngineIo::new(EngineConfig::default(), |_socket| async {});
        let (a, b) = (engine.test_session(), engine.test_session());
        let frame = Utf8Bytes::from(format!(
            r#"{{"event":"said","data":"{}"}}"#,
            "x".repeat(10_000)
        ));
        let shared = Shared::default();
        let broadcast = Delivery {
            volatile: false,
            shared: Some(&shared),
        };
        send(&a, &frame, "/", broadcast).unwrap();
        send(&b, &frame, "/", broadcast).unwrap();
        let (queued_a, queued_b) = (a.queued(), b.queued());
        let (EngineMessage::Text(text_a), EngineMessage::Text(text_b)) =
            (&queued_a[0], &queued_b[0])
        else {
            panic!("text payloads: {queued_a:?}");
        };
        assert!(text_a.starts_with(r#"2["said","xxx"#), "{text_a}");
        assert_eq!(text_a.as_ptr(), text_b.as_ptr(), "the same bytes");
        // A recipient in another namespace gets its own translation.
        let c = engine.test_session();
        send(&c, &frame, "/chat", broadcast).unwrap();
        let queued_c = c.queued();
        let EngineMessage::Text(text_c) = &queued_c[0] else {
            panic!("a text payload: {queued_c:?}");
        };
        assert!(text_c.starts_with(r#"2/chat,["said","xxx"#), "{text_c}");
    }
}
