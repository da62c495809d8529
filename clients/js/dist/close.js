/**
 * Which closes end the socket for good (no reconnect). The others — 1001 (the server is
 * shutting down), 1006 (the connection was lost, or the handshake failed in a browser, which
 * cannot see why), 1011 (a server error), 1012/1013 (restarting, or dropped as a slow
 * consumer: try again later) and any close the client did not get a code for — are followed by
 * reconnection.
 *
 * | code | meaning (nestgate's close codes) | reconnect |
 * |---|---|---|
 * | 1000 | the server closed the connection normally (`socket.disconnect()`) | no |
 * | 1002, 1003, 1007 | protocol errors: the same frames would fail again | no |
 * | 1008 | policy: refused by a connection hook or a guard, or kicked (but not "heartbeat timeout") | no |
 * | 1009 | a message over the server's size limit | no |
 * | 4001 | token expired: reconnects only when `auth` is a function (a fresh token) | if `auth` is a function |
 * | 4000–4999 (others) | application codes (4003: a refreshed token refused) | no |
 */
export function isFinalClose(code, reason, freshAuth) {
    if (code === 1008) {
        // The server gave up on a client it did not hear from: the network, not the client.
        return reason !== "heartbeat timeout";
    }
    if (code === 4001) {
        return !freshAuth;
    }
    if (code >= 4000 && code <= 4999) {
        return true;
    }
    return code === 1000 || code === 1002 || code === 1003 || code === 1007 || code === 1009;
}
/** HTTP statuses that refuse a handshake for good (Node only: a browser does not see them). */
export function isFinalStatus(status) {
    return status === 400 || status === 401 || status === 403 || status === 404;
}
