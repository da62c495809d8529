//! A default English message for every rule of the `validator` crate, as class-validator has
//! one for each of its decorators: `age must be at least 13`, `name must be 1 to 20 characters
//! long`. A rule's own `message = "..."` replaces it.

use serde_json::Value;
use validator::ValidationError;

/// The message of a broken rule that has none of its own, for the field called `name`.
pub(super) fn default(rule: &ValidationError, name: &str) -> String {
    let param = |key: &str| rule.params.get(key).map(number);
    match &*rule.code {
        "length" => {
            let unit = match rule.params.get("value") {
                Some(Value::String(_)) | None => "characters",
                Some(_) => "items",
            };
            let (min, max, equal) = (param("min"), param("max"), param("equal"));
            match (equal, min, max) {
                (Some(equal), _, _) => format!("{name} must be exactly {equal} {unit} long"),
                (None, Some(min), Some(max)) => {
                    format!("{name} must be {min} to {max} {unit} long")
                }
                (None, Some(min), None) => format!("{name} must be at least {min} {unit} long"),
                (None, None, Some(max)) => format!("{name} must be at most {max} {unit} long"),
                (None, None, None) => format!("{name} has the wrong length"),
            }
        }
        "range" => {
            let bounds = [
                param("min").map(|min| format!("at least {min}")),
                param("exclusive_min").map(|min| format!("greater than {min}")),
                param("max").map(|max| format!("at most {max}")),
                param("exclusive_max").map(|max| format!("less than {max}")),
            ];
            let bounds: Vec<String> = bounds.into_iter().flatten().collect();
            if bounds.is_empty() {
                format!("{name} is out of range")
            } else {
                format!("{name} must be {}", bounds.join(" and "))
            }
        }
        "email" => format!("{name} must be an email"),
        "url" => format!("{name} must be a URL address"),
        "ip" => format!("{name} must be an IP address"),
        "credit_card" => format!("{name} must be a credit card number"),
        "phone" => format!("{name} must be a valid phone number"),
        "regex" => format!("{name} must match the expected format"),
        "non_control_character" => format!("{name} must not contain control characters"),
        "required" => format!("{name} is required"),
        "contains" => match param("needle") {
            Some(needle) => format!("{name} must contain {needle}"),
            None => format!("{name} must contain the expected text"),
        },
        "does_not_contain" => match param("needle") {
            Some(needle) => format!("{name} must not contain {needle}"),
            None => format!("{name} must not contain the forbidden text"),
        },
        "must_match" => match param("other") {
            Some(other) => format!("{name} must match {other}"),
            None => format!("{name} must match the other field"),
        },
        _ => format!("{name} is invalid"),
    }
}

/// A parameter as a sentence shows it: `13`, not `13.0`; a string without its quotes.
fn number(value: &Value) -> String {
    match value {
        Value::Number(number) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 1e15 => {
                format!("{}", float as i64)
            }
            _ => number.to_string(),
        },
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
