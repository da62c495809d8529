//! [`Headers`]: a handshake's request headers as a socket keeps them for its lifetime — one
//! packed allocation, with the `HeaderMap` made only when someone asks for it.
//!
//! An idle connection's memory is a budget, and a `HeaderMap` is a poor way to keep a few
//! headers nobody reads: its entries take about 100 bytes each before their values, each value
//! is an allocation of its own, and the map has an index besides (about 700 bytes for the five
//! headers of a WebSocket upgrade). The packed form holds the same bytes in one block; guards
//! and `Socket` read single headers from it directly.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::sync::OnceLock;

/// A request's headers, owned and packed.
///
/// Each header is `name length (u16 LE) · value length (u32 LE) · sensitive (u8) · name ·
/// value`, in the order the request's map iterates them (which the map made from them keeps).
pub(crate) struct Headers {
    packed: Box<[u8]>,
    /// Made on first use of [`Headers::map`].
    map: OnceLock<Box<HeaderMap>>,
}

/// One header of a packed block.
#[derive(Clone, Copy)]
pub(crate) struct Header<'a> {
    /// Lowercase, as `HeaderName` keeps it.
    pub(crate) name: &'a str,
    pub(crate) value: &'a [u8],
    pub(crate) sensitive: bool,
}

impl<'a> Header<'a> {
    /// The value as text, when it is visible ASCII (what `HeaderValue::to_str` accepts).
    pub(crate) fn text(self) -> Option<&'a str> {
        let visible = self
            .value
            .iter()
            .all(|&byte| byte == b'\t' || (0x20..0x7f).contains(&byte));
        // Visible ASCII is valid UTF-8.
        visible
            .then(|| std::str::from_utf8(self.value).ok())
            .flatten()
    }
}

const HEAD: usize = 2 + 4 + 1;

impl Headers {
    /// A copy of `map` that owns its bytes.
    pub(crate) fn copy(map: &HeaderMap) -> Self {
        let size: usize = map
            .iter()
            .map(|(name, value)| HEAD + name.as_str().len() + value.len())
            .sum();
        let mut packed = Vec::with_capacity(size);
        for (name, value) in map {
            let name = name.as_str().as_bytes();
            // hyper bounds a head far below these lengths; a longer header is not kept.
            let (Ok(name_len), Ok(value_len)) =
                (u16::try_from(name.len()), u32::try_from(value.len()))
            else {
                continue;
            };
            packed.extend_from_slice(&name_len.to_le_bytes());
            packed.extend_from_slice(&value_len.to_le_bytes());
            packed.push(u8::from(value.is_sensitive()));
            packed.extend_from_slice(name);
            packed.extend_from_slice(value.as_bytes());
        }
        Headers {
            packed: packed.into_boxed_slice(),
            map: OnceLock::new(),
        }
    }

    /// Every header, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Header<'_>> {
        let mut rest = &self.packed[..];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_at_checked(HEAD)?;
            let name_len = usize::from(u16::from_le_bytes([head[0], head[1]]));
            let value_len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            rest = tail;
            Some(Header {
                // Written from a `HeaderName`, which is ASCII.
                name: std::str::from_utf8(name).unwrap_or_default(),
                value,
                sensitive: head[6] != 0,
            })
        })
    }

    /// Every value of the header `name` (any case), in order.
    pub(crate) fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = Header<'a>> {
        self.iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
    }

    /// The first value of the header `name` (any case).
    pub(crate) fn get(&self, name: &str) -> Option<Header<'_>> {
        self.iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
    }

    /// The headers as a `HeaderMap`, made on the first call and kept.
    pub(crate) fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| Box::new(self.to_map()))
    }

    /// The headers as a new `HeaderMap`, not kept.
    pub(crate) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.iter().count());
        for header in self.iter() {
            // Both were a valid name and value when packed.
            let (Ok(name), Ok(mut value)) = (
                HeaderName::from_bytes(header.name.as_bytes()),
                HeaderValue::from_bytes(header.value),
            ) else {
                continue;
            };
            value.set_sensitive(header.sensitive);
            map.append(name, value);
        }
        map
    }

    /// Drops the map [`Headers::map`] made (it is made again if asked for).
    pub(crate) fn forget_map(&mut self) {
        self.map = OnceLock::new();
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for header in self.iter() {
            if header.sensitive {
                map.entry(&header.name, &"Sensitive");
            } else {
                map.entry(&header.name, &String::from_utf8_lossy(header.value));
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;
    use axum::http::{HeaderMap, HeaderValue};

    fn request() -> HeaderMap {
        let mut map = HeaderMap::new();
        map.append("host", HeaderValue::from_static("example.com"));
        map.append("cookie", HeaderValue::from_static("a=1"));
        map.append("x-empty", HeaderValue::from_static(""));
        map.append("cookie", HeaderValue::from_static("b=2"));
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        map.append("authorization", secret);
        map.append("x-bytes", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        map
    }

    #[test]
    fn the_map_made_from_packed_headers_is_the_request_s() {
        let original = request();
        let headers = Headers::copy(&original);
        let map = headers.map();
        assert_eq!(map, &original);
        let order = |map: &HeaderMap| {
            map.iter()
                .map(|(name, value)| (name.clone(), value.clone(), value.is_sensitive()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(map), order(&original), "same order, same flags");
        assert_eq!(headers.to_map(), original);
    }

    #[test]
    fn single_headers_are_read_from_the_packed_bytes() {
        let headers = Headers::copy(&request());
        assert_eq!(headers.get("HOST").unwrap().text(), Some("example.com"));
        let cookies: Vec<_> = headers
            .get_all("Cookie")
            .filter_map(|header| header.text())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(headers.get("x-empty").unwrap().text(), Some(""));
        assert!(headers.get("authorization").unwrap().sensitive);
        // Not visible ASCII: no text, as `HeaderValue::to_str` says.
        assert_eq!(headers.get("x-bytes").unwrap().text(), None);
        assert_eq!(headers.get("x-bytes").unwrap().value, b"caf\xc3\xa9");
        assert!(headers.get("missing").is_none());
        assert!(
            !format!("{headers:?}").contains("Bearer"),
            "sensitive values stay hidden"
        );
    }

    #[test]
    fn an_empty_request_packs_to_nothing() {
        let headers = Headers::copy(&HeaderMap::new());
        assert_eq!(headers.iter().count(), 0);
        assert!(headers.map().is_empty());
    }
}
