//! The heartbeat of a transport without one of its own (ws-json), as a state machine over the
//! instants it is given: when to ping an idle client, and when to give up on one that is silent.

use std::time::Duration;
use tokio::time::Instant;

/// When to ping an idle client, and when to give up on one that does not answer.
pub(super) struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_seen: Instant,
    pinged_at: Option<Instant>,
}

pub(super) enum Beat {
    Ping,
    Wait,
    Timeout,
}

impl Heartbeat {
    pub(super) fn new(interval: Duration, timeout: Duration) -> Self {
        Heartbeat {
            interval,
            timeout,
            last_seen: Instant::now(),
            pinged_at: None,
        }
    }

    /// Any frame from the client proves it alive.
    pub(super) fn seen(&mut self, now: Instant) {
        self.last_seen = now;
        self.pinged_at = None;
    }

    pub(super) fn deadline(&self) -> Instant {
        match self.pinged_at {
            Some(pinged_at) => pinged_at + self.timeout,
            None => self.last_seen + self.interval,
        }
    }

    pub(super) fn on_timer(&mut self, now: Instant) -> Beat {
        match self.pinged_at {
            Some(pinged_at) if now >= pinged_at + self.timeout => Beat::Timeout,
            Some(_) => Beat::Wait,
            None if now >= self.last_seen + self.interval => {
                self.pinged_at = Some(now);
                Beat::Ping
            }
            None => Beat::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Beat, Heartbeat};
    use std::time::Duration;
    use tokio::time::Instant;

    const INTERVAL: Duration = Duration::from_secs(25);
    const TIMEOUT: Duration = Duration::from_secs(20);
    const MS: Duration = Duration::from_millis(1);

    /// A heartbeat and the instant it was made (its client last seen then).
    fn heartbeat() -> (Heartbeat, Instant) {
        let heartbeat = Heartbeat::new(INTERVAL, TIMEOUT);
        let start = heartbeat.deadline() - INTERVAL;
        (heartbeat, start)
    }

    #[test]
    fn an_idle_client_is_pinged_one_interval_after_it_was_last_seen() {
        let (mut heartbeat, start) = heartbeat();
        assert_eq!(heartbeat.deadline(), start + INTERVAL);
        assert!(matches!(heartbeat.on_timer(start), Beat::Wait));
        assert!(matches!(
            heartbeat.on_timer(start + INTERVAL - MS),
            Beat::Wait
        ));
        assert_eq!(
            heartbeat.deadline(),
            start + INTERVAL,
            "an early timer changes nothing"
        );
        // A late timer pings at once, and the timeout counts from the ping.
        let late = start + INTERVAL + Duration::from_secs(3);
        assert!(matches!(heartbeat.on_timer(late), Beat::Ping));
        assert_eq!(heartbeat.deadline(), late + TIMEOUT);
    }

    #[test]
    fn a_pinged_client_that_stays_silent_times_out_and_is_pinged_only_once() {
        let (mut heartbeat, start) = heartbeat();
        let pinged = start + INTERVAL;
        assert!(matches!(heartbeat.on_timer(pinged), Beat::Ping));
        assert!(matches!(heartbeat.on_timer(pinged + MS), Beat::Wait));
        assert!(matches!(
            heartbeat.on_timer(pinged + TIMEOUT - MS),
            Beat::Wait
        ));
        assert_eq!(heartbeat.deadline(), pinged + TIMEOUT);
        assert!(matches!(
            heartbeat.on_timer(pinged + TIMEOUT),
            Beat::Timeout
        ));
        // It stays timed out (the read loop has ended the connection by then).
        assert!(matches!(
            heartbeat.on_timer(pinged + TIMEOUT * 2),
            Beat::Timeout
        ));
    }

    #[test]
    fn any_frame_answers_a_ping_and_restarts_the_interval() {
        let (mut heartbeat, start) = heartbeat();
        let pinged = start + INTERVAL;
        assert!(matches!(heartbeat.on_timer(pinged), Beat::Ping));
        let seen = pinged + TIMEOUT - MS;
        heartbeat.seen(seen);
        assert_eq!(heartbeat.deadline(), seen + INTERVAL);
        // What would have been the timeout is now an ordinary wait.
        assert!(matches!(heartbeat.on_timer(pinged + TIMEOUT), Beat::Wait));
        assert!(matches!(heartbeat.on_timer(seen + INTERVAL), Beat::Ping));
    }

    #[test]
    fn a_client_that_keeps_sending_is_never_pinged() {
        let (mut heartbeat, start) = heartbeat();
        let mut now = start;
        for _ in 0..10 {
            now += INTERVAL - MS;
            assert!(matches!(heartbeat.on_timer(now), Beat::Wait));
            heartbeat.seen(now);
            assert_eq!(heartbeat.deadline(), now + INTERVAL);
        }
    }
}
