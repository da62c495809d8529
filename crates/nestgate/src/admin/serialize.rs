//! A socket as the Admin UI shows it (`SerializedSocket` of its protocol).

use crate::adapter::SocketInfo;
use serde_json::{Map, Value, json};

/// `info` as the UI reads it; `transport` is the socket's (`websocket` or `polling`).
pub(super) fn socket(info: &SocketInfo, transport: &str) -> Value {
    let header = |name: &str| {
        info.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .or_else(|| info.remote_addr.map(|addr| addr.ip().to_string()));
    let headers: Map<String, Value> = info
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::String(value.clone())))
        .collect();
    let query: Map<String, Value> = info
        .uri
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), Value::String(value.to_owned()))
        })
        .collect();
    // socket.io lists a socket's own room (its id) first.
    let mut rooms = vec![Value::String(info.id.clone())];
    rooms.extend(
        info.rooms
            .iter()
            .filter(|room| room.as_ref() != info.id)
            .map(|room| Value::String(room.to_string())),
    );
    json!({
        "id": info.id,
        // The Engine.IO session is not the UI's business (socket.io shows 12 characters of it).
        "clientId": info.id.chars().take(12).collect::<String>(),
        "transport": transport,
        "nsp": info.path,
        "data": {},
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "url": info.uri,
            "secure": false,
            "xdomain": header("origin").is_some(),
        },
        "rooms": rooms,
    })
}
