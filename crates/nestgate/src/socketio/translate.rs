//! Between Socket.IO packets and the ws-json frames the core dispatches and sends.
//!
//! The core speaks ws-json (`{"event", "data", "id"}`, `{"ack", "data" | "error"}`): a Socket.IO
//! EVENT becomes such a frame on its way in (several arguments become a `data` array marked
//! `"args": n`), and every frame the core sends to a Socket.IO socket becomes an EVENT or ACK
//! on its way out. Binary attachments travel inside JSON as `{"$binary": "<base64>"}`
//! ([`Binary`](super::Binary)); the placeholders of the wire replace them.

use super::packet::{self, Kind, Packet};
use crate::engineio::{EngineMessage, Packet as EnginePacket};
use smallvec::SmallVec;

/// The Engine.IO packets of one frame: one, unless it carries binary attachments.
pub(crate) type Packets = SmallVec<[EnginePacket; 1]>;
use crate::protocol::{BINARY_KEY, Decoded, Name};
use axum::extract::ws::Utf8Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A frame from the client that is not well-formed where it matters.
#[derive(Debug)]
pub(crate) struct Malformed;

/// The ws-json frame for a client's EVENT or ACK (`attachments` are its binary frames).
pub(crate) fn incoming(packet: &Packet<'_>, attachments: &[Bytes]) -> Result<String, Malformed> {
    // The arguments were parsed (borrowed) when the packet was validated.
    let mut args: Vec<Cow<'_, RawValue>> = packet.args.iter().copied().map(Cow::Borrowed).collect();
    if !attachments.is_empty() {
        args = args
            .into_iter()
            .map(|arg| {
                let mut value: Value = serde_json::from_str(arg.get()).map_err(|_| Malformed)?;
                fill_placeholders(&mut value, attachments)?;
                let text = serde_json::to_string(&value).map_err(|_| Malformed)?;
                RawValue::from_string(text)
                    .map(Cow::Owned)
                    .map_err(|_| Malformed)
            })
            .collect::<Result<_, _>>()?;
    }
    let mut out = String::with_capacity(packet.data.len() + 32);
    let rest = match packet.kind {
        Kind::Event | Kind::BinaryEvent => {
            let name = args.first().ok_or(Malformed)?;
            out.push_str("{\"event\":");
            out.push_str(name.get());
            &args[1..]
        }
        Kind::Ack | Kind::BinaryAck => {
            let id = packet.id.ok_or(Malformed)?;
            out.push_str(&format!("{{\"ack\":{id}"));
            &args[..]
        }
        _ => return Err(Malformed),
    };
    match rest {
        [] => {}
        [one] => {
            out.push_str(",\"data\":");
            out.push_str(one.get());
        }
        several => {
            out.push_str(",\"data\":");
            push_array(&mut out, several.iter().map(|arg| arg.get()));
            out.push_str(&format!(",\"args\":{}", several.len()));
        }
    }
    if let (Kind::Event | Kind::BinaryEvent, Some(id)) = (packet.kind, packet.id) {
        out.push_str(&format!(",\"id\":{id}"));
    }
    out.push('}');
    Ok(out)
}

/// A client's EVENT or ACK without attachments, as the core dispatches it: ranges of the
/// packet's own text (`text`, which `packet` was decoded from), so that its `data` is neither
/// copied nor parsed again. Several arguments are one array (`args`), written out; an event
/// name that is not a string is left to [`incoming`] (and the core's error for it).
pub(crate) fn decoded(
    packet: &Packet<'_>,
    text: &Utf8Bytes,
) -> Result<Option<(Utf8Bytes, Decoded)>, Malformed> {
    let base = text.as_str().as_ptr() as usize;
    // `packet` borrows from `text`; anything else is sent the copying way.
    let within = |raw: &RawValue| {
        let start = (raw.get().as_ptr() as usize).checked_sub(base)?;
        let end = start + raw.get().len();
        (end <= text.len()).then_some(start..end)
    };
    if !packet.args.iter().all(|arg| within(arg).is_some()) {
        return Ok(None);
    }
    let range = |raw: &RawValue| within(raw).unwrap_or_default();
    let (event, rest, id, ack) = match packet.kind {
        Kind::Event | Kind::BinaryEvent => {
            let (name, rest) = packet.args.split_first().ok_or(Malformed)?;
            let name_text = name.get();
            if !name_text.starts_with('"') {
                return Ok(None);
            }
            let name = if name_text.contains('\\') {
                Name::Owned(serde_json::from_str(name_text).map_err(|_| Malformed)?)
            } else {
                let quoted = range(name);
                Name::At(quoted.start + 1..quoted.end - 1)
            };
            (Some(name), rest, packet.id, None)
        }
        Kind::Ack | Kind::BinaryAck => (None, &packet.args[..], None, packet.id),
        _ => return Err(Malformed),
    };
    if event.is_none() && ack.is_none() {
        return Err(Malformed);
    }
    let (frame, data, args) = match rest {
        [] => (text.clone(), None, None),
        [one] if one.get() == "null" => (text.clone(), None, None),
        [one] => (text.clone(), Some(range(one)), None),
        several => {
            let mut array = String::with_capacity(packet.data.len());
            push_array(&mut array, several.iter().map(|arg| arg.get()));
            let data = Some(0..array.len());
            (
                Utf8Bytes::from(array),
                data,
                u32::try_from(several.len()).ok(),
            )
        }
    };
    // A new text (several arguments) takes the name with it.
    let event = match event {
        Some(Name::At(at)) if args.is_some() => Some(Name::Owned(text.as_str()[at].to_owned())),
        other => other,
    };
    let decoded = Decoded {
        event,
        data,
        id,
        ack,
        args,
    };
    Ok(Some((frame, decoded)))
}

/// Replaces `{"_placeholder": true, "num": n}` by `{"$binary": "<base64>"}`.
fn fill_placeholders(value: &mut Value, attachments: &[Bytes]) -> Result<(), Malformed> {
    match value {
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                let num = map.get("num").and_then(Value::as_u64).ok_or(Malformed)?;
                let bytes = attachments
                    .get(usize::try_from(num).map_err(|_| Malformed)?)
                    .ok_or(Malformed)?;
                let mut binary = Map::new();
                binary.insert(BINARY_KEY.to_owned(), Value::String(BASE64.encode(bytes)));
                *value = Value::Object(binary);
                return Ok(());
            }
            for item in map.values_mut() {
                fill_placeholders(item, attachments)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                fill_placeholders(item, attachments)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A ws-json frame the core sends, borrowing from its text.
#[derive(Deserialize)]
struct Outgoing<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    ack: Option<u64>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    offset: Option<&'a RawValue>,
}

/// What a frame the core sends says, as raw JSON texts borrowed from it.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    kind: Kind,
    id: Option<u64>,
    /// An event's name, a JSON string.
    event: Option<&'a str>,
    /// An event's or an ack's `data`, or an ack's `error`.
    body: Option<&'a str>,
    /// `body` is an ack's `error`: one argument, never spread.
    error: bool,
    /// A stored message's offset (a JSON string), for connection-state recovery: socket.io's
    /// clients read it as the event's last argument.
    offset: Option<&'a str>,
}

/// Splits a frame in one of the forms `protocol`'s encoders write — `{"event":E,"data":D}`,
/// `{"event":E,"data":D,"id":n}`, `{"ack":n,"data":D}`, `{"ack":n,"error":D}` — without
/// parsing `D`: those encoders write it as one JSON value (serialized, or a `RawValue`), so
/// what sits between the keys and the closing brace is `D`. `None` for any other text.
fn split(frame: &str) -> Option<Parts<'_>> {
    let inner = frame.strip_suffix('}')?;
    if let Some(rest) = inner.strip_prefix("{\"ack\":") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = rest[..digits].parse().ok()?;
        let rest = &rest[digits..];
        let (body, error) = match rest.strip_prefix(",\"data\":") {
            Some(data) => (data, false),
            None => (rest.strip_prefix(",\"error\":")?, true),
        };
        return (!body.is_empty()).then_some(Parts {
            kind: Kind::Ack,
            id: Some(id),
            event: None,
            body: Some(body),
            error,
            offset: None,
        });
    }
    let rest = inner.strip_prefix("{\"event\":")?;
    let (event, rest) = rest.split_at(json_string_len(rest)?);
    let rest = rest.strip_prefix(",\"data\":")?;
    // `protocol::with_offset` ends a stored message with `,"offset":"<epoch>-<n>"`, which no
    // value ends with (a string's quotes inside a value are escaped).
    let (rest, offset) = match rest.rfind(",\"offset\":\"") {
        Some(at)
            if rest[at + 11..rest.len().saturating_sub(1)]
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && rest.ends_with('"')
                && rest.len() > at + 12 =>
        {
            (&rest[..at], Some(&rest[at + 10..]))
        }
        _ => (rest, None),
    };
    // A value never ends with `,"id":<digits>` (an object or an array ends with its bracket),
    // so such an end is the frame's own id.
    let digits = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (body, id) = match rest[..rest.len() - digits].strip_suffix(",\"id\":") {
        Some(body) if digits > 0 => (body, Some(rest[rest.len() - digits..].parse().ok()?)),
        _ => (rest, None),
    };
    (!body.is_empty()).then_some(Parts {
        kind: Kind::Event,
        id,
        event: Some(event),
        body: Some(body),
        error: false,
        offset,
    })
}

/// The length of the JSON string `text` starts with, quotes included.
fn json_string_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// Any other frame, read as JSON (slower, but takes keys in any order).
fn parse(frame: &str) -> Option<Parts<'_>> {
    let out: Outgoing<'_> = serde_json::from_str(frame).ok()?;
    let (kind, id, event) = match (out.ack, out.event) {
        (Some(ack), _) => (Kind::Ack, Some(ack), None),
        (None, Some(event)) => (Kind::Event, out.id, Some(event.get())),
        (None, None) => return None,
    };
    let (body, error) = match (out.error, out.data) {
        (Some(error), _) if kind == Kind::Ack => (Some(error.get()), true),
        (_, data) => (data.map(RawValue::get), false),
    };
    Some(Parts {
        kind,
        id,
        event,
        body,
        error,
        offset: out.offset.map(RawValue::get),
    })
}

/// The Engine.IO packets for a frame the core sends: the Socket.IO packet as a message in its
/// wire form (`4…`, [`Packet::encoded`]), then its binary attachments.
///
/// - `{"event": E, "data": D, "id"?: n}` → EVENT `[E, ...args(D)]` (with an ack id).
/// - `{"ack": n, "data": D}` → ACK `[...args(D)]`; `{"ack": n, "error": X}` → ACK `[X]`.
///
/// `args(D)`: nothing for `null`, the elements of `{"$args": [...]}`, else `[D]`.
pub(crate) fn outgoing(frame: &str, nsp: &str) -> Option<Packets> {
    let parts = split(frame).or_else(|| parse(frame))?;
    // Inline: an event and its argument, or an ack's answer (`$args` spreads may spill).
    let mut args: SmallVec<[&str; 3]> = SmallVec::new();
    args.extend(parts.event);
    let spread: Vec<&RawValue>;
    match parts.body {
        Some(body) if parts.error => args.push(body),
        Some(body) if body != "null" => {
            if body.starts_with("{\"$args\"") {
                #[derive(Deserialize)]
                struct Spread<'a> {
                    #[serde(borrow, rename = "$args")]
                    args: Vec<&'a RawValue>,
                }
                match serde_json::from_str::<Spread<'_>>(body) {
                    Ok(many) => {
                        spread = many.args;
                        args.extend(spread.iter().map(|arg| arg.get()));
                    }
                    Err(_) => args.push(body),
                }
            } else {
                args.push(body);
            }
        }
        _ => {}
    }
    args.extend(parts.offset);
    let (kind, id) = (parts.kind, parts.id);
    if !args.iter().any(|arg| arg.contains("\"$binary\"")) {
        return Some(smallvec::smallvec![wire_packet(kind, nsp, id, &args)]);
    }
    // Binary values: placeholders in the JSON, the bytes as attachments after it.
    let mut value = Value::Array(
        args.iter()
            .map(|arg| serde_json::from_str(arg))
            .collect::<Result<_, _>>()
            .ok()?,
    );
    let mut attachments = Vec::new();
    take_binaries(&mut value, &mut attachments);
    let kind = match kind {
        Kind::Ack => Kind::BinaryAck,
        _ => Kind::BinaryEvent,
    };
    let mut wire = String::from("4");
    packet::write_header(&mut wire, kind, nsp, id, attachments.len());
    wire.push_str(&serde_json::to_string(&value).ok()?);
    let mut packets: Packets = smallvec::smallvec![EnginePacket::encoded(wire)];
    packets.extend(
        attachments
            .into_iter()
            .map(|bytes| EnginePacket::Message(EngineMessage::Binary(bytes))),
    );
    Some(packets)
}

/// A packet without attachments in Engine.IO's wire form: `4`, its header, its arguments as
/// one JSON array.
///
/// The text is made at its exact length: its bytes then become the packet's without a second
/// allocation (`Bytes` takes a `Vec` whole only when it is full).
pub(crate) fn wire_packet(kind: Kind, nsp: &str, id: Option<u64>, args: &[&str]) -> EnginePacket {
    // `[`, the arguments and their commas, `]`.
    let array = 2 + args.iter().map(|arg| arg.len()).sum::<usize>() + args.len().saturating_sub(1);
    let mut wire = String::with_capacity(1 + packet::header_len(kind, nsp, id, 0) + array);
    wire.push('4');
    packet::write_header(&mut wire, kind, nsp, id, 0);
    push_array(&mut wire, args.iter().copied());
    debug_assert_eq!(wire.len(), wire.capacity(), "the exact length: {wire}");
    EnginePacket::encoded(wire)
}

/// Writes `[a,b,…]` of raw JSON texts.
fn push_array<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
}

/// Replaces `{"$binary": "<base64>"}` by placeholders, collecting the bytes.
fn take_binaries(value: &mut Value, attachments: &mut Vec<Bytes>) {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(encoded)) = map.get(BINARY_KEY)
                && let Ok(bytes) = BASE64.decode(encoded)
            {
                let num = attachments.len();
                attachments.push(bytes.into());
                *value = serde_json::json!({"_placeholder": true, "num": num});
                return;
            }
            for item in map.values_mut() {
                take_binaries(item, attachments);
            }
        }
        Value::Array(items) => {
            for item in items {
                take_binaries(item, attachments);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages of translated packets (a text without its Engine.IO `4`).
    fn text(packets: Option<Packets>) -> Vec<EngineMessage> {
        let packets = packets.expect("translated");
        let message = |packet| match packet {
            EnginePacket::Encoded(wire) => {
                let wire = wire.as_str().strip_prefix('4').expect("a message");
                EngineMessage::text(wire.to_owned())
            }
            EnginePacket::Message(message) => message,
            other => panic!("not a message: {other:?}"),
        };
        packets.into_iter().map(message).collect()
    }

    #[test]
    fn the_core_s_frames_split_without_parsing() {
        let event = |name, body, id| Parts {
            kind: Kind::Event,
            id,
            event: Some(name),
            body: Some(body),
            error: false,
            offset: None,
        };
        assert_eq!(
            split(r#"{"event":"a\"b","data":{"id":1},"id":7}"#),
            Some(event(r#""a\"b""#, r#"{"id":1}"#, Some(7)))
        );
        assert_eq!(
            split(r#"{"event":"n","data":12}"#),
            Some(event(r#""n""#, "12", None))
        );
        assert_eq!(
            split(r#"{"event":"n","data":"x,\"id\":3"}"#),
            Some(event(r#""n""#, r#""x,\"id\":3""#, None))
        );
        assert_eq!(
            split(r#"{"ack":42,"error":{"message":"no"}}"#),
            Some(Parts {
                kind: Kind::Ack,
                id: Some(42),
                event: None,
                body: Some(r#"{"message":"no"}"#),
                error: true,
                offset: None,
            })
        );
        // Other shapes are left to the JSON parser, which reads them all the same.
        for other in [
            r#"{"data":1,"event":"n"}"#,
            r#"{"event":"n"}"#,
            r#"{"ack":,"data":1}"#,
            r#"{"event":"n","data":}"#,
            r#" {"event":"n","data":1}"#,
        ] {
            assert_eq!(split(other), None, "{other}");
        }
        assert_eq!(
            parse(r#"{"data":1,"id":2,"event":"n"}"#),
            Some(event(r#""n""#, "1", Some(2)))
        );
        assert_eq!(
            text(outgoing(r#"{"data":[1],"event":"n"}"#, "/")),
            [EngineMessage::Text(r#"2["n",[1]]"#.into())]
        );
    }

    #[test]
    fn a_stored_message_s_offset_is_its_last_argument() {
        assert_eq!(
            text(outgoing(
                r#"{"event":"n","data":{"a":1},"offset":"0a1b2c3d-17"}"#,
                "/"
            )),
            [EngineMessage::Text(
                r#"2["n",{"a":1},"0a1b2c3d-17"]"#.into()
            )]
        );
        // Spread arguments, then the offset.
        assert_eq!(
            text(outgoing(
                r#"{"event":"n","data":{"$args":[1,2]},"offset":"e-1"}"#,
                "/chat"
            )),
            [EngineMessage::Text(r#"2/chat,["n",1,2,"e-1"]"#.into())]
        );
        // Data that only looks like it (inside a string) is data.
        assert_eq!(
            text(outgoing(
                r#"{"event":"n","data":"x,\"offset\":\"e-1\""}"#,
                "/"
            )),
            [EngineMessage::Text(
                r#"2["n","x,\"offset\":\"e-1\""]"#.into()
            )]
        );
        // Parsed the slow way, the same.
        assert_eq!(
            text(outgoing(r#"{"offset":"e-2","data":3,"event":"n"}"#, "/")),
            [EngineMessage::Text(r#"2["n",3,"e-2"]"#.into())]
        );
    }

    #[test]
    fn events_and_acks_in() {
        let p = packet::decode(r#"2["message",1,"2",{"3":[true]}]"#).unwrap();
        assert_eq!(
            incoming(&p, &[]).unwrap(),
            r#"{"event":"message","data":[1,"2",{"3":[true]}],"args":3}"#
        );
        let p = packet::decode(r#"2456["echo","x"]"#).unwrap();
        assert_eq!(
            incoming(&p, &[]).unwrap(),
            r#"{"event":"echo","data":"x","id":456}"#
        );
        let p = packet::decode(r#"37[{"ok":true}]"#).unwrap();
        assert_eq!(
            incoming(&p, &[]).unwrap(),
            r#"{"ack":7,"data":{"ok":true}}"#
        );
        let p = packet::decode(r#"51-["bin",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            incoming(&p, &[Bytes::from_static(&[1, 2, 3])]).unwrap(),
            r#"{"event":"bin","data":{"$binary":"AQID"}}"#
        );
    }

    /// What `decoded` hands the core is what the ws-json frame of `incoming` decodes to.
    #[test]
    fn decoded_packets_read_as_their_ws_json_frames() {
        for text in [
            r#"2["message",1,"2",{"3":[true]}]"#,
            r#"2456["echo","x"]"#,
            r#"2/chat,9["echo",{"a":[1,2]}]"#,
            r#"2["ping"]"#,
            r#"2["null",null]"#,
            r#"2["a\u0062c",1]"#,
            r#"2["a\"q",1,2]"#,
            r#"37[{"ok":true}]"#,
            r#"3/chat,8[1,"two"]"#,
            r#"39[]"#,
        ] {
            let frame = Utf8Bytes::from(text);
            let packet = packet::decode(frame.as_str()).expect(text);
            let (decoded_text, decoded) = decoded(&packet, &frame).unwrap().expect("decoded");
            let envelope = decoded.envelope(decoded_text.as_str());
            let ws_json = incoming(&packet, &[]).unwrap();
            let expected = crate::protocol::decode(&ws_json).unwrap();
            assert_eq!(envelope.event, expected.event, "{text}");
            assert_eq!(
                crate::protocol::data_text(decoded_text.as_str(), &envelope.data),
                crate::protocol::data_text(&ws_json, &expected.data),
                "{text}"
            );
            assert_eq!(
                (envelope.id, envelope.ack, envelope.args),
                (expected.id, expected.ack, expected.args),
                "{text}"
            );
        }
        // One argument is a range of the packet itself, not a copy.
        let frame = Utf8Bytes::from(r#"2["echo","x"]"#);
        let packet = packet::decode(frame.as_str()).unwrap();
        let (shared, _) = decoded(&packet, &frame).unwrap().unwrap();
        assert_eq!(shared.as_str().as_ptr(), frame.as_str().as_ptr());
        // A packet that was not decoded from the text given goes the copying way.
        let copy = Utf8Bytes::from(r#"2["echo","x"]"#);
        let packet = packet::decode(r#"2["echo","x"]"#).unwrap();
        assert!(decoded(&packet, &copy).unwrap().is_none());
    }

    #[test]
    fn frames_out() {
        assert_eq!(
            text(outgoing(
                r#"{"event":"message-back","data":{"$args":[1,"2"]}}"#,
                "/"
            )),
            [EngineMessage::Text(r#"2["message-back",1,"2"]"#.into())]
        );
        assert_eq!(
            text(outgoing(r#"{"event":"hi","data":"x","id":3}"#, "/custom")),
            [EngineMessage::Text(r#"2/custom,3["hi","x"]"#.into())]
        );
        assert_eq!(
            text(outgoing(r#"{"ack":9,"data":null}"#, "/")),
            [EngineMessage::Text("39[]".into())]
        );
        assert_eq!(
            text(outgoing(
                r#"{"ack":9,"error":{"status":"error","message":"no"}}"#,
                "/"
            )),
            [EngineMessage::Text(
                r#"39[{"status":"error","message":"no"}]"#.into()
            )]
        );
        assert_eq!(
            text(outgoing(
                r#"{"ack":789,"data":{"$args":[{"$binary":"AQID"}]}}"#,
                "/"
            )),
            [
                EngineMessage::Text(r#"61-789[{"_placeholder":true,"num":0}]"#.into()),
                EngineMessage::Binary(Bytes::from_static(&[1, 2, 3]))
            ]
        );
    }
}
