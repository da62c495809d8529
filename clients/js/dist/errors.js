/** The base of every error this client raises. */
export class NestgateError extends Error {
    name = "NestgateError";
}
/** A request got no answer in time (`timeout`, counted from the call, queued time included). */
export class TimeoutError extends NestgateError {
    name = "TimeoutError";
}
/**
 * The server answered a request with an error: `{"ack": id, "error": {...}}`. `error` is that
 * object (`status`, `message`, and for a failed validation `errors`).
 */
export class ServerError extends NestgateError {
    name = "ServerError";
    /** The server's error object as it came. */
    error;
    /** Its `status` (`"error"` for nestgate and NestJS), when it has one. */
    status;
    constructor(error) {
        const object = typeof error === "object" && error !== null ? error : {};
        const message = typeof object.message === "string" ? object.message : JSON.stringify(error);
        super(message);
        this.error = error;
        this.status = typeof object.status === "string" ? object.status : undefined;
    }
}
/** The offline queue is full (by count or by bytes): the emit or request was not queued. */
export class QueueFullError extends NestgateError {
    name = "QueueFullError";
}
/**
 * The connection is gone: a request was in flight when it closed (the server may or may not
 * have handled it), or the socket was closed for good (by `close()`, a final close code, or
 * reconnection giving up) with emits and requests still queued.
 */
export class DisconnectedError extends NestgateError {
    name = "DisconnectedError";
}
