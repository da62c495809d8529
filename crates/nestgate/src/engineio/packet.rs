//! Engine.IO v4 packets: `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade,
//! `6` noop; a binary message is a binary WebSocket frame, or `b` + base64 inside a polling
//! payload, whose packets are separated by `\x1e`.

use axum::extract::ws::Utf8Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

/// The separator of packets in one HTTP long-polling payload.
pub(crate) const SEPARATOR: char = '\x1e';

/// What an Engine.IO message carries: a text `message` packet, or a binary one (formerly
/// `Payload`, which Engine.IO calls a polling body of several packets).
///
/// Both kinds share their bytes: cloning a payload (to send one message to many sessions, as a
/// broadcast does) counts a reference instead of copying the text.
///
/// ```
/// use nestgate::engineio::EngineMessage;
///
/// let hello = EngineMessage::text("hello");
/// let copy = hello.clone();
/// if let (EngineMessage::Text(a), EngineMessage::Text(b)) = (&hello, &copy) {
///     assert_eq!(a.as_str(), "hello");
///     assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, not a copy");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineMessage {
    /// A text message (`4…`).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl EngineMessage {
    /// A text message (from a `String`, a `&str` or shared [`Utf8Bytes`]).
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        EngineMessage::Text(text.into())
    }

    /// The message's size in bytes (its text, or its binary data).
    pub fn len(&self) -> usize {
        match self {
            EngineMessage::Text(text) => text.len(),
            EngineMessage::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    Open(String),
    Close,
    Ping(Option<String>),
    Pong(Option<String>),
    Message(EngineMessage),
    /// A text message already in its wire form, `4` and its text ([`Packet::encoded`]): a
    /// WebSocket writes it as it is, and every session it is queued on shares its bytes.
    Encoded(Utf8Bytes),
    Upgrade,
    Noop,
}

/// A packet that is not Engine.IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidPacket;

impl Packet {
    /// A text message from its wire form, `4` followed by the message's text.
    pub(crate) fn encoded(wire: String) -> Packet {
        debug_assert!(wire.starts_with('4'), "an Engine.IO message: {wire}");
        Packet::Encoded(wire.into())
    }

    /// Decodes a WebSocket text frame; a message's text stays a slice of the frame.
    pub(crate) fn decode_frame(frame: Utf8Bytes) -> Result<Packet, InvalidPacket> {
        if frame.starts_with('4') {
            let bytes = Bytes::from(frame).slice(1..);
            // A valid string minus its first (ASCII) byte is still valid: this cannot fail.
            let text = Utf8Bytes::try_from(bytes).map_err(|_| InvalidPacket)?;
            return Ok(Packet::Message(EngineMessage::Text(text)));
        }
        Packet::decode_text(frame.as_str())
    }

    /// Decodes a text packet (a WebSocket text frame, or one packet of a polling payload).
    pub(crate) fn decode_text(text: &str) -> Result<Packet, InvalidPacket> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(InvalidPacket)?;
        let rest = chars.as_str();
        let probe = || (!rest.is_empty()).then(|| rest.to_owned());
        Ok(match kind {
            '1' => Packet::Close,
            '2' => Packet::Ping(probe()),
            '3' => Packet::Pong(probe()),
            '4' => Packet::Message(EngineMessage::Text(rest.into())),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => Packet::Message(EngineMessage::Binary(
                BASE64.decode(rest).map_err(|_| InvalidPacket)?.into(),
            )),
            _ => return Err(InvalidPacket),
        })
    }

    /// The text form (binary messages as `b` + base64, as polling sends them).
    pub(crate) fn encode_text(&self, out: &mut String) {
        match self {
            Packet::Open(json) => {
                out.push('0');
                out.push_str(json);
            }
            Packet::Close => out.push('1'),
            Packet::Ping(probe) => {
                out.push('2');
                out.push_str(probe.as_deref().unwrap_or(""));
            }
            Packet::Pong(probe) => {
                out.push('3');
                out.push_str(probe.as_deref().unwrap_or(""));
            }
            Packet::Message(EngineMessage::Text(text)) => {
                out.push('4');
                out.push_str(text);
            }
            Packet::Message(EngineMessage::Binary(bytes)) => {
                out.push('b');
                BASE64.encode_string(bytes, out);
            }
            Packet::Encoded(wire) => out.push_str(wire),
            Packet::Upgrade => out.push('5'),
            Packet::Noop => out.push('6'),
        }
    }

    /// Decodes a polling payload: packets separated by `\x1e`.
    pub(crate) fn decode_payload(body: &str) -> Result<Vec<Packet>, InvalidPacket> {
        body.split(SEPARATOR).map(Packet::decode_text).collect()
    }

    /// The bytes this packet holds, for the session's buffer limit.
    pub(crate) fn size(&self) -> usize {
        match self {
            Packet::Message(payload) => payload.len() + 1,
            Packet::Encoded(wire) => wire.len(),
            Packet::Open(json) => json.len() + 1,
            Packet::Ping(probe) | Packet::Pong(probe) => probe.as_ref().map_or(0, String::len) + 1,
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
        }
    }

    /// Encodes packets as one polling payload.
    pub(crate) fn encode_payload(packets: &[Packet]) -> String {
        let mut out = String::new();
        for (index, packet) in packets.iter().enumerate() {
            if index > 0 {
                out.push(SEPARATOR);
            }
            packet.encode_text(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let body = "4test1\x1e4test2\x1ebAQIDBA==\x1e2probe\x1e3\x1e5\x1e6\x1e1";
        let packets = Packet::decode_payload(body).unwrap();
        assert_eq!(
            packets[2],
            Packet::Message(EngineMessage::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        );
        assert_eq!(packets[3], Packet::Ping(Some("probe".into())));
        assert_eq!(Packet::encode_payload(&packets), body);
    }

    #[test]
    fn a_frame_s_message_shares_the_frame() {
        let frame = Utf8Bytes::from(String::from("4hello"));
        let start = frame.as_ptr();
        match Packet::decode_frame(frame).unwrap() {
            Packet::Message(EngineMessage::Text(text)) => {
                assert_eq!(text.as_str(), "hello");
                assert_eq!(text.as_ptr(), start.wrapping_add(1), "a slice, not a copy");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Packet::decode_frame(Utf8Bytes::from_static("2probe")).unwrap(),
            Packet::Ping(Some("probe".into()))
        );
    }

    #[test]
    fn rejects_what_is_not_engine_io() {
        for bad in ["", "abc", "7", "b!!!", "0x"] {
            assert!(Packet::decode_text(bad).is_err(), "{bad:?}");
        }
    }
}
