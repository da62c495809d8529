//! Random identifiers: socket ids and Engine.IO session ids.

use std::sync::Arc;

/// 128 random bits as 22 URL-safe base64 characters.
pub(crate) fn new_id() -> Arc<str> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits: u128 = rand::random();
    let mut id = String::with_capacity(22);
    for _ in 0..22 {
        id.push(char::from(ALPHABET[(bits & 63) as usize]));
        bits >>= 6;
    }
    Arc::from(id)
}
