//! The log's Redis stream as this crate reads it: entry ids (the offsets clients are given)
//! and entries.

use redis::Value;
use std::fmt;

/// A stream entry id, `<ms>-<seq>`: the offset a client is given, ordered like the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Id(pub(crate) u64, pub(crate) u64);

impl Id {
    /// Parses `<ms>-<seq>`; anything else is no offset this store gave.
    pub(crate) fn parse(text: &str) -> Option<Id> {
        let (ms, seq) = text.split_once('-')?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Id(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The range bound just after it (`XRANGE` is inclusive; `(` needs Redis 6.2).
    pub(crate) fn after(self) -> String {
        match self.1.checked_add(1) {
            Some(seq) => Id(self.0, seq).to_string(),
            None => Id(self.0 + 1, 0).to_string(),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// One entry of the log: a stored message (`f`: the frame, `t`: its target as JSON, `n`:
/// the node that sent it), or a marker (no frame) that only gives the stream an id.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: Id,
    pub(crate) frame: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) node: Option<String>,
}

/// The entries of an `XRANGE` answer (`[[id, [field, value, …]], …]`); malformed ones are
/// left out.
pub(crate) fn entries(value: Value) -> Vec<Entry> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items.into_iter().filter_map(entry).collect()
}

/// The entries of an `XREAD` answer for one stream (`[[name, entries]]`, nil on timeout).
pub(crate) fn read_entries(value: Value) -> Vec<Entry> {
    let Value::Array(streams) = value else {
        return Vec::new();
    };
    streams
        .into_iter()
        .filter_map(|stream| match stream {
            Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
            _ => None,
        })
        .flat_map(entries)
        .collect()
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn entry(value: Value) -> Option<Entry> {
    let Value::Array(pair) = value else {
        return None;
    };
    let mut pair = pair.into_iter();
    let id = Id::parse(&text(pair.next()?)?)?;
    let Value::Array(fields) = pair.next()? else {
        return None;
    };
    let mut entry = Entry {
        id,
        frame: None,
        target: None,
        node: None,
    };
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        let (Some(name), Some(value)) = (text(name), text(value)) else {
            continue;
        };
        match name.as_str() {
            "f" => entry.frame = Some(value),
            "t" => entry.target = Some(value),
            "n" => entry.node = Some(value),
            _ => {}
        }
    }
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_order_and_step() {
        assert_eq!(Id::parse("1700000000000-3"), Some(Id(1_700_000_000_000, 3)));
        assert_eq!(Id::parse("abc-1"), None);
        assert_eq!(Id::parse("1-"), None);
        assert_eq!(Id::parse("5"), None);
        assert!(Id(1, 9) < Id(2, 0));
        assert_eq!(Id(7, 2).after(), "7-3");
        assert_eq!(Id(7, u64::MAX).after(), "8-0");
    }

    #[test]
    fn entries_are_read_from_an_xrange_answer() {
        let bulk = |text: &str| Value::BulkString(text.as_bytes().to_vec());
        let answer = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![
                    bulk("f"),
                    bulk("{}"),
                    bulk("t"),
                    bulk("{\"rooms\":[\"a\"]}"),
                ]),
            ]),
            Value::Array(vec![bulk("2-0"), Value::Array(vec![bulk("m"), bulk("")])]),
            Value::Array(vec![bulk("junk")]),
        ]);
        let entries = entries(answer);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].frame.as_deref(), Some("{}"));
        assert!(entries[1].frame.is_none());
    }
}
