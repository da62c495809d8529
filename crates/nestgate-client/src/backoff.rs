//! How long to wait before each reconnection attempt: exponential backoff with jitter.

use std::time::Duration;

/// How the client reconnects after losing its connection.
///
/// The delay before attempt `n` (1 for the first) is `initial_delay × factor^(n-1)`, at most
/// `max_delay`, moved at random by up to `jitter` of itself so that clients dropped together do
/// not all come back in the same millisecond.
///
/// ```
/// use nestgate_client::Reconnect;
/// use std::time::Duration;
///
/// let patient = Reconnect {
///     initial_delay: Duration::from_secs(1),
///     attempts: Some(20),
///     ..Reconnect::default()
/// };
/// assert_eq!(patient.max_delay, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    /// The delay before the first attempt. Default 500 ms.
    pub initial_delay: Duration,
    /// The longest delay. Default 10 s.
    pub max_delay: Duration,
    /// Each delay is the previous one times this. Default 2.
    pub factor: f64,
    /// The fraction of each delay it may move by, at random (0 to 1). Default 0.5: a 1 s delay
    /// becomes 0.5 s to 1.5 s.
    pub jitter: f64,
    /// Attempts in a row before giving up ([`Lifecycle::ReconnectFailed`](crate::Lifecycle)).
    /// Default `None`: never.
    pub attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            factor: 2.0,
            jitter: 0.5,
            attempts: None,
        }
    }
}

impl Reconnect {
    /// The delay before attempt `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::random::<f64>())
    }

    /// The delay before `attempt`, with `random` in `[0, 1)` choosing the jitter.
    pub(crate) fn delay_with(&self, attempt: u32, random: f64) -> Duration {
        let max = self.max_delay.as_secs_f64();
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = (self.initial_delay.as_secs_f64() * self.factor.powi(exponent)).min(max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let moved = base * (1.0 + jitter * (2.0 * random - 1.0));
        // `clamp` also turns a NaN (a factor of NaN) into 0.
        Duration::from_secs_f64(moved.clamp(0.0, max).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_the_factor_up_to_the_maximum() {
        let reconnect = Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
            jitter: 0.0,
            ..Reconnect::default()
        };
        let delays: Vec<u128> = (1..=6)
            .map(|attempt| reconnect.delay(attempt).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn jitter_moves_a_delay_within_its_fraction() {
        let reconnect = Reconnect::default();
        assert_eq!(reconnect.delay_with(1, 0.0), Duration::from_millis(250));
        assert_eq!(reconnect.delay_with(1, 0.5), Duration::from_millis(500));
        assert_eq!(reconnect.delay_with(1, 1.0), Duration::from_millis(750));
        // Never past the maximum, jitter or not.
        assert_eq!(reconnect.delay_with(30, 1.0), Duration::from_secs(10));
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let reconnect = Reconnect::default();
        assert_eq!(reconnect.delay_with(u32::MAX, 0.5), Duration::from_secs(10));
    }
}
