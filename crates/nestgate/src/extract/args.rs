//! [`Args`] (every argument of a Socket.IO event) and [`Binary`] (bytes inside JSON data).

use crate::extract::{FromMessage, MessageParts, Payload};
use crate::protocol::{ARGS_KEY, BINARY_KEY};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::convert::Infallible;

/// Every argument of a message, in order.
///
/// A Socket.IO client can send several arguments (`socket.emit("move", x, y)`): `Data<T>` then
/// sees them as one array, and `Args` as they came. A ws-json message has one argument, its
/// `data` (none when `data` is absent or `null`).
///
/// Sent as data (`socket.emit("moved", &Args(..))`, or returned as a handler's ack), `Args` is
/// spread back into several arguments for Socket.IO clients; ws-json clients see
/// `{"$args": [...]}`.
///
/// ```
/// use nestgate::extract::Args;
/// use nestgate::prelude::*;
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Echo;
///
/// #[websocket_gateway]
/// impl Echo {
///     /// `socket.emit("message", 1, "2", {...})` → `message-back` with the same arguments.
///     #[subscribe_message("message")]
///     fn message(&self, socket: Socket, Args(args): Args) -> Result<(), WsException> {
///         socket.emit("message-back", &Args(args))?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(pub Vec<Value>);

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(ARGS_KEY, &self.0)?;
        map.end()
    }
}

impl FromMessage for Args {
    type Rejection = Infallible;

    async fn from_message(parts: &MessageParts, payload: Payload) -> Result<Self, Infallible> {
        let json = payload.json();
        let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        Ok(Args(match (parts.args, value) {
            (Some(_), Value::Array(items)) => items,
            (_, Value::Null) => Vec::new(),
            (_, other) => vec![other],
        }))
    }
}

/// Bytes inside a message's data.
///
/// Socket.IO carries them as binary attachments; ws-json, which has only text, as
/// `{"$binary": "<base64>"}`. Deserialize it from either client, serialize it to send bytes.
///
/// ```
/// use nestgate::extract::Binary;
/// use nestgate::prelude::*;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Upload {
///     name: String,
///     content: Binary,
/// }
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Files;
///
/// #[websocket_gateway]
/// impl Files {
///     #[subscribe_message("upload")]
///     fn upload(&self, Data(upload): Data<Upload>) -> usize {
///         upload.content.0.len()
///     }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binary(pub Bytes);

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(BINARY_KEY, &BASE64.encode(&self.0))?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BinaryVisitor;

        impl<'de> Visitor<'de> for BinaryVisitor {
            type Value = Binary;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("binary data: {\"$binary\": \"<base64>\"}")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == BINARY_KEY {
                        let encoded: std::borrow::Cow<'de, str> = map.next_value()?;
                        bytes = Some(
                            BASE64
                                .decode(encoded.as_bytes())
                                .map_err(|_| de::Error::custom("`$binary` is not valid base64"))?,
                        );
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                bytes
                    .map(|bytes| Binary(bytes.into()))
                    .ok_or_else(|| de::Error::missing_field(BINARY_KEY))
            }
        }

        deserializer.deserialize_map(BinaryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_round_trips_as_base64_json() {
        let binary = Binary(Bytes::from_static(&[1, 2, 3]));
        let json = serde_json::to_string(&binary).unwrap();
        assert_eq!(json, r#"{"$binary":"AQID"}"#);
        assert_eq!(serde_json::from_str::<Binary>(&json).unwrap(), binary);
        assert!(serde_json::from_str::<Binary>(r#"{"$binary":"!!"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Args(vec![Value::from(1)])).unwrap(),
            r#"{"$args":[1]}"#
        );
    }
}
