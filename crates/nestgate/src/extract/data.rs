//! [`Data<T>`]: the frame's `data` deserialized with serde, and [`DataRejection`], which names the
//! failing field.

use super::{FromMessage, MessageParts, Payload};
use crate::error::WsException;
use serde::de::DeserializeOwned;

/// The frame's `data`, deserialized with serde straight from the received bytes.
///
/// An absent `data` deserializes as `null`, so `Data<Option<T>>` and `Data<()>` accept it.
/// When deserialization fails the client is told why, naming the field:
/// `invalid data at \`room\`: invalid type: integer \`5\`, expected a string`.
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
#[derive(Debug)]
pub struct DataRejection(String);

impl DataRejection {
    /// The message the client receives.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<DataRejection> for WsException {
    fn from(rejection: DataRejection) -> Self {
        WsException::new(rejection.0)
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
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|err| {
        let mut path = err.path().to_string();
        if path.len() > MAX_PATH_IN_MESSAGE {
            // Deeply nested data (the recursion limit) would make the message as long as it.
            let end = crate::util::text::prefix(&path, MAX_PATH_IN_MESSAGE).len();
            path.truncate(end);
            path.push('…');
        }
        let inner = err.into_inner();
        // serde_json's position is relative to `data`, which the client does not see as a
        // document of its own: say only what and where.
        let what = strip_position(&inner.to_string());
        DataRejection(if path == "." {
            format!("invalid data: {what}")
        } else {
            format!("invalid data at `{path}`: {what}")
        })
    }) {
        Err(rejection) => rejection,
        // Not reachable for a deterministic `Deserialize`; said plainly if one is not.
        Ok(_) => DataRejection("invalid data".to_owned()),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Join {
        room: String,
        limit: u32,
    }

    #[test]
    fn data_errors_name_the_field() {
        let err = decode_data::<Join>(r#"{"room":"a","limit":"x"}"#).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid data at `limit`: invalid type: string \"x\", expected u32"
        );
        let err = decode_data::<Join>(r#"{"limit":1}"#).unwrap_err();
        assert_eq!(err.message(), "invalid data: missing field `room`");
        let err = decode_data::<u8>("null").unwrap_err();
        assert_eq!(
            err.message(),
            "invalid data: invalid type: null, expected u8"
        );
    }
}
