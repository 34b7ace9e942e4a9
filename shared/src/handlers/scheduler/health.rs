//! When the scheduler may take back runs whose lease ended.
//!
//! While DynamoDB throttles or fails, no run can renew its lease or record its outcome; once it
//! answers again, a run that is still alive records within moments (its delivery comes back
//! every transient delay and resumes the run on the same attempt). Taking such a run back first
//! would spend an attempt on an outage. So after a tick that met trouble, lease recovery waits
//! for a healthy tick at least `recover_after` later; a run that really died is taken back then.

use chrono::{DateTime, Duration, Utc};

/// What this scheduler has seen of the table lately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TableHealth {
    /// No trouble seen by this process.
    #[default]
    Unknown,
    /// The last tick met AWS errors.
    Troubled,
    /// Healthy since this tick, after trouble.
    HealthySince(DateTime<Utc>),
}

impl TableHealth {
    /// The state after a tick at `now` that did (`troubled`) or did not meet AWS errors.
    pub fn after_tick(self, now: DateTime<Utc>, troubled: bool) -> TableHealth {
        match (self, troubled) {
            (_, true) => TableHealth::Troubled,
            (TableHealth::Troubled, false) => TableHealth::HealthySince(now),
            (other, false) => other,
        }
    }

    /// Whether a tick at `now` may take back runs whose lease ended.
    pub fn may_recover(self, now: DateTime<Utc>, recover_after: Duration) -> bool {
        match self {
            TableHealth::Unknown => true,
            TableHealth::Troubled => false,
            TableHealth::HealthySince(since) => now >= since + recover_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_trouble_runs_are_taken_back_only_from_the_second_healthy_tick() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let minute = |n: i64| t0 + Duration::minutes(n);
        let wait = Duration::seconds(30);
        let fresh = TableHealth::default();
        assert!(fresh.may_recover(t0, wait), "nothing seen: recover as usual");
        let troubled = fresh.after_tick(minute(0), true);
        assert!(!troubled.may_recover(minute(1), wait), "the outage goes on");
        // The first tick after the outage still waits: live runs record their outcomes first.
        assert!(!troubled.may_recover(minute(1), wait));
        let healthy = troubled.after_tick(minute(1), false);
        assert_eq!(healthy, TableHealth::HealthySince(minute(1)));
        assert!(healthy.may_recover(minute(2), wait));
        assert_eq!(healthy.after_tick(minute(2), false), healthy, "stays healthy since then");
        assert_eq!(healthy.after_tick(minute(3), true), TableHealth::Troubled);
    }
}
