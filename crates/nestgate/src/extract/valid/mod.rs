//! [`Valid<T>`]: [`Data<T>`](crate::extract::Data) that also runs the `validator` crate's rules,
//! as NestJS's `ValidationPipe` with class-validator.

use crate::error::WsException;
use crate::extract::invalid::{FieldError, display_name, join};
use crate::extract::{DataRejection, FromMessage, MessageParts, Payload, decode_data};
use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

mod messages;
mod names;

/// The frame's `data`, deserialized and then validated with [`validator::Validate`].
///
/// Data that breaks rules is answered with every failed field and rule; data of the wrong shape
/// as [`Data<T>`](crate::extract::Data) answers it, in the same shape
/// ([`WsException::validation`]): fields named as the client sent them (serde's renames
/// followed), a message for every rule (the rule's own, or a default in English, as
/// class-validator's), its parameters:
///
/// ```json
/// {"status": "error", "message": "Validation failed",
///  "errors": [{"field": "displayName", "rule": "length", "message": "1 to 20 characters",
///              "params": {"min": 1, "max": 20, "value": ""}},
///             {"field": "age", "rule": "range", "message": "age must be at least 13",
///              "params": {"min": 13, "value": 9}}]}
/// ```
///
/// Nested structs and lists are validated with `#[validate(nested)]`; their fields are named by
/// path (`address.city`, `items[2].qty`). A rule that needs state (more than the highest bid)
/// is checked in the handler and answered in the same shape with [`WsException::validation`].
///
/// ```
/// use nestgate::extract::Valid;
/// use nestgate::prelude::*;
/// use validator::Validate;
///
/// #[derive(serde::Deserialize, Validate)]
/// #[serde(rename_all = "camelCase")]
/// struct SignUp {
///     #[validate(length(min = 1, max = 20, message = "1 to 20 characters"))]
///     display_name: String,
///     #[validate(range(min = 13))]
///     age: u32,
/// }
///
/// #[websocket_gateway]
/// #[derive(Default)]
/// struct Accounts;
///
/// #[websocket_gateway]
/// impl Accounts {
///     #[subscribe_message("sign_up")]
///     fn sign_up(&self, Valid(form): Valid<SignUp>) -> String {
///         format!("welcome, {}", form.display_name)
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid<T>(pub T);

/// The rejection of [`Valid<T>`].
#[derive(Debug)]
pub enum ValidRejection {
    /// The data did not deserialize into the type.
    Data(DataRejection),
    /// The data broke validation rules: every broken rule, named as the client sent the field.
    Invalid(Vec<FieldError>),
}

/// Every broken rule of `errors`, fields in name order, named as the client sent them in `sent`
/// (the data as JSON; `Value::Null` keeps the Rust names), each with a message.
///
/// `validator` reports Rust field names (`auction_id`); the client sent `auctionId` (serde's
/// `rename_all`). A field is named by the key of `sent` that the Rust name becomes under one of
/// serde's case conventions; a field the client did not send, by the convention its siblings
/// use. A field renamed one by one (`#[serde(rename = "...")]`) and absent from `sent` keeps its
/// Rust name.
pub fn field_errors(errors: &ValidationErrors, sent: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", sent, &mut out);
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, sent: &Value, out: &mut Vec<FieldError>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let key = names::as_sent(field, sent);
        let path = join(prefix, &key);
        let inner = sent.get(&*key).unwrap_or(&Value::Null);
        match kind {
            ValidationErrorsKind::Field(rules) => {
                out.extend(rules.iter().map(|rule| {
                    FieldError {
                        field: path.clone(),
                        rule: rule.code.clone(),
                        message: rule
                            .message
                            .clone()
                            .unwrap_or_else(|| messages::default(rule, display_name(&path)).into()),
                        params: rule.params.clone(),
                    }
                }));
            }
            ValidationErrorsKind::Struct(nested) => collect(nested, &path, inner, out),
            ValidationErrorsKind::List(items) => {
                let mut items: Vec<_> = items.iter().collect();
                items.sort_by_key(|(index, _)| **index);
                for (index, nested) in items {
                    let item = inner.get(*index).unwrap_or(&Value::Null);
                    collect(nested, &format!("{path}[{index}]"), item, out);
                }
            }
        }
    }
}

impl From<ValidRejection> for WsException {
    fn from(rejection: ValidRejection) -> Self {
        match rejection {
            ValidRejection::Data(data) => data.into(),
            ValidRejection::Invalid(errors) => WsException::validation(errors),
        }
    }
}

impl<T: DeserializeOwned + Validate + Send> FromMessage for Valid<T> {
    type Rejection = ValidRejection;

    async fn from_message(_parts: &MessageParts, payload: Payload) -> Result<Self, ValidRejection> {
        let value: T = decode_data(payload.json()).map_err(ValidRejection::Data)?;
        match value.validate() {
            Ok(()) => Ok(Valid(value)),
            Err(errors) => Err(ValidRejection::Invalid(explain(&errors, payload.json()))),
        }
    }
}

/// The broken rules, with the names the client sent (read again from the data, only now).
#[cold]
fn explain(errors: &ValidationErrors, json: &str) -> Vec<FieldError> {
    let sent: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    field_errors(errors, &sent)
}
