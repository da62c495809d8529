/** The base of every error this client raises. */
export class NestgateError extends Error {
  override name = "NestgateError";
}

/** A request got no answer in time (`timeout`, counted from the call, queued time included). */
export class TimeoutError extends NestgateError {
  override name = "TimeoutError";
}

/**
 * The server answered a request with an error: `{"ack": id, "error": {...}}`. `error` is that
 * object (`status`, `message`, and for a failed validation `errors`).
 */
export class ServerError extends NestgateError {
  override name = "ServerError";
  /** The server's error object as it came. */
  readonly error: unknown;
  /** Its `status` (`"error"` for nestgate and NestJS), when it has one. */
  readonly status: string | undefined;

  constructor(error: unknown) {
    const object = typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {};
    const message = typeof object.message === "string" ? object.message : JSON.stringify(error);
    super(message);
    this.error = error;
    this.status = typeof object.status === "string" ? object.status : undefined;
  }
}

/** The offline queue is full (by count or by bytes): the emit or request was not queued. */
export class QueueFullError extends NestgateError {
  override name = "QueueFullError";
}

/**
 * The connection is gone: a request was in flight when it closed (the server may or may not
 * have handled it), or the socket was closed for good (by `close()`, a final close code, or
 * reconnection giving up) with emits and requests still queued.
 */
export class DisconnectedError extends NestgateError {
  override name = "DisconnectedError";
}
