import { QueueFullError, TimeoutError } from "./errors.js";

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

export const DEFAULT_QUEUE: QueueOptions = {
  maxItems: 100,
  maxBytes: 1024 * 1024,
  timeout: 30_000,
};

/** A frame waiting for the connection. */
export interface Queued {
  frame: string;
  bytes: number;
  /** Called when the frame leaves the queue without being sent (expired, or the socket closed). */
  dropped(error: Error): void;
}

const encoder = new TextEncoder();

/** A bounded FIFO of frames, each with its own expiry. */
export class OfflineQueue {
  readonly #options: QueueOptions;
  readonly #items = new Map<Queued, ReturnType<typeof setTimeout> | undefined>();
  #bytes = 0;

  constructor(options: QueueOptions) {
    this.#options = options;
  }

  get length(): number {
    return this.#items.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `frame`. After `ttl` ms (`undefined`: never, the caller removes it itself) it leaves
   * the queue, and `dropped` is told with a `TimeoutError`. Throws `QueueFullError` past either
   * bound.
   */
  push(frame: string, dropped: (error: Error) => void, ttl: number | undefined): Queued {
    const bytes = encoder.encode(frame).length;
    if (this.#items.size >= this.#options.maxItems) {
      throw new QueueFullError(
        `the offline queue is full (${this.#options.maxItems} frames): not connected, and nothing more is kept`,
      );
    }
    if (this.#bytes + bytes > this.#options.maxBytes) {
      throw new QueueFullError(
        `the offline queue is full (${this.#bytes} of ${this.#options.maxBytes} bytes; this frame is ${bytes}): not connected, and nothing more is kept`,
      );
    }
    const item: Queued = { frame, bytes, dropped };
    const timer =
      ttl === undefined
        ? undefined
        : setTimeout(() => {
            if (this.remove(item)) {
              dropped(new TimeoutError(`a queued frame waited ${ttl} ms for the connection and was dropped`));
            }
          }, ttl);
    this.#items.set(item, timer);
    this.#bytes += bytes;
    return item;
  }

  /** Removes `item` (if still queued); whether it was. */
  remove(item: Queued): boolean {
    if (!this.#items.has(item)) {
      return false;
    }
    clearTimeout(this.#items.get(item));
    this.#items.delete(item);
    this.#bytes -= item.bytes;
    return true;
  }

  /** Takes every item, oldest first. */
  take(): Queued[] {
    const items = [...this.#items.keys()];
    for (const timer of this.#items.values()) {
      clearTimeout(timer);
    }
    this.#items.clear();
    this.#bytes = 0;
    return items;
  }
}
