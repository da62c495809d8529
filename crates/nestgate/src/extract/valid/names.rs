//! A Rust field name as the client sent it: `auction_id` is `auctionId` under serde's
//! `rename_all = "camelCase"`, found among the keys the client sent.

use serde_json::Value;
use std::borrow::Cow;

/// The key of `sent` (an object) that the Rust field `field` was deserialized from; for a field
/// the client did not send, `field` under the convention its sibling keys follow.
pub(super) fn as_sent<'f>(field: &'f str, sent: &Value) -> Cow<'f, str> {
    let Some(object) = sent.as_object() else {
        return Cow::Borrowed(field);
    };
    if object.contains_key(field) || field == "__all__" {
        return Cow::Borrowed(field);
    }
    let candidates = [
        camel(field),
        pascal(field),
        field.replace('_', "-"),
        field.to_uppercase(),
        field.to_uppercase().replace('_', "-"),
        field.replace('_', ""),
        field.replace('_', "").to_uppercase(),
    ];
    if let Some(found) = candidates
        .iter()
        .find(|name| object.contains_key(name.as_str()))
    {
        return Cow::Owned(found.clone());
    }
    // Absent (an `Option` that a `required` rule wanted): the siblings' convention.
    let keys = || object.keys().filter(|key| key.len() > 1);
    if keys().any(|key| key.contains('-')) {
        Cow::Owned(field.replace('_', "-"))
    } else if keys().any(|key| !key.contains('_') && key.chars().any(char::is_uppercase)) {
        let pascal_case = keys().all(|key| key.starts_with(char::is_uppercase));
        Cow::Owned(if pascal_case {
            pascal(field)
        } else {
            camel(field)
        })
    } else {
        Cow::Borrowed(field)
    }
}

/// `auction_id` → `auctionId`, as serde's `camelCase`.
fn camel(field: &str) -> String {
    let pascal = pascal(field);
    let mut chars = pascal.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => pascal,
    }
}

/// `auction_id` → `AuctionId`, as serde's `PascalCase`.
fn pascal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_named_as_sent() {
        let sent = json!({"auctionId": "", "maxBid": 1});
        assert_eq!(as_sent("auction_id", &sent), "auctionId");
        assert_eq!(as_sent("max_bid", &sent), "maxBid");
        assert_eq!(
            as_sent("note_text", &sent),
            "noteText",
            "absent: the siblings' camelCase"
        );
        let sent = json!({"AuctionId": 1});
        assert_eq!(as_sent("auction_id", &sent), "AuctionId");
        assert_eq!(as_sent("note", &sent), "Note");
        let sent = json!({"auction-id": 1});
        assert_eq!(as_sent("auction_id", &sent), "auction-id");
        assert_eq!(as_sent("max_bid", &sent), "max-bid");
        let sent = json!({"auction_id": 1, "x": 2});
        assert_eq!(as_sent("auction_id", &sent), "auction_id");
        assert_eq!(as_sent("max_bid", &sent), "max_bid");
        assert_eq!(
            as_sent("AUCTION_ID", &json!({"AUCTION_ID": 1})),
            "AUCTION_ID"
        );
        assert_eq!(as_sent("a", &Value::Null), "a");
    }
}
