//! What a Socket.IO socket sends, on its way to the Engine.IO session: the per-namespace
//! translation cache ([`Translation`]), the socket's text sink (its frames go straight to the
//! session, translated on the sending task), and the sink the connection driver writes the rest
//! (the close) to.

use super::packet::{self, Kind};
use super::translate::{outgoing, wire_packet};
use crate::engineio::{EngineMessage, EngineSender, Packet};
use crate::socket::{Delivery, SendError, TextSink};
use crate::util::sync::lock;
use axum::extract::ws::{Message, Utf8Bytes};
use std::sync::Arc;

/// The last frame translated for one namespace, shared by all its Socket.IO sockets: a
/// broadcast reaches every recipient's sink as the same bytes, so it is translated once. Each
/// namespace owns one ([`Namespace::translation`](crate::namespace::Namespace::translation)),
/// so a dynamic namespace's goes (with the frame it holds) when the namespace does.
pub(crate) struct Translation {
    last: std::sync::Mutex<Option<(Utf8Bytes, Arc<[Packet]>)>>,
}

/// How many [`Translation`]s exist in this process (see `__internals::live_translations`).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many Socket.IO translation caches exist in this process: one per live namespace.
pub(crate) fn live() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

impl Default for Translation {
    fn default() -> Self {
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Translation {
            last: std::sync::Mutex::new(None),
        }
    }
}

impl Drop for Translation {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Translation {
    fn outgoing(&self, frame: &Utf8Bytes, nsp: &str) -> Option<Arc<[Packet]>> {
        let mut last = lock(&self.last);
        // The cache holds its frame, so an equal address is the same frame, not a new one
        // allocated where a freed one was.
        if let Some((cached, payloads)) = &*last
            && cached.as_str().as_ptr() == frame.as_str().as_ptr()
            && cached.len() == frame.len()
        {
            return Some(payloads.clone());
        }
        let payloads: Arc<[Packet]> = outgoing(frame.as_str(), nsp)?.into_iter().collect();
        *last = Some((frame.clone(), payloads.clone()));
        Some(payloads)
    }

    /// Translates a core frame and queues it on the session (a frame with nothing to say to a
    /// Socket.IO client is dropped, and counts as sent); a `volatile` frame is dropped, not
    /// fatal, when the session's queue is full. A `shared` frame (a broadcast) is translated
    /// once for every recipient; another is not kept. Whether it was queued.
    pub(crate) fn send(
        &self,
        sender: &EngineSender,
        frame: &Utf8Bytes,
        nsp: &str,
        delivery: Delivery,
    ) -> Result<bool, crate::engineio::EngineSendError> {
        if !delivery.shared {
            return match outgoing(frame.as_str(), nsp) {
                Some(packets) => sender.queue_packets(packets, delivery.volatile),
                None => Ok(true),
            };
        }
        match self.outgoing(frame, nsp) {
            Some(packets) => sender.queue_packets(packets.iter().cloned(), delivery.volatile),
            None => Ok(true),
        }
    }
}

/// Where a Socket.IO socket's text frames go (`Socket::set_text_sink`): straight to the session,
/// translated on the sending task; a volatile frame that does not fit is dropped.
pub(super) fn text_sink(
    sender: EngineSender,
    nsp: String,
    translation: Arc<Translation>,
) -> Box<dyn TextSink> {
    Box::new(SessionSink {
        sender,
        nsp,
        translation,
    })
}

/// A Socket.IO socket's [`TextSink`]: its namespace on its Engine.IO session.
struct SessionSink {
    sender: EngineSender,
    nsp: String,
    translation: Arc<Translation>,
}

impl TextSink for SessionSink {
    fn text(&self, frame: Utf8Bytes, delivery: Delivery) -> Result<bool, SendError> {
        self.translation
            .send(&self.sender, &frame, &self.nsp, delivery)
            .map_err(|_| SendError::Closed)
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
    translation: Arc<Translation>,
) -> impl futures_util::Sink<Message, Error = axum::Error> + Unpin + Send + 'static {
    TranslatingSink(SessionSink {
        sender,
        nsp,
        translation,
    })
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
                let delivery = Delivery {
                    volatile: false,
                    shared: false,
                };
                sink.text(frame, delivery).map_err(axum::Error::new)?;
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

    /// A broadcast reaches every session as the same bytes: each queue holds a reference to
    /// one translated text, not a copy of it.
    #[tokio::test]
    async fn one_translation_is_shared_by_every_recipient() {
        let engine = EngineIo::new(EngineConfig::default(), |_socket| async {});
        let (a, b) = (engine.test_session(), engine.test_session());
        let translation = Translation::default();
        let frame = Utf8Bytes::from(format!(
            r#"{{"event":"said","data":"{}"}}"#,
            "x".repeat(10_000)
        ));
        let broadcast = Delivery {
            volatile: false,
            shared: true,
        };
        translation.send(&a, &frame, "/", broadcast).unwrap();
        translation.send(&b, &frame, "/", broadcast).unwrap();
        let (queued_a, queued_b) = (a.queued(), b.queued());
        let (EngineMessage::Text(text_a), EngineMessage::Text(text_b)) =
            (&queued_a[0], &queued_b[0])
        else {
            panic!("text payloads: {queued_a:?}");
        };
        assert!(text_a.starts_with(r#"2["said","xxx"#), "{text_a}");
        assert_eq!(text_a.as_ptr(), text_b.as_ptr(), "the same bytes");
    }
}
