//! [`Valid<T>`]: [`Data<T>`](crate::extract::Data) that also runs the `validator` crate's rules,
//! as NestJS's `ValidationPipe` with class-validator.

use crate::error::WsException;
use crate::extract::{DataRejection, FromMessage, MessageParts, Payload, decode_data};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::collections::HashMap;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// The frame's `data`, deserialized and then validated with [`validator::Validate`].
///
/// Data of the wrong shape is answered as [`Data<T>`](crate::extract::Data) answers it (the serde
/// message naming the field). Data that breaks rules is answered with every failed field and
/// rule, as a structured exception:
///
/// ```json
/// {"status": "error", "message": "Validation failed",
///  "errors": [{"field": "name", "rule": "length", "message": "1 to 20 characters",
///              "params": {"min": 1, "max": 20, "value": ""}}]}
/// ```
///
/// Nested structs and lists are validated with `#[validate(nested)]`; their fields are named by
/// path (`address.city`, `items[2].qty`).
///
/// ```
/// use nestgate::extract::Valid;
/// use nestgate::prelude::*;
/// use validator::Validate;
///
/// #[derive(serde::Deserialize, Validate)]
/// struct SignUp {
///     #[validate(length(min = 1, max = 20, message = "1 to 20 characters"))]
///     name: String,
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
///         format!("welcome, {}", form.name)
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
    /// The data broke validation rules.
    Invalid(ValidationErrors),
}

/// One broken rule, as the client receives it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// The field's path (`name`, `address.city`, `items[2].qty`; `__all__` for struct-level rules).
    pub field: String,
    /// The rule's code (`length`, `range`, `email`, or a custom validator's code).
    pub rule: Cow<'static, str>,
    /// The rule's message, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'static, str>>,
    /// The rule's parameters (`min`, `max`, and the offending `value`).
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub params: HashMap<Cow<'static, str>, serde_json::Value>,
}

/// Every broken rule of `errors`, fields in name order, with their paths.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(rules) => {
                out.extend(rules.iter().map(|rule| FieldError {
                    field: path.clone(),
                    rule: rule.code.clone(),
                    message: rule.message.clone(),
                    params: rule.params.clone(),
                }));
            }
            ValidationErrorsKind::Struct(nested) => collect(nested, &path, out),
            ValidationErrorsKind::List(items) => {
                let mut items: Vec<_> = items.iter().collect();
                items.sort_by_key(|(index, _)| **index);
                for (index, nested) in items {
                    collect(nested, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

impl From<ValidRejection> for WsException {
    fn from(rejection: ValidRejection) -> Self {
        match rejection {
            ValidRejection::Data(data) => data.into(),
            ValidRejection::Invalid(errors) => WsException::with_data(serde_json::json!({
                "status": "error",
                "message": "Validation failed",
                "errors": field_errors(&errors),
            })),
        }
    }
}

impl<T: DeserializeOwned + Validate + Send> FromMessage for Valid<T> {
    type Rejection = ValidRejection;

    async fn from_message(_parts: &MessageParts, payload: Payload) -> Result<Self, ValidRejection> {
        let value: T = decode_data(payload.json()).map_err(ValidRejection::Data)?;
        value.validate().map_err(ValidRejection::Invalid)?;
        Ok(Valid(value))
    }
}
