//! The WebSocket close codes nestgate sends (RFC 6455 §7.4.1; 4000–4999 are for applications).

/// Normal closure.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// Policy violation: a rejected connection, a kicked client or a missed heartbeat.
pub const POLICY: u16 = 1008;
/// A text frame whose payload is not valid UTF-8 (RFC 6455 §8.1).
pub const INVALID_PAYLOAD: u16 = 1007;
/// A frame over the configured size limit.
pub const TOO_BIG: u16 = 1009;
/// An internal error.
pub const INTERNAL: u16 = 1011;
/// A slow consumer whose outbound queue overflowed ("try again later").
pub const TRY_AGAIN_LATER: u16 = 1013;
/// The socket's credentials expired and no valid fresh token came in time
/// ([`refresh`](crate::refresh)); reason "token expired". Reconnect with a new token.
pub const TOKEN_EXPIRED: u16 = 4001;
/// The handshake guards refused the token the client sent when the server asked for one;
/// reason "refresh refused: <the guard's message>".
pub const REFRESH_REFUSED: u16 = 4003;
