//! Between Socket.IO packets and the ws-json frames the core dispatches and sends.
//!
//! The core speaks ws-json (`{"event", "data", "id"}`, `{"ack", "data" | "error"}`): a Socket.IO
//! EVENT becomes such a frame on its way in (several arguments become a `data` array marked
//! `"args": n`), and every frame the core sends to a Socket.IO socket becomes an EVENT or ACK
//! on its way out. Binary attachments travel inside JSON as `{"$binary": "<base64>"}`
//! ([`Binary`](super::Binary)); the placeholders of the wire replace them.

use super::packet::{self, Kind, Packet};
use crate::engineio::EngineMessage;
use crate::protocol::BINARY_KEY;
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
            out.push_str(",\"data\":[");
            for (index, arg) in several.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(arg.get());
            }
            out.push_str(&format!("],\"args\":{}", several.len()));
        }
    }
    if let (Kind::Event | Kind::BinaryEvent, Some(id)) = (packet.kind, packet.id) {
        out.push_str(&format!(",\"id\":{id}"));
    }
    out.push('}');
    Ok(out)
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
}

/// The Socket.IO packet (and its binary attachments) for a frame the core sends.
///
/// - `{"event": E, "data": D, "id"?: n}` → EVENT `[E, ...args(D)]` (with an ack id).
/// - `{"ack": n, "data": D}` → ACK `[...args(D)]`; `{"ack": n, "error": X}` → ACK `[X]`.
///
/// `args(D)`: nothing for `null`, the elements of `{"$args": [...]}`, else `[D]`.
pub(crate) fn outgoing(frame: &str, nsp: &str) -> Option<Vec<EngineMessage>> {
    let out: Outgoing<'_> = serde_json::from_str(frame).ok()?;
    let mut args: Vec<&RawValue> = Vec::with_capacity(3);
    let (kind, id) = match (out.ack, out.event) {
        (Some(ack), _) => (Kind::Ack, Some(ack)),
        (None, Some(event)) => {
            args.push(event);
            (Kind::Event, out.id)
        }
        (None, None) => return None,
    };
    let spread: Vec<&RawValue>;
    match (out.error, out.data) {
        (Some(error), _) if kind == Kind::Ack => args.push(error),
        (_, Some(data)) if data.get() != "null" => {
            if data.get().starts_with("{\"$args\"") {
                #[derive(Deserialize)]
                struct Spread<'a> {
                    #[serde(borrow, rename = "$args")]
                    args: Vec<&'a RawValue>,
                }
                match serde_json::from_str::<Spread<'_>>(data.get()) {
                    Ok(many) => {
                        spread = many.args;
                        args.extend(spread.iter().copied());
                    }
                    Err(_) => args.push(data),
                }
            } else {
                args.push(data);
            }
        }
        _ => {}
    }
    let mut array = String::with_capacity(frame.len() + 8);
    array.push('[');
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            array.push(',');
        }
        array.push_str(arg.get());
    }
    array.push(']');
    if !array.contains("\"$binary\"") {
        return Some(vec![EngineMessage::text(packet::encode(
            kind, nsp, id, 0, &array,
        ))]);
    }
    // Binary values: placeholders in the JSON, the bytes as attachments after it.
    let mut value: Value = serde_json::from_str(&array).ok()?;
    let mut attachments = Vec::new();
    take_binaries(&mut value, &mut attachments);
    let kind = match kind {
        Kind::Ack => Kind::BinaryAck,
        _ => Kind::BinaryEvent,
    };
    let json = serde_json::to_string(&value).ok()?;
    let mut payloads = vec![EngineMessage::text(packet::encode(
        kind,
        nsp,
        id,
        attachments.len(),
        &json,
    ))];
    payloads.extend(attachments.into_iter().map(EngineMessage::Binary));
    Some(payloads)
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

    fn text(payloads: Option<Vec<EngineMessage>>) -> Vec<EngineMessage> {
        payloads.expect("translated")
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
