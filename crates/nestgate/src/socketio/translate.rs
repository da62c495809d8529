//! Between Socket.IO packets and the ws-json frames the core dispatches and sends.
//!
//! The core speaks ws-json (`{"event", "data", "id"}`, `{"ack", "data" | "error"}`): a Socket.IO
//! EVENT becomes such a frame on its way in (several arguments become a `data` array marked
//! `"args": n`), and every frame the core sends to a Socket.IO socket becomes an EVENT or ACK
//! on its way out. Binary attachments travel inside JSON as `{"$binary": "<base64>"}`
//! ([`Binary`](super::Binary)); the placeholders of the wire replace them.

use super::packet::{self, Kind, Packet};
use crate::engineio::{EngineMessage, EngineSender};
use crate::util::sync::lock;
use axum::extract::ws::Utf8Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// The key of an embedded binary value.
pub(crate) const BINARY_KEY: &str = "$binary";
/// The key of several arguments in one `data` value.
pub(crate) const ARGS_KEY: &str = "$args";

/// The last frame translated for one namespace, shared by all its Socket.IO sockets: a
/// broadcast reaches every recipient's sink as the same bytes, so it is translated once. Each
/// namespace owns one ([`Namespace::translation`](crate::namespace::Namespace::translation)),
/// so a dynamic namespace's goes (with the frame it holds) when the namespace does.
pub(crate) struct Translation {
    last: std::sync::Mutex<Option<(Utf8Bytes, Arc<[EngineMessage]>)>>,
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
    fn outgoing(&self, frame: &Utf8Bytes, nsp: &str) -> Option<Arc<[EngineMessage]>> {
        let mut last = lock(&self.last);
        // The cache holds its frame, so an equal address is the same frame, not a new one
        // allocated where a freed one was.
        if let Some((cached, payloads)) = &*last
            && cached.as_str().as_ptr() == frame.as_str().as_ptr()
            && cached.len() == frame.len()
        {
            return Some(payloads.clone());
        }
        let payloads: Arc<[EngineMessage]> = outgoing(frame.as_str(), nsp)?.into();
        *last = Some((frame.clone(), payloads.clone()));
        Some(payloads)
    }

    /// Translates a core frame and queues it on the session (a frame with nothing to say to a
    /// Socket.IO client is dropped).
    pub(crate) fn send(
        &self,
        sender: &EngineSender,
        frame: &Utf8Bytes,
        nsp: &str,
    ) -> Result<(), crate::engineio::EngineSendError> {
        match self.outgoing(frame, nsp) {
            Some(payloads) => sender.send_all(payloads.iter().cloned()),
            None => Ok(()),
        }
    }

    /// [`send`](Self::send) for a volatile frame: dropped, not fatal, when the session's queue
    /// is full. Whether it was queued (a frame with nothing to say counts as sent).
    pub(crate) fn send_volatile(
        &self,
        sender: &EngineSender,
        frame: &Utf8Bytes,
        nsp: &str,
    ) -> Result<bool, crate::engineio::EngineSendError> {
        match self.outgoing(frame, nsp) {
            Some(payloads) => sender.try_send_all(payloads.iter().cloned()),
            None => Ok(true),
        }
    }
}

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
    use crate::engineio::{EngineConfig, EngineIo};

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
        translation.send(&a, &frame, "/").unwrap();
        translation.send(&b, &frame, "/").unwrap();
        let (queued_a, queued_b) = (a.queued(), b.queued());
        let (EngineMessage::Text(text_a), EngineMessage::Text(text_b)) =
            (&queued_a[0], &queued_b[0])
        else {
            panic!("text payloads: {queued_a:?}");
        };
        assert!(text_a.starts_with(r#"2["said","xxx"#), "{text_a}");
        assert_eq!(text_a.as_ptr(), text_b.as_ptr(), "the same bytes");
    }

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
