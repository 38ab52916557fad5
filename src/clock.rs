//! The node's notion of "now", injectable so that tests can move time (challenge and token
//! expiry, one-year false-positive suppression, credential validity) without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock shifted by an adjustable offset (tests: "a year later").
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_secs: AtomicI64,
}

impl OffsetClock {
    pub fn new() -> Arc<OffsetClock> {
        Arc::new(OffsetClock::default())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_moves() {
        let c = OffsetClock::new();
        let before = c.now();
        c.advance(Duration::days(366));
        assert!(c.now() - before >= Duration::days(366));
    }
}
