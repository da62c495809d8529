import { QueueFullError, TimeoutError } from "./errors.js";
export const DEFAULT_QUEUE = {
    maxItems: 100,
    maxBytes: 1024 * 1024,
    timeout: 30_000,
};
const encoder = new TextEncoder();
/** A bounded FIFO of frames, each with its own expiry. */
export class OfflineQueue {
    #options;
    #items = new Map();
    #bytes = 0;
    constructor(options) {
        this.#options = options;
    }
    get length() {
        return this.#items.size;
    }
    get bytes() {
        return this.#bytes;
    }
    /**
     * Queues `frame`. After `ttl` ms (`undefined`: never, the caller removes it itself) it leaves
     * the queue, and `dropped` is told with a `TimeoutError`. Throws `QueueFullError` past either
     * bound.
     */
    push(frame, dropped, ttl) {
        const bytes = encoder.encode(frame).length;
        if (this.#items.size >= this.#options.maxItems) {
            throw new QueueFullError(`the offline queue is full (${this.#options.maxItems} frames): not connected, and nothing more is kept`);
        }
        if (this.#bytes + bytes > this.#options.maxBytes) {
            throw new QueueFullError(`the offline queue is full (${this.#bytes} of ${this.#options.maxBytes} bytes; this frame is ${bytes}): not connected, and nothing more is kept`);
        }
        const item = { frame, bytes, dropped };
        const timer = ttl === undefined
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
    remove(item) {
        if (!this.#items.has(item)) {
            return false;
        }
        clearTimeout(this.#items.get(item));
        this.#items.delete(item);
        this.#bytes -= item.bytes;
        return true;
    }
    /** Takes every item, oldest first. */
    take() {
        const items = [...this.#items.keys()];
        for (const timer of this.#items.values()) {
            clearTimeout(timer);
        }
        this.#items.clear();
        this.#bytes = 0;
        return items;
    }
}
