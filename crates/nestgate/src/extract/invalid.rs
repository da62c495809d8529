//! The one shape of a rejected payload: [`FieldError`]s under `"Validation failed"`, for data of
//! the wrong type ([`Data<T>`](super::Data)), for broken rules ([`Valid<T>`](super::Valid)) and
//! for rules a handler checks itself ([`WsException::validation`]).

use crate::error::WsException;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;

/// The message of every rejected payload.
pub const VALIDATION_FAILED: &str = crate::error::VALIDATION_FAILED;

/// One rejected field, as the client receives it, named as the client sent it.
///
/// ```json
/// {"field": "auctionId", "rule": "type", "message": "auctionId must be a string"}
/// ```
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// The field's path as the client sent it (`name`, `address.city`, `items[2].qty`; empty for
    /// the data as a whole, `__all__` for a struct-level rule).
    pub field: String,
    /// What was broken: `required`, `type`, `enum`, `whitelist` for data of the wrong shape; the
    /// rule's code (`length`, `range`, `email`, a custom validator's code) for a broken rule.
    pub rule: Cow<'static, str>,
    /// A sentence for people, starting with the field's name (as class-validator's).
    pub message: Cow<'static, str>,
    /// The rule's parameters (`min`, `max`, and the offending `value`), when it has any.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub params: HashMap<Cow<'static, str>, serde_json::Value>,
}

impl FieldError {
    /// A rejected field: its path, the rule's code and the message.
    ///
    /// ```
    /// use nestgate::extract::FieldError;
    ///
    /// let low = FieldError::new("amount", "above_highest", "amount must be above the highest bid, 120")
    ///     .with_param("min", 121);
    /// assert_eq!(low.params["min"], 121);
    /// ```
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        FieldError {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
            params: HashMap::new(),
        }
    }

    /// Adds a parameter of the rule (`min`, `max`, ...).
    pub fn with_param(mut self, name: impl Into<Cow<'static, str>>, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.params.insert(name.into(), value);
        self
    }
}

impl WsException {
    /// The exception of rejected data, in the shape [`Data<T>`](super::Data) and
    /// [`Valid<T>`](super::Valid) answer it: for a rule that needs state ("more than the highest
    /// bid") checked by the handler.
    ///
    /// ```
    /// use nestgate::WsException;
    /// use nestgate::extract::FieldError;
    ///
    /// let err = WsException::validation([FieldError::new("amount", "min", "amount must be more than 120")]);
    /// assert_eq!(err.data().unwrap()["errors"][0]["field"], "amount");
    /// assert_eq!(err.data().unwrap()["message"], "Validation failed");
    /// ```
    pub fn validation(errors: impl IntoIterator<Item = FieldError>) -> Self {
        let errors: Vec<FieldError> = errors.into_iter().collect();
        WsException::with_data(serde_json::json!({
            "status": "error",
            "message": VALIDATION_FAILED,
            "errors": errors,
        }))
    }
}

/// The name a message calls a field by: its last path segment, `data` for the data itself.
pub(crate) fn display_name(path: &str) -> &str {
    if path.is_empty() {
        return "data";
    }
    let start = path.rfind('.').map_or(0, |dot| dot + 1);
    let last = &path[start..];
    if last.is_empty() || last.starts_with('[') {
        path
    } else {
        last
    }
}

/// Appends a field to a path.
pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_last_segment() {
        assert_eq!(display_name(""), "data");
        assert_eq!(display_name("name"), "name");
        assert_eq!(display_name("address.city"), "city");
        assert_eq!(display_name("items[2].qty"), "qty");
        assert_eq!(display_name("[0]"), "[0]");
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a[1]", "b"), "a[1].b");
    }
}
