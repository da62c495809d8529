//! The messages nodes exchange through Redis, and their encoding.
//!
//! A message is a JSON header, a newline, then a payload kept as raw bytes: a broadcast's frame,
//! an event's data, a client's answer. A frame therefore crosses Redis as the very bytes the
//! clients receive, without being escaped into a JSON string and parsed back. serde_json never
//! writes a raw newline, so the first one ends the header.

use nestgate::adapter::{BroadcastOptions, Room, SocketInfo};
use serde::{Deserialize, Serialize};

/// What a message is; `node` is always the sender's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Header {
    /// A node subscribed (at start or after a reconnection): the others answer with a heartbeat.
    Hello { node: String },
    /// A node is alive.
    Heartbeat { node: String },
    /// A node is leaving: requests stop waiting for it.
    Bye { node: String },
    /// A frame (the payload) for the targeted sockets of `path`.
    Broadcast {
        node: String,
        path: String,
        opts: BroadcastOptions,
    },
    /// A frame (the payload, without its ack id) for the targeted sockets of `path`, whose answers
    /// go back to the sender, each within `timeout_ms`.
    BroadcastAck {
        node: String,
        req: u64,
        path: String,
        opts: BroadcastOptions,
        timeout_ms: u64,
    },
    /// A query or a membership change on the targeted sockets of `path`; answered when `req`
    /// is set.
    Request {
        node: String,
        req: Option<u64>,
        path: String,
        op: Op,
    },
    /// A server-side event (its data is the payload) for the other nodes' handlers; answered
    /// when `req` is set.
    ServerEvent {
        node: String,
        req: Option<u64>,
        event: String,
    },
    /// An answer to request `req`, sent on the requester's own channel.
    Response { node: String, req: u64, body: Body },
}

impl Header {
    /// The sender's id.
    pub(crate) fn node(&self) -> &str {
        match self {
            Header::Hello { node }
            | Header::Heartbeat { node }
            | Header::Bye { node }
            | Header::Broadcast { node, .. }
            | Header::BroadcastAck { node, .. }
            | Header::Request { node, .. }
            | Header::ServerEvent { node, .. }
            | Header::Response { node, .. } => node,
        }
    }
}

/// What a [`Header::Request`] asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Op {
    /// The targeted sockets, described.
    Fetch { opts: BroadcastOptions },
    /// How many sockets are targeted.
    Count { opts: BroadcastOptions },
    /// Every room with a member.
    Rooms,
    /// The targeted sockets join `rooms`.
    Join {
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    /// The targeted sockets leave `rooms`.
    Leave {
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    /// The targeted sockets are closed.
    Disconnect {
        opts: BroadcastOptions,
        code: u16,
        reason: String,
    },
}

/// The body of a [`Header::Response`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Body {
    /// The answer to [`Op::Fetch`].
    Sockets(Vec<SocketInfo>),
    /// The answer to [`Op::Count`].
    Count(usize),
    /// The answer to [`Op::Rooms`].
    Rooms(Vec<Room>),
    /// A membership change or a disconnection is done.
    Done,
    /// One client's answer to a [`Header::BroadcastAck`]: the payload holds the answer's JSON,
    /// unless `error` says why there is none.
    Ack {
        socket: String,
        error: Option<AckFailure>,
    },
    /// Every targeted client of the node has answered or timed out.
    AckDone,
    /// A node's answer to a server-side event: its JSON is the payload, unless `error` is set.
    Reply { error: Option<String> },
}

/// Why a remote client's answer is missing (nestgate's `AckError`, serializable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AckFailure {
    Timeout,
    Disconnected,
    NotSent,
    Decode(String),
}

impl From<&nestgate::ack::AckError> for AckFailure {
    fn from(err: &nestgate::ack::AckError) -> Self {
        use nestgate::ack::AckError;
        match err {
            AckError::Timeout => AckFailure::Timeout,
            AckError::Disconnected => AckFailure::Disconnected,
            AckError::NotSent => AckFailure::NotSent,
            AckError::Decode(message) => AckFailure::Decode(message.clone()),
            other => AckFailure::Decode(other.to_string()),
        }
    }
}

impl From<AckFailure> for nestgate::ack::AckError {
    fn from(failure: AckFailure) -> Self {
        use nestgate::ack::AckError;
        match failure {
            AckFailure::Timeout => AckError::Timeout,
            AckFailure::Disconnected => AckError::Disconnected,
            AckFailure::NotSent => AckError::NotSent,
            AckFailure::Decode(message) => AckError::Decode(message),
        }
    }
}

/// The header as JSON, a newline, then the payload.
pub(crate) fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + payload.len());
    // Serializing into a Vec cannot fail: every field is a string, a number, a sequence or a
    // map with string keys.
    serde_json::to_writer(&mut out, header).expect("a header always serializes");
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

/// A broadcast message, encoded from borrowed parts: the hot path clones no options.
pub(crate) fn encode_broadcast(
    node: &str,
    path: &str,
    opts: &BroadcastOptions,
    frame: &[u8],
) -> Vec<u8> {
    /// Serializes exactly as [`Header::Broadcast`] does.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum BorrowedHeader<'a> {
        Broadcast {
            node: &'a str,
            path: &'a str,
            opts: &'a BroadcastOptions,
        },
    }
    let header = BorrowedHeader::Broadcast { node, path, opts };
    let mut out = Vec::with_capacity(128 + frame.len());
    // As in `encode`: strings, numbers, sequences and flags always serialize.
    serde_json::to_writer(&mut out, &header).expect("a header always serializes");
    out.push(b'\n');
    out.extend_from_slice(frame);
    out
}

/// Splits a message into its header and its payload.
pub(crate) fn decode(message: &[u8]) -> Result<(Header, &[u8]), serde_json::Error> {
    let end = message
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(message.len());
    let header = serde_json::from_slice(&message[..end])?;
    let payload = message.get(end + 1..).unwrap_or_default();
    Ok((header, payload))
}

/// The frame `{"event":<event>,"data":<data>}`, as nestgate's ws-json protocol sends it.
pub(crate) fn event_frame(event: &str, data: &str) -> String {
    let mut out = String::with_capacity(event.len() + data.len() + 22);
    out.push_str("{\"event\":");
    // A str always serializes.
    out.push_str(&serde_json::to_string(event).expect("a str always serializes"));
    out.push_str(",\"data\":");
    out.push_str(data);
    out.push('}');
    out
}

/// The frame without its trailing `,"id":<ack_id>}` (nestgate appends the id last), closed
/// again; `None` if the frame does not end that way.
pub(crate) fn strip_ack_id(frame: &str, ack_id: u64) -> Option<String> {
    let suffix = format!(",\"id\":{ack_id}}}");
    let head = frame.strip_suffix(&suffix)?;
    Some(format!("{head}}}"))
}

/// The frame with `,"id":<ack_id>` appended before its closing brace.
pub(crate) fn with_ack_id(frame: &str, ack_id: u64) -> Option<String> {
    let head = frame.strip_suffix('}')?;
    Some(format!("{head},\"id\":{ack_id}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_a_header_a_newline_and_the_payload_unescaped() {
        let header = Header::Broadcast {
            node: "n1".to_owned(),
            path: "/chat".to_owned(),
            opts: BroadcastOptions {
                rooms: vec!["a\nb".into()],
                ..BroadcastOptions::default()
            },
        };
        let frame = br#"{"event":"x","data":"line\nbreak"}"#;
        let bytes = encode(&header, frame);
        let (decoded, payload) = decode(&bytes).unwrap();
        assert_eq!(decoded, header);
        assert_eq!(payload, frame);
    }

    #[test]
    fn a_broadcast_encoded_from_borrowed_parts_is_the_same_message() {
        let opts = BroadcastOptions {
            rooms: vec!["a".into(), "b".into()],
            except: vec!["c".into()],
            sender: Some("s".to_owned()),
            local: false,
            volatile: true,
        };
        let header = Header::Broadcast {
            node: "n".to_owned(),
            path: "/p".to_owned(),
            opts: opts.clone(),
        };
        assert_eq!(
            encode_broadcast("n", "/p", &opts, b"{}"),
            encode(&header, b"{}")
        );
    }

    #[test]
    fn a_message_without_payload_decodes() {
        let header = Header::Hello {
            node: "n".to_owned(),
        };
        let mut bytes = encode(&header, b"");
        let (decoded, payload) = decode(&bytes).unwrap();
        assert_eq!((decoded, payload), (header.clone(), &b""[..]));
        bytes.pop();
        assert_eq!(decode(&bytes).unwrap().0, header);
        assert!(decode(b"nonsense").is_err());
    }

    #[test]
    fn ack_ids_are_taken_off_and_put_back() {
        let frame = r#"{"event":"q","data":{"a":1},"id":42}"#;
        let bare = strip_ack_id(frame, 42).unwrap();
        assert_eq!(bare, r#"{"event":"q","data":{"a":1}}"#);
        assert_eq!(
            with_ack_id(&bare, 7).unwrap(),
            r#"{"event":"q","data":{"a":1},"id":7}"#
        );
        assert_eq!(strip_ack_id(frame, 41), None);
    }

    #[test]
    fn event_frames_match_the_protocol() {
        assert_eq!(event_frame("a\"b", "[1]"), r#"{"event":"a\"b","data":[1]}"#);
    }
}
