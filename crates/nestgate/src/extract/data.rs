//! [`Data<T>`]: the frame's `data` deserialized with serde, and [`DataRejection`], which names the
//! failing field.

use super::invalid::FieldError;
use super::{FromMessage, MessageParts, Payload};
use crate::error::WsException;
use serde::de::DeserializeOwned;

/// The frame's `data`, deserialized with serde straight from the received bytes.
///
/// An absent `data` deserializes as `null`, so `Data<Option<T>>` and `Data<()>` accept it.
/// When deserialization fails the client is told why, naming the field as it sent it
/// ([`DataRejection`]): `room must be a string`.
///
/// ```
/// use nestgate::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Join {
///     room: String,
/// }
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Rooms;
///
/// #[websocket_gateway]
/// impl Rooms {
///     #[subscribe_message("join")]
///     fn join(&self, Data(join): Data<Join>) -> String {
///         format!("joined {}", join.room)
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Data<T>(pub T);

/// The rejection of [`Data<T>`]: the payload did not match the type.
///
/// The client receives it in the shape of every rejected payload ([`WsException::validation`]),
/// the field named as it sent it and no Rust type in the message:
/// `{"status":"error","message":"Validation failed","errors":[{"field":"room","rule":"type","message":"room must be a string"}]}`.
#[derive(Debug)]
pub struct DataRejection(FieldError);

impl DataRejection {
    /// The sentence the client receives for the field (`room must be a string`).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The rejected field.
    pub fn field_error(&self) -> &FieldError {
        &self.0
    }
}

impl From<DataRejection> for WsException {
    fn from(rejection: DataRejection) -> Self {
        WsException::validation([rejection.0])
    }
}

impl<T: DeserializeOwned + Send> FromMessage for Data<T> {
    type Rejection = DataRejection;

    async fn from_message(_parts: &MessageParts, payload: Payload) -> Result<Self, DataRejection> {
        decode_data(payload.json()).map(Data)
    }
}

/// The longest field path a data error names.
const MAX_PATH_IN_MESSAGE: usize = 64;

/// Deserializes `data`, naming the failing field in the error.
///
/// The path is tracked only when deserializing failed: a second pass over the same text fails
/// at the same place, and valid data (nearly all of it) does not pay for the bookkeeping.
pub(crate) fn decode_data<T: DeserializeOwned>(json: &str) -> Result<T, DataRejection> {
    match serde_json::from_str(json) {
        Ok(value) => Ok(value),
        Err(_) => Err(explain_data_error::<T>(json)),
    }
}

/// The error of deserializing `json` as `T`, with the path of the failing field.
#[cold]
fn explain_data_error<T: DeserializeOwned>(json: &str) -> DataRejection {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(err) => {
            let mut path = err.path().to_string();
            if path == "." {
                path.clear();
            }
            if path.len() > MAX_PATH_IN_MESSAGE {
                // Deeply nested data (the recursion limit) would make the path as long as it.
                let end = crate::util::text::prefix(&path, MAX_PATH_IN_MESSAGE).len();
                path.truncate(end);
                path.push('…');
            }
            DataRejection(super::serde_error::field_error(
                path,
                &err.into_inner().to_string(),
            ))
        }
        // Not reachable for a deterministic `Deserialize`; said plainly if one is not.
        Ok(_) => DataRejection(FieldError::new("", "type", "data is invalid")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Join {
        room_name: String,
        limit: u32,
    }

    fn rejected<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> (String, String, String) {
        let error = decode_data::<T>(json).unwrap_err().0;
        (
            error.field,
            error.rule.into_owned(),
            error.message.into_owned(),
        )
    }

    #[test]
    fn data_errors_name_the_field_as_the_client_sent_it() {
        let owned = |(a, b, c): (&str, &str, &str)| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            rejected::<Join>(r#"{"roomName":"a","limit":"x"}"#),
            owned((
                "limit",
                "type",
                "limit must be an integer from 0 to 4294967295"
            ))
        );
        assert_eq!(
            rejected::<Join>(r#"{"limit":1}"#),
            owned(("roomName", "required", "roomName is required"))
        );
        assert_eq!(
            rejected::<Join>(r#"{"roomName":5,"limit":1}"#),
            owned(("roomName", "type", "roomName must be a string"))
        );
        assert_eq!(
            rejected::<Join>("[1]"),
            owned(("[0]", "type", "[0] must be a string"))
        );
        assert_eq!(
            rejected::<Join>("7"),
            owned(("", "type", "data must be an object"))
        );
        assert_eq!(
            rejected::<u8>("null"),
            owned(("", "type", "data must be an integer from 0 to 255"))
        );
    }
}
