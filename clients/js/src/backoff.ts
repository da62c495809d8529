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

export const DEFAULT_RECONNECT: ReconnectOptions = {
  initialDelay: 500,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.5,
  attempts: Infinity,
};

/** The delay before attempt `attempt` (1 for the first), in ms. */
export function backoffDelay(
  attempt: number,
  options: ReconnectOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** (attempt - 1));
  const jitter = Math.min(Math.max(options.jitter, 0), 1);
  const moved = base * (1 + jitter * (2 * random() - 1));
  return Math.round(Math.min(options.maxDelay, Math.max(0, moved)));
}
