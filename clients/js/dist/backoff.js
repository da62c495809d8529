export const DEFAULT_RECONNECT = {
    initialDelay: 500,
    maxDelay: 10_000,
    factor: 2,
    jitter: 0.5,
    attempts: Infinity,
};
/** The delay before attempt `attempt` (1 for the first), in ms. */
export function backoffDelay(attempt, options, random = Math.random) {
    const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** (attempt - 1));
    const jitter = Math.min(Math.max(options.jitter, 0), 1);
    const moved = base * (1 + jitter * (2 * random() - 1));
    return Math.round(Math.min(options.maxDelay, Math.max(0, moved)));
}
