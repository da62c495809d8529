//! Socket.IO v5 packets: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.

use serde_json::value::RawValue;
use std::fmt::Write as _;

/// The packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl Kind {
    fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
            Kind::BinaryEvent => '5',
            Kind::BinaryAck => '6',
        }
    }
}

/// A decoded packet, borrowing from the text.
#[derive(Debug, Clone)]
pub(crate) struct Packet<'a> {
    pub(crate) kind: Kind,
    pub(crate) nsp: &'a str,
    pub(crate) id: Option<u64>,
    pub(crate) attachments: usize,
    /// The JSON payload; empty when absent.
    pub(crate) data: &'a str,
    /// The arguments of an EVENT or ACK, parsed (borrowing from `data`) while validating.
    pub(crate) args: Vec<&'a RawValue>,
}

/// Text that is not a Socket.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// The most binary attachments one packet may announce.
const MAX_ATTACHMENTS: usize = 64;

/// Decodes and validates a packet from a client.
pub(crate) fn decode(text: &str) -> Result<Packet<'_>, Invalid> {
    let mut rest = text;
    let kind = match rest.as_bytes().first() {
        Some(b'0') => Kind::Connect,
        Some(b'1') => Kind::Disconnect,
        Some(b'2') => Kind::Event,
        Some(b'3') => Kind::Ack,
        Some(b'5') => Kind::BinaryEvent,
        Some(b'6') => Kind::BinaryAck,
        // CONNECT_ERROR only goes from server to client.
        _ => return Err(Invalid),
    };
    rest = &rest[1..];
    let mut attachments = 0;
    if matches!(kind, Kind::BinaryEvent | Kind::BinaryAck) {
        let dash = rest.find('-').ok_or(Invalid)?;
        attachments = rest[..dash].parse::<usize>().map_err(|_| Invalid)?;
        if attachments > MAX_ATTACHMENTS {
            return Err(Invalid);
        }
        rest = &rest[dash + 1..];
    }
    let mut nsp = "/";
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(comma) => {
                nsp = &rest[..comma];
                rest = &rest[comma + 1..];
            }
            None => {
                nsp = rest;
                rest = "";
            }
        }
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits].parse::<u64>().map_err(|_| Invalid)?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };
    let mut packet = Packet {
        kind,
        nsp,
        id,
        attachments,
        data: rest,
        args: Vec::new(),
    };
    packet.args = validate(&packet)?;
    Ok(packet)
}

/// Checks the payload's shape for the packet type.
/// Checks the payload's shape for the packet type; returns the arguments of an EVENT or ACK.
fn validate<'a>(packet: &Packet<'a>) -> Result<Vec<&'a RawValue>, Invalid> {
    match packet.kind {
        Kind::Connect => {
            if packet.id.is_some() {
                return Err(Invalid);
            }
            if !packet.data.is_empty() {
                let value: serde_json::Value =
                    serde_json::from_str(packet.data).map_err(|_| Invalid)?;
                if !value.is_object() {
                    return Err(Invalid);
                }
            }
        }
        Kind::Disconnect => {
            if !packet.data.is_empty() || packet.id.is_some() {
                return Err(Invalid);
            }
        }
        Kind::Event | Kind::BinaryEvent => {
            let args: Vec<&RawValue> = serde_json::from_str(packet.data).map_err(|_| Invalid)?;
            let name = args.first().ok_or(Invalid)?;
            if !name.get().starts_with('"') {
                return Err(Invalid);
            }
            return Ok(args);
        }
        Kind::Ack | Kind::BinaryAck => {
            if packet.id.is_none() {
                return Err(Invalid);
            }
            return serde_json::from_str(packet.data).map_err(|_| Invalid);
        }
        Kind::ConnectError => return Err(Invalid),
    }
    Ok(Vec::new())
}

/// Encodes a packet for a client.
pub(crate) fn encode(
    kind: Kind,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
    data: &str,
) -> String {
    let mut out = String::with_capacity(data.len() + nsp.len() + 24);
    write_header(&mut out, kind, nsp, id, attachments);
    out.push_str(data);
    out
}

/// The length of what [`write_header`] writes.
pub(crate) fn header_len(kind: Kind, nsp: &str, id: Option<u64>, attachments: usize) -> usize {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |log| log as usize + 1);
    let mut len = 1;
    if matches!(kind, Kind::BinaryEvent | Kind::BinaryAck) {
        len += digits(attachments as u64) + 1;
    }
    if nsp != "/" {
        len += nsp.len() + 1;
    }
    len + id.map_or(0, digits)
}

/// Writes what comes before a packet's data: its type, attachment count, namespace and id.
pub(crate) fn write_header(
    out: &mut String,
    kind: Kind,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
) {
    out.push(kind.digit());
    if matches!(kind, Kind::BinaryEvent | Kind::BinaryAck) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{attachments}-");
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_len_is_what_write_header_writes() {
        for kind in [Kind::Event, Kind::Ack, Kind::BinaryEvent, Kind::BinaryAck] {
            for nsp in ["/", "/chat"] {
                for id in [
                    None,
                    Some(0),
                    Some(9),
                    Some(10),
                    Some(12_345),
                    Some(u64::MAX),
                ] {
                    for attachments in [0, 1, 10, 123] {
                        let mut out = String::new();
                        write_header(&mut out, kind, nsp, id, attachments);
                        assert_eq!(header_len(kind, nsp, id, attachments), out.len(), "{out}");
                    }
                }
            }
        }
    }

    #[test]
    fn decodes_every_shape() {
        let p = decode(r#"2456["message-with-ack",1,"2"]"#).unwrap();
        assert_eq!((p.kind, p.nsp, p.id), (Kind::Event, "/", Some(456)));
        assert_eq!(p.data, r#"["message-with-ack",1,"2"]"#);
        let p = decode("0/custom,").unwrap();
        assert_eq!((p.kind, p.nsp, p.data), (Kind::Connect, "/custom", ""));
        let p = decode("0/custom").unwrap();
        assert_eq!(p.nsp, "/custom");
        let p = decode(r#"0{"token":"123"}"#).unwrap();
        assert_eq!(p.data, r#"{"token":"123"}"#);
        let p = decode(r#"52-789["m",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (Kind::BinaryEvent, 2, Some(789))
        );
        let p = decode("1/custom,").unwrap();
        assert_eq!((p.kind, p.nsp), (Kind::Disconnect, "/custom"));
    }

    #[test]
    fn rejects_invalid_packets() {
        for bad in [
            "",
            "abc",
            "7",
            "2{}",
            "2[]",
            "2[1]",
            r#"2abc["m"]"#,
            "0[1]",
            "1x",
            "3[1]",
            "5[\"m\"]",
            "599999-[\"m\"]",
            "4{}",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn encodes() {
        assert_eq!(encode(Kind::Event, "/", None, 0, r#"["a"]"#), r#"2["a"]"#);
        assert_eq!(encode(Kind::BinaryAck, "/x", Some(7), 2, "[]"), "62-/x,7[]");
    }
}
