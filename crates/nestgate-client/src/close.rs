//! Which closes end the client for good, and which are followed by reconnection.
//!
//! The same table as `@nestgate/client` (clients/js/src/close.ts):
//!
//! | code | meaning (nestgate's close codes) | reconnect |
//! |---|---|---|
//! | 1000 | the server closed the connection normally (`socket.disconnect()`) | no |
//! | 1002, 1003, 1007 | protocol errors: the same frames would fail again | no |
//! | 1008 | policy: refused by a connection hook or a guard, or kicked (but not `heartbeat timeout`) | no |
//! | 1009 | a message over the server's size limit | no |
//! | 4001 | token expired: reconnects only when the token comes from a function | with [`auth`](crate::ClientBuilder::auth) |
//! | 4000–4999 (others) | application codes (4003: a refreshed token refused) | no |
//! | HTTP 400, 401, 403, 404 | the handshake refused | no |
//!
//! Every other close — 1001 (the server is shutting down), 1006 (the connection was lost),
//! 1011 (a server error), 1012/1013 (restarting, or dropped as a slow consumer), a failed TCP
//! connection, any other HTTP status — is followed by reconnection.

/// Whether a close with `code` and `reason` ends the client for good. `fresh_auth`: the token
/// comes from a function, so a reconnect would carry a new one.
pub(crate) fn is_final_close(code: u16, reason: &str, fresh_auth: bool) -> bool {
    match code {
        // The server gave up on a client it did not hear from: the network, not the client.
        1008 => reason != "heartbeat timeout",
        4001 => !fresh_auth,
        4000..=4999 => true,
        1000 | 1002 | 1003 | 1007 | 1009 => true,
        _ => false,
    }
}

/// Whether an HTTP status refusing the handshake ends the client for good.
pub(crate) fn is_final_status(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds() {
        for code in [1000, 1002, 1003, 1007, 1009, 4000, 4003, 4999] {
            assert!(is_final_close(code, "", true), "{code}");
        }
        for code in [1001, 1006, 1011, 1012, 1013, 3000] {
            assert!(!is_final_close(code, "", false), "{code}");
        }
        assert!(is_final_close(1008, "banned", false));
        assert!(!is_final_close(1008, "heartbeat timeout", false));
        assert!(is_final_close(4001, "token expired", false));
        assert!(!is_final_close(4001, "token expired", true));
        assert!(is_final_status(401));
        assert!(!is_final_status(503));
    }
}
