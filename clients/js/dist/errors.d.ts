/** The base of every error this client raises. */
export declare class NestgateError extends Error {
    name: string;
}
/** A request got no answer in time (`timeout`, counted from the call, queued time included). */
export declare class TimeoutError extends NestgateError {
    name: string;
}
/**
 * The server answered a request with an error: `{"ack": id, "error": {...}}`. `error` is that
 * object (`status`, `message`, and for a failed validation `errors`).
 */
export declare class ServerError extends NestgateError {
    name: string;
    /** The server's error object as it came. */
    readonly error: unknown;
    /** Its `status` (`"error"` for nestgate and NestJS), when it has one. */
    readonly status: string | undefined;
    constructor(error: unknown);
}
/** The offline queue is full (by count or by bytes): the emit or request was not queued. */
export declare class QueueFullError extends NestgateError {
    name: string;
}
/**
 * The connection is gone: a request was in flight when it closed (the server may or may not
 * have handled it), or the socket was closed for good (by `close()`, a final close code, or
 * reconnection giving up) with emits and requests still queued.
 */
export declare class DisconnectedError extends NestgateError {
    name: string;
}
