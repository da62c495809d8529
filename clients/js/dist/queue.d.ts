/** The bounds of the offline queue: what `emit` and `request` keep while disconnected. */
export interface QueueOptions {
    /** At most this many frames. Default 100. */
    maxItems: number;
    /** At most this many bytes of frames (UTF-8). Default 1 MiB. */
    maxBytes: number;
    /**
     * How long an emit waits for the connection, in ms; then it is dropped and reported with the
     * `error` event. A request waits at most its own timeout. Default 30,000.
     */
    timeout: number;
}
export declare const DEFAULT_QUEUE: QueueOptions;
/** A frame waiting for the connection. */
export interface Queued {
    frame: string;
    bytes: number;
    /** Called when the frame leaves the queue without being sent (expired, or the socket closed). */
    dropped(error: Error): void;
}
/** A bounded FIFO of frames, each with its own expiry. */
export declare class OfflineQueue {
    #private;
    constructor(options: QueueOptions);
    get length(): number;
    get bytes(): number;
    /**
     * Queues `frame`. After `ttl` ms (`undefined`: never, the caller removes it itself) it leaves
     * the queue, and `dropped` is told with a `TimeoutError`. Throws `QueueFullError` past either
     * bound.
     */
    push(frame: string, dropped: (error: Error) => void, ttl: number | undefined): Queued;
    /** Removes `item` (if still queued); whether it was. */
    remove(item: Queued): boolean;
    /** Takes every item, oldest first. */
    take(): Queued[];
}
