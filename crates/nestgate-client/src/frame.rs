//! The ws-json frames: `{"event", "data", "id"?}` both ways, and `{"ack", "data" | "error"}`
//! answering an `id` — what NestJS's `WsAdapter` reads and writes, plus nestgate's `id`/`ack`
//! extension.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// `{"event", "data", "id"?}`.
pub(crate) fn event<T: Serialize + ?Sized>(
    event: &str,
    data: &T,
    id: Option<u64>,
) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Event<'a, T: ?Sized> {
        event: &'a str,
        data: &'a T,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    }
    serde_json::to_string(&Event { event, data, id })
}

/// `{"ack": id, "data"}`: the client's answer to the server's request `id`.
pub(crate) fn ack<T: Serialize + ?Sized>(id: u64, data: &T) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Ack<'a, T: ?Sized> {
        ack: u64,
        data: &'a T,
    }
    serde_json::to_string(&Ack { ack: id, data })
}

/// A frame from the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// An event; with an `id`, the server waits for an answer.
    Event {
        name: String,
        data: Box<RawValue>,
        id: Option<u64>,
        /// A stored message's offset (connection-state recovery).
        offset: Option<String>,
    },
    /// The answer to the client's request `id`.
    Answer {
        id: u64,
        result: Result<Box<RawValue>, Value>,
    },
    /// JSON that is neither: what a NestJS handler returns to a frame without an id, when it
    /// is not an event.
    Other(Value),
}

#[derive(Deserialize)]
struct Fields {
    event: Option<String>,
    data: Option<Box<RawValue>>,
    id: Option<u64>,
    ack: Option<u64>,
    error: Option<Value>,
    offset: Option<String>,
}

/// Reads a text frame; `Err` with what is wrong when it is not JSON.
pub(crate) fn decode(text: &str) -> Result<Incoming, String> {
    let Ok(fields) = serde_json::from_str::<Fields>(text) else {
        return match serde_json::from_str::<Value>(text) {
            Ok(other) => Ok(Incoming::Other(other)),
            Err(err) => Err(format!(
                "a frame that is not JSON came ({err}): {}",
                prefix(text, 100)
            )),
        };
    };
    let data = || fields.data.clone().unwrap_or_else(null);
    match (&fields.event, fields.ack) {
        (None, Some(id)) => {
            let result = match fields.error {
                Some(error) => Err(error),
                None => Ok(data()),
            };
            Ok(Incoming::Answer { id, result })
        }
        (Some(name), _) => Ok(Incoming::Event {
            name: name.clone(),
            data: data(),
            id: fields.id,
            offset: fields.offset.clone(),
        }),
        (None, None) => Ok(Incoming::Other(
            serde_json::from_str(text).unwrap_or(Value::Null),
        )),
    }
}

fn null() -> Box<RawValue> {
    // `null` is valid JSON: this cannot fail.
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_are_what_ws_json_reads() {
        assert_eq!(
            event("say", &json!({"text": "hi"}), None).unwrap(),
            r#"{"event":"say","data":{"text":"hi"}}"#
        );
        assert_eq!(
            event("rooms", &(), Some(7)).unwrap(),
            r#"{"event":"rooms","data":null,"id":7}"#
        );
        assert_eq!(ack(3, &42).unwrap(), r#"{"ack":3,"data":42}"#);
    }

    #[test]
    fn answers_events_and_other_frames_are_told_apart() {
        match decode(r#"{"ack":4,"data":[1]}"#).unwrap() {
            Incoming::Answer {
                id: 4,
                result: Ok(data),
            } => assert_eq!(data.get(), "[1]"),
            other => panic!("{other:?}"),
        }
        match decode(r#"{"ack":5,"error":{"status":"error","message":"no"}}"#).unwrap() {
            Incoming::Answer {
                id: 5,
                result: Err(error),
            } => assert_eq!(error["message"], "no"),
            other => panic!("{other:?}"),
        }
        match decode(r#"{"event":"said","data":"hi","offset":"e-3"}"#).unwrap() {
            Incoming::Event { offset, .. } => assert_eq!(offset.as_deref(), Some("e-3")),
            other => panic!("{other:?}"),
        }
        match decode(r#"{"event":"said","data":"hi","id":9}"#).unwrap() {
            Incoming::Event { name, data, id, .. } => {
                assert_eq!(
                    (name.as_str(), data.get(), id),
                    ("said", r#""hi""#, Some(9))
                );
            }
            other => panic!("{other:?}"),
        }
        match decode(r#"{"event":"tick"}"#).unwrap() {
            Incoming::Event { data, id: None, .. } => assert_eq!(data.get(), "null"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode("7").unwrap(),
            Incoming::Other(Value::Number(_))
        ));
        assert!(matches!(decode(r#"{"x":1}"#).unwrap(), Incoming::Other(_)));
        let err = decode("not json é").unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }
}
