/** How the client reconnects: exponential backoff with jitter. */
export interface ReconnectOptions {
    /** The delay before the first attempt, in ms. Default 500. */
    initialDelay: number;
    /** The longest delay, in ms. Default 10,000. */
    maxDelay: number;
    /** Each attempt's delay is the previous one's times this. Default 2. */
    factor: number;
    /**
     * Each delay is moved by up to this fraction of itself, at random, so that clients dropped
     * together do not come back together. Default 0.5 (a 1 s delay becomes 0.5 s to 1.5 s).
     */
    jitter: number;
    /** Attempts before giving up (`reconnect_failed`). Default `Infinity`. */
    attempts: number;
}
export declare const DEFAULT_RECONNECT: ReconnectOptions;
/** The delay before attempt `attempt` (1 for the first), in ms. */
export declare function backoffDelay(attempt: number, options: ReconnectOptions, random?: () => number): number;
