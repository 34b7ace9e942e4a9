//! The clock port: handlers ask it for the time instead of calling `Utc::now()`, so a test or the
//! simulation can let hours pass in a moment.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock { now: Arc::new(Mutex::new(start)) }
    }

    /// Move time forward by `by` (a negative duration is ignored: time never runs backwards).
    pub fn advance(&self, by: Duration) {
        if by > Duration::zero()
            && let Ok(mut now) = self.now.lock()
        {
            *now += by;
        }
    }

    /// Set the time, if it is later than now.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut now) = self.now.lock()
            && to > *now
        {
            *now = to;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now.lock().map(|now| *now).unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}

/// Wall time that follows tokio's clock from `base`: under a paused tokio runtime (tests, the
/// simulation) every sleep and timeout moves it, so a simulated day passes in moments and the
/// store, the queues and the handlers all see the same time.
#[derive(Debug, Clone)]
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock at `base` now, moving as tokio's time moves.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        TokioClock { base, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + self.start.elapsed()
    }
}

/// The process-wide default: the wall clock.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_moves_as_tokio_time_does() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let clock = TokioClock::starting_at(start);
        assert_eq!(clock.now(), start);
        tokio::time::sleep(std::time::Duration::from_secs(86_400)).await;
        assert_eq!(clock.now(), start + Duration::days(1), "a paused day passes at once");
    }

    #[test]
    fn a_manual_clock_moves_only_forward_and_clones_share_it() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let clock = ManualClock::new(start);
        let other = clock.clone();
        clock.advance(Duration::hours(25));
        assert_eq!(other.now(), start + Duration::hours(25));
        clock.advance(Duration::seconds(-5));
        clock.set(start);
        assert_eq!(other.now(), start + Duration::hours(25));
        clock.set(start + Duration::days(30));
        assert_eq!(clock.now(), start + Duration::days(30));
    }
}
