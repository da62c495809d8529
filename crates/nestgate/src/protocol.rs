//! The ws-json codec: text frames ⇄ `{event, data, id}`, acks and exception bodies. The core
//! speaks ws-json through this module alone; the other module that reads and writes ws-json
//! frames is Socket.IO's translator (`socketio/translate.rs`), which turns them into packets.
//!
//! Decoding borrows from the frame: the event name is a `&str` into it (unless it holds escapes)
//! and `data` is a byte range into it, deserialized later straight into the handler's type.

use crate::error::WsException;
use serde::Deserialize;
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

/// A decoded client frame, borrowing from the frame's text.
#[derive(Debug)]
pub(crate) struct Envelope<'a> {
    /// The event name, if the frame had one.
    pub(crate) event: Option<Cow<'a, str>>,
    /// Where `data` sits in the frame; `None` when absent or `null`.
    pub(crate) data: Option<Range<usize>>,
    /// The acknowledgement id the client asked for.
    pub(crate) id: Option<u64>,
    /// The server's acknowledgement id this frame answers (`{"ack": <id>, "data": ...}`).
    pub(crate) ack: Option<u64>,
    /// `data` is the array of a Socket.IO event's several arguments (`"args": n`).
    pub(crate) args: Option<u32>,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    event: Option<EventName<'a>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    ack: Option<u64>,
    #[serde(default)]
    args: Option<u32>,
}

/// serde borrows a `Cow<str>` only when it is a field of its own, not inside an `Option`.
#[derive(Deserialize)]
struct EventName<'a>(#[serde(borrow)] Cow<'a, str>);

/// The key of an embedded binary value.
pub(crate) const BINARY_KEY: &str = "$binary";
/// The key of several arguments in one `data` value.
pub(crate) const ARGS_KEY: &str = "$args";

/// How many characters of an unknown event name an error frame repeats (see [`shown_name`]).
pub(crate) const SHOWN_NAME_CHARS: usize = 64;

/// Decodes a client's text frame.
///
/// A frame is a JSON object. serde would also read a struct from an array (`["push", {...}]`,
/// fields by position); NestJS's `WsAdapter` dispatches nothing for one, so it is refused here
/// as any other non-object.
pub(crate) fn decode(text: &str) -> Result<Envelope<'_>, WsException> {
    if text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('[')
    {
        return Err(WsException::new(
            "invalid frame: expected a JSON object {\"event\": string, \"data\": any}: found an array",
        ));
    }
    let raw: RawEnvelope<'_> = serde_json::from_str(text).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                WsException::new(format!("malformed JSON: {err}"))
            }
            Category::Data => WsException::new(format!(
                "invalid frame: expected a JSON object {{\"event\": string, \"data\": any}}: {err}"
            )),
        }
    })?;
    let data = raw.data.map(|value| {
        let start = value.get().as_ptr() as usize - text.as_ptr() as usize;
        start..start + value.get().len()
    });
    Ok(Envelope {
        event: raw.event.map(|name| name.0),
        data,
        id: raw.id,
        ack: raw.ack,
        args: raw.args,
    })
}

/// A frame its transport has decoded already — Socket.IO's events and acks, whose packets were
/// validated as they were parsed — as ranges of the text it came in: dispatched as it is, not
/// written out as ws-json and parsed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The event name.
    pub(crate) event: Option<Name>,
    /// Where `data` sits in the text; `None` when there is none.
    pub(crate) data: Option<Range<usize>>,
    /// The acknowledgement id the client asked for.
    pub(crate) id: Option<u64>,
    /// The server's acknowledgement id this frame answers.
    pub(crate) ack: Option<u64>,
    /// `data` is the array of an event's several arguments.
    pub(crate) args: Option<u32>,
}

/// An event name in a [`Decoded`] frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// The name is this range of the text.
    At(Range<usize>),
    /// The name had escapes: unescaped.
    Owned(String),
}

impl Decoded {
    /// The envelope of `frame`, the text this was decoded from.
    pub(crate) fn envelope(self, frame: &str) -> Envelope<'_> {
        Envelope {
            event: self.event.map(|name| match name {
                Name::At(range) => Cow::Borrowed(&frame[range]),
                Name::Owned(name) => Cow::Owned(name),
            }),
            data: self.data,
            id: self.id,
            ack: self.ack,
            args: self.args,
        }
    }
}

/// The JSON text `data` stands for: the slice, or `null` when it is absent.
pub(crate) fn data_text<'a>(frame: &'a str, data: &Option<Range<usize>>) -> &'a str {
    match data {
        Some(range) => &frame[range.clone()],
        None => "null",
    }
}

/// An event name as error frames show it: at most [`SHOWN_NAME_CHARS`] characters, then "…", so
/// that a client cannot make the server repeat a 1 MiB name back to it twice.
pub(crate) fn shown_name(name: &str) -> Cow<'_, str> {
    match name.char_indices().nth(SHOWN_NAME_CHARS) {
        Some((end, _)) => Cow::Owned(format!("{}…", &name[..end])),
        None => Cow::Borrowed(name),
    }
}

/// Writes a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, value: &str) {
    // Writing a `str` into a `String` cannot fail: serde_json only fails on I/O or on maps with
    // non-string keys, and neither happens here.
    let escaped = serde_json::to_string(value).expect("a str always serializes");
    out.push_str(&escaped);
}

/// `{"event":<event>,"data":<data>}`.
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    event: &str,
    data: &T,
) -> serde_json::Result<String> {
    let data = serde_json::to_string(data)?;
    Ok(encode_event_raw(event, &data))
}

/// `{"event":<event>,"data":<data>,"id":<id>}`: an emit the client must acknowledge.
pub(crate) fn encode_event_with_id<T: Serialize + ?Sized>(
    event: &str,
    data: &T,
    id: u64,
) -> serde_json::Result<String> {
    let mut frame = encode_event(event, data)?;
    frame.pop();
    // Writing into a String cannot fail.
    let _ = write!(frame, ",\"id\":{id}}}");
    Ok(frame)
}

/// `frame`, an event frame as [`encode_event`] writes it, with `"offset":<offset>` at its end:
/// a message stored for connection-state recovery ([`crate::recovery`]).
pub(crate) fn with_offset(mut frame: String, offset: &str) -> String {
    debug_assert!(frame.ends_with('}'));
    frame.pop();
    frame.push_str(",\"offset\":");
    push_json_str(&mut frame, offset);
    frame.push('}');
    frame
}

/// The event that tells a ws-json client it is registered, with its session for recovery.
pub(crate) const CONNECTED_EVENT: &str = "nestgate:connected";

/// `{"event":<event>,"data":<raw JSON>}`.
pub(crate) fn encode_event_raw(event: &str, data: &str) -> String {
    let mut out = String::with_capacity(event.len() + data.len() + 22);
    out.push_str("{\"event\":");
    push_json_str(&mut out, event);
    out.push_str(",\"data\":");
    out.push_str(data);
    out.push('}');
    out
}

/// `{"ack":<id>,"data":<raw JSON>}`.
pub(crate) fn encode_ack(id: u64, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    // Writing into a String cannot fail.
    let _ = write!(out, "{{\"ack\":{id},\"data\":{data}}}");
    out
}

/// `{"ack":<id>,"error":{...}}`.
pub(crate) fn encode_ack_error(id: u64, exception: &WsException) -> String {
    let mut out = String::with_capacity(64);
    // Writing into a String cannot fail.
    let _ = write!(out, "{{\"ack\":{id},\"error\":");
    write_exception(&mut out, exception, None);
    out.push('}');
    out
}

/// The `cause` of a connection hook's error, as NestJS sends it: `{"pattern":"handleConnection"}`.
pub(crate) const CONNECTION_CAUSE: (&str, Option<&str>) = ("handleConnection", None);

/// `{"event":"exception","data":{"status":"error","message":...,"cause":{"pattern":<event>,"data":<data>}}}`.
///
/// `cause` is the frame's event name and the raw JSON text of its `data` (left out when `None`);
/// it is left out when the frame had no event, and for exceptions carrying an object.
pub(crate) fn encode_exception(
    exception: &WsException,
    cause: Option<(&str, Option<&str>)>,
) -> String {
    let mut out = String::with_capacity(96);
    out.push_str("{\"event\":\"exception\",\"data\":");
    write_exception(&mut out, exception, cause);
    out.push('}');
    out
}

/// Writes an exception's body as JSON, with `cause` added when given (NestJS 12's
/// `includeCause`).
///
/// `cause` is the event name and the raw JSON text of the frame's `data` (`None` leaves `data`
/// out, as for a connection hook's error). As NestJS's `BaseWsExceptionFilter` does, only a
/// message gets a `cause`: an object is sent as it is.
pub(crate) fn write_exception(
    out: &mut String,
    exception: &WsException,
    cause: Option<(&str, Option<&str>)>,
) {
    match exception.body() {
        Ok(message) => {
            out.push_str("{\"status\":\"error\",\"message\":");
            push_json_str(out, message);
            if let Some((pattern, data)) = cause {
                out.push_str(",\"cause\":{\"pattern\":");
                push_json_str(out, pattern);
                if let Some(data) = data {
                    out.push_str(",\"data\":");
                    out.push_str(data);
                }
                out.push('}');
            }
            out.push('}');
        }
        Err(value) => out.push_str(&value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_event_data_and_id_without_copying_data() {
        let frame = r#"{"event":"join","data":{"room":"a"},"id":7}"#;
        let envelope = decode(frame).unwrap();
        assert_eq!(envelope.event.as_deref(), Some("join"));
        assert!(matches!(envelope.event, Some(Cow::Borrowed(_))));
        assert_eq!(data_text(frame, &envelope.data), r#"{"room":"a"}"#);
        assert_eq!(envelope.id, Some(7));
    }

    #[test]
    fn event_names_with_escapes_are_unescaped() {
        let envelope = decode(r#"{"event":"a\u0062c"}"#).unwrap();
        assert_eq!(envelope.event.as_deref(), Some("abc"));
    }

    #[test]
    fn absent_and_null_data_read_as_null() {
        let frame = r#"{"event":"ping"}"#;
        assert_eq!(data_text(frame, &decode(frame).unwrap().data), "null");
        let frame = r#"{"event":"ping","data":null}"#;
        assert_eq!(data_text(frame, &decode(frame).unwrap().data), "null");
    }

    #[test]
    fn reports_malformed_and_non_object_frames() {
        let err = decode("{nope").unwrap_err();
        assert!(
            err.message().unwrap().starts_with("malformed JSON: "),
            "{err}"
        );
        for frame in [
            "[1,2]",
            r#"["push",{"a":1}]"#,
            r#" ["push",{"a":1},7]"#,
            "42",
        ] {
            let err = decode(frame).unwrap_err();
            assert!(
                err.message()
                    .unwrap()
                    .starts_with("invalid frame: expected a JSON object"),
                "{err}"
            );
        }
    }

    #[test]
    fn long_event_names_are_shown_truncated() {
        assert_eq!(shown_name("join"), "join");
        let exact = "é".repeat(SHOWN_NAME_CHARS);
        assert_eq!(shown_name(&exact), exact);
        let long = "é".repeat(100_000);
        let shown = shown_name(&long);
        assert_eq!(shown.chars().count(), SHOWN_NAME_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn encodes_frames() {
        assert_eq!(
            encode_event("a\"b", &5).unwrap(),
            r#"{"event":"a\"b","data":5}"#
        );
        assert_eq!(encode_ack(3, "[1]"), r#"{"ack":3,"data":[1]}"#);
        let exception = WsException::new("nope");
        assert_eq!(
            encode_ack_error(3, &exception),
            r#"{"ack":3,"error":{"status":"error","message":"nope"}}"#
        );
        assert_eq!(
            encode_exception(&exception, Some(("x", Some("1")))),
            r#"{"event":"exception","data":{"status":"error","message":"nope","cause":{"pattern":"x","data":1}}}"#
        );
        assert_eq!(
            encode_exception(&exception, Some(CONNECTION_CAUSE)),
            r#"{"event":"exception","data":{"status":"error","message":"nope","cause":{"pattern":"handleConnection"}}}"#
        );
        // An object is sent as it is, without a cause (NestJS's `BaseWsExceptionFilter`).
        let object = WsException::with_data(serde_json::json!({"code": "E_CUSTOM"}));
        assert_eq!(
            encode_exception(&object, Some(("x", Some("1")))),
            r#"{"event":"exception","data":{"code":"E_CUSTOM"}}"#
        );
    }
}
