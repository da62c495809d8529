//! The inbound message rate of one connection: a token bucket, kept as one instant (the
//! "generic cell rate algorithm": the bucket is full when the instant is in the past).
//!
//! The reader takes one token per message it reads; with none left it stops reading until the
//! next token is due, so a client that sends faster than the limit is slowed down by TCP
//! backpressure rather than told off or closed. What it sends waits in its own socket buffers.

use std::time::Duration;
use tokio::time::Instant;

/// A rate: `per_second` messages on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) per_second: u32,
    pub(crate) burst: u32,
}

/// One connection's bucket (kept small: every connection's reader holds one).
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    /// When the bucket is full again; a message may be read while `due - tolerance <= now`.
    due: Instant,
}

impl Rate {
    /// The time one token takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(1) / self.per_second.max(1)
    }

    /// How far `due` may run ahead of now: `burst - 1` intervals.
    fn tolerance(self) -> Duration {
        self.interval() * (self.burst.max(1) - 1)
    }
}

impl Bucket {
    pub(crate) fn new(rate: Rate, now: Instant) -> Self {
        Bucket { rate, due: now }
    }

    /// Until when reading must pause at `now`; `None` when a message may be read at once.
    pub(crate) fn pause_until(&self, now: Instant) -> Option<Instant> {
        // `due - tolerance` cannot underflow here: it is later than `now`.
        let tolerance = self.rate.tolerance();
        (self.due > now + tolerance).then(|| self.due - tolerance)
    }

    /// Takes a token for a message read at `now`.
    pub(crate) fn take(&mut self, now: Instant) {
        self.due = self.due.max(now) + self.rate.interval();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many messages the bucket lets through in `window`, reading as soon as it allows.
    fn admitted(rate: Rate, window: Duration) -> u32 {
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        let mut now = start;
        let mut count = 0;
        loop {
            if let Some(until) = bucket.pause_until(now) {
                now = until;
            }
            if now > start + window {
                return count;
            }
            bucket.take(now);
            count += 1;
        }
    }

    #[test]
    fn a_burst_then_the_rate() {
        let rate = Rate {
            per_second: 100,
            burst: 200,
        };
        // The burst at once, then one every 10 ms.
        assert_eq!(admitted(rate, Duration::ZERO), 200);
        assert_eq!(admitted(rate, Duration::from_secs(1)), 300);
        assert_eq!(admitted(rate, Duration::from_secs(10)), 1_200);
    }

    #[test]
    fn a_quiet_client_gets_its_burst_back_and_no_more() {
        let rate = Rate {
            per_second: 10,
            burst: 5,
        };
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        for _ in 0..5 {
            assert_eq!(bucket.pause_until(start), None);
            bucket.take(start);
        }
        assert_eq!(
            bucket.pause_until(start),
            Some(start + Duration::from_millis(100))
        );
        // A minute of silence refills the bucket to its burst, not beyond.
        let later = start + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(bucket.pause_until(later), None);
            bucket.take(later);
        }
        assert!(bucket.pause_until(later).is_some());
    }
}
