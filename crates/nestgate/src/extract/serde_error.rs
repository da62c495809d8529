//! serde's error messages in the client's words: `invalid type: integer `5`, expected struct
//! JoinAuction` at `auction` becomes `{"field":"auction","rule":"type","message":"auction must be
//! an object"}`, with no Rust type on the wire.
//!
//! serde's messages are stable text (`serde::de::Error`'s provided constructors and serde_json's
//! own), so they are read back by their prefixes; anything else (a custom `Deserialize`'s own
//! words) is passed on as it is, under the rule `invalid`.

use super::invalid::{FieldError, display_name, join};

/// The rejected field at `path` (where serde stopped) for serde's `message`.
pub(crate) fn field_error(path: String, message: &str) -> FieldError {
    let message = strip_position(message);
    if let Some(field) = quoted_after(message, "missing field ") {
        let path = join(&path, field);
        let text = format!("{} is required", display_name(&path));
        return FieldError::new(path, "required", text);
    }
    if let Some(field) = quoted_after(message, "unknown field ") {
        let path = join(&path, field);
        let text = format!("property {} should not exist", display_name(&path));
        return FieldError::new(path, "whitelist", text);
    }
    if let Some(field) = quoted_after(message, "duplicate field ") {
        let path = join(&path, field);
        let text = format!("{} is given twice", display_name(&path));
        return FieldError::new(path, "duplicate", text);
    }
    let name = display_name(&path).to_owned();
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        let values = expected.trim_start_matches("one of ").replace('`', "");
        let text = if expected.starts_with("there are no variants") {
            format!("{name} has no allowed values")
        } else {
            format!("{name} must be one of the following values: {values}")
        };
        return FieldError::new(path, "enum", text);
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((_, expected)) = rest.rsplit_once(", expected ")
        {
            let text = format!("{name} must be {}", expected_in_words(expected));
            return FieldError::new(path, "type", text);
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        let text = format!("{name} must be {}", expected_in_words(expected));
        return FieldError::new(path, "length", text);
    }
    if message.starts_with("number out of range") {
        return FieldError::new(path, "range", format!("{name} is out of range"));
    }
    if message.starts_with("recursion limit exceeded") {
        return FieldError::new(path, "depth", format!("{name} is nested too deeply"));
    }
    FieldError::new(path, "invalid", format!("{name} is invalid: {message}"))
}

/// What serde expected, in words a client understands: no Rust type names.
fn expected_in_words(expected: &str) -> String {
    let words = match expected {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" => "an integer from -128 to 127",
        "i16" => "an integer from -32768 to 32767",
        "i32" => "an integer from -2147483648 to 2147483647",
        "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" | "string" => "a string",
        "a character" | "char" => "a single character",
        "a boolean" | "bool" => "a boolean",
        "unit" => "null",
        "a sequence" | "an array" => "an array",
        "a map" | "map" => "an object",
        _ => {
            if expected.starts_with("struct ") || expected.starts_with("a map") {
                "an object"
            } else if expected.starts_with("tuple struct ") || expected.starts_with("a tuple") {
                return expected_tuple(expected);
            } else if expected.starts_with("enum ") || expected.starts_with("variant ") {
                "one of the allowed values"
            } else if expected.starts_with("an array of length ")
                || expected.starts_with("a sequence of length ")
            {
                return expected.replacen("a sequence", "an array", 1);
            } else {
                // A custom visitor's own words (`a positive number`), not a Rust type name.
                return expected.to_owned();
            }
        }
    };
    words.to_owned()
}

/// `a tuple of size 2` stays; `tuple struct Point` becomes an array.
fn expected_tuple(expected: &str) -> String {
    match expected.strip_prefix("a tuple of size ") {
        Some(size) => format!("an array of {size} items"),
        None => "an array".to_owned(),
    }
}

/// The first backquoted word after `prefix`, when `message` starts with it.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(word, _)| word)
}

/// serde_json's position is relative to `data`, which the client does not see as a document of
/// its own: the field says where.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, message: &str, field: &str, rule: &str, text: &str) {
        let error = field_error(path.to_owned(), message);
        assert_eq!(
            (error.field.as_str(), &*error.rule, &*error.message),
            (field, rule, text),
            "{message}"
        );
    }

    #[test]
    fn serde_messages_become_field_errors() {
        check(
            "",
            "missing field `auctionId`",
            "auctionId",
            "required",
            "auctionId is required",
        );
        check(
            "bid",
            "missing field `amount` at line 1 column 9",
            "bid.amount",
            "required",
            "amount is required",
        );
        check(
            "auctionId",
            "invalid type: integer `5`, expected a string at line 1 column 15",
            "auctionId",
            "type",
            "auctionId must be a string",
        );
        check(
            "",
            "invalid type: string \"x\", expected struct JoinAuction",
            "",
            "type",
            "data must be an object",
        );
        check(
            "items[2].qty",
            "invalid value: integer `300`, expected u8",
            "items[2].qty",
            "type",
            "qty must be an integer from 0 to 255",
        );
        check(
            "limit",
            "invalid type: string \"x\", expected u32",
            "limit",
            "type",
            "limit must be an integer from 0 to 4294967295",
        );
        check(
            "kind",
            "unknown variant `x`, expected one of `open`, `closed`",
            "kind",
            "enum",
            "kind must be one of the following values: open, closed",
        );
        check(
            "kind",
            "unknown variant `x`, expected `open`",
            "kind",
            "enum",
            "kind must be one of the following values: open",
        );
        check(
            "",
            "unknown field `extra`, expected `room` or `limit`",
            "extra",
            "whitelist",
            "property extra should not exist",
        );
        check(
            "p",
            "invalid length 1, expected a tuple of size 2",
            "p",
            "length",
            "p must be an array of 2 items",
        );
        check(
            "p",
            "invalid type: map, expected tuple struct Point",
            "p",
            "type",
            "p must be an array",
        );
        check(
            "n",
            "number out of range",
            "n",
            "range",
            "n is out of range",
        );
        check(
            "n",
            "must be positive",
            "n",
            "invalid",
            "n is invalid: must be positive",
        );
        check(
            "e",
            "invalid type: null, expected enum Kind",
            "e",
            "type",
            "e must be one of the allowed values",
        );
    }
}
