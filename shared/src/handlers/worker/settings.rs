//! The worker's tunables, read from `JOBQ_WORKER_*` and related variables.

use std::time::Duration;

use crate::config::{ConfigError, Vars};
use crate::domain::task::RetryPolicy;
use crate::resources::QUEUE_VISIBILITY_TIMEOUT_SECONDS;

/// Tunables, from `JOBQ_WORKER_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Records of one batch run at once (`JOBQ_WORKER_CONCURRENCY`, default 10).
    pub concurrency: usize,
    /// At most one progress write per job per interval (`JOBQ_PROGRESS_INTERVAL_MS`, default 1000).
    pub progress_interval: Duration,
    /// The tier queues' visibility timeout (`JOBQ_VISIBILITY_TIMEOUT_SECONDS`). A message stays
    /// hidden this long after its receive; heartbeats extend it only when a run nears its end
    /// (never in Lambda, whose 15 minutes are well inside the 90-minute default).
    pub visibility_timeout: Duration,
    /// How far a run's lease reaches past its latest heartbeat (`JOBQ_LEASE_SECONDS`, default
    /// 120): a run that died is found by the scheduler this long after its last sign of life.
    /// Heartbeats renew it every third of it; a lease never reaches past the run's time limit
    /// (plus 30 s to record the outcome).
    pub lease: Duration,
    /// Default backoff (`JOBQ_RETRY_BASE_MS`, default 2000; `JOBQ_RETRY_CAP_SECONDS`, default 900).
    pub retry: RetryPolicy,
    /// How long cached pause flags are trusted (`JOBQ_PAUSE_CACHE_MS`, default 5000), and only
    /// for messages sent before they were read: the most a message already in flight when a pause
    /// answers may still start after it. A message sent after the pause answered never starts.
    pub pause_cache: Duration,
    /// Delay of a paused delivery before it is looked at again (`JOBQ_PAUSE_RECHECK_SECONDS`, default 30).
    pub pause_recheck: Duration,
    /// Kept free before the Lambda deadline to record the outcome (`JOBQ_SAFETY_MARGIN_MS`, default 3000).
    pub safety_margin: Duration,
    /// When AWS fails us mid-record, the message comes back after this long (default 10 s),
    /// twice as long each time it fails again, up to `transient_cap`.
    pub transient_delay: Duration,
    /// The longest wait of a delivery that AWS keeps failing (default 120 s): how late a job
    /// can start after a long outage ends.
    pub transient_cap: Duration,
    /// How long a job taken back from a run whose lease ended waits before it runs anew, so the
    /// run, alive after all, can own it again (`JOBQ_RESUME_GRACE_SECONDS`, default 60, as the
    /// scheduler's).
    pub resume_grace: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 10,
            progress_interval: Duration::from_secs(1),
            visibility_timeout: Duration::from_secs(u64::from(QUEUE_VISIBILITY_TIMEOUT_SECONDS)),
            lease: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            pause_cache: Duration::from_secs(5),
            pause_recheck: Duration::from_secs(30),
            safety_margin: Duration::from_secs(3),
            transient_delay: Duration::from_secs(10),
            transient_cap: Duration::from_secs(120),
            resume_grace: Duration::from_secs(60),
        }
    }
}

/// Besides the queue's visibility timeout, how late a delivery resuming a run may come: its own
/// delay and the waits of a few sends again while AWS fails.
pub const RESUME_DELAYS: Duration = Duration::from_secs(300);

impl WorkerSettings {
    /// How long after a run's lease ended a delivery resuming it (its outcome lost to AWS) may
    /// still come: a throttled invocation hides its batch for the queue's visibility timeout.
    pub fn resume_within(&self) -> Duration {
        self.visibility_timeout + RESUME_DELAYS
    }

    /// How long a delivery waits after AWS failed it, when it had failed `again` times before.
    pub fn transient_wait(&self, again: u32) -> Duration {
        let doubled = self.transient_delay.saturating_mul(2u32.saturating_pow(again.min(16)));
        doubled.min(self.transient_cap.max(self.transient_delay))
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = WorkerSettings::default();
        let vars = Vars::new(lookup);
        Ok(WorkerSettings {
            concurrency: vars.number("JOBQ_WORKER_CONCURRENCY", d.concurrency as u64, 1..=100)? as usize,
            progress_interval: vars.millis("JOBQ_PROGRESS_INTERVAL_MS", 1000, 10..=600_000)?,
            visibility_timeout: vars.seconds(
                "JOBQ_VISIBILITY_TIMEOUT_SECONDS",
                d.visibility_timeout.as_secs(),
                1..=43_200,
            )?,
            lease: vars.seconds("JOBQ_LEASE_SECONDS", d.lease.as_secs(), 3..=900)?,
            retry: RetryPolicy {
                base: vars.millis("JOBQ_RETRY_BASE_MS", 2000, 1..=3_600_000)?,
                factor: d.retry.factor,
                cap: vars.seconds("JOBQ_RETRY_CAP_SECONDS", 900, 1..=900)?,
            },
            pause_cache: vars.millis("JOBQ_PAUSE_CACHE_MS", 5000, 0..=600_000)?,
            pause_recheck: vars.seconds("JOBQ_PAUSE_RECHECK_SECONDS", 30, 1..=900)?,
            safety_margin: vars.millis("JOBQ_SAFETY_MARGIN_MS", 3000, 0..=60_000)?,
            transient_delay: d.transient_delay,
            transient_cap: d.transient_cap,
            resume_grace: vars.seconds("JOBQ_RESUME_GRACE_SECONDS", d.resume_grace.as_secs(), 0..=900)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_delivery_aws_keeps_failing_waits_twice_as_long_each_time_up_to_the_cap() {
        let settings = WorkerSettings::default();
        let waits: Vec<u64> = (0..7).map(|n| settings.transient_wait(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 120, 120, 120]);
        assert_eq!(settings.transient_wait(u32::MAX), Duration::from_secs(120));
        let low_cap = WorkerSettings { transient_cap: Duration::from_secs(1), ..WorkerSettings::default() };
        assert_eq!(low_cap.transient_wait(3), Duration::from_secs(10), "never below the first wait");
    }

    #[test]
    fn settings_read_the_environment_with_clear_errors() {
        let vars = HashMap::from([("JOBQ_WORKER_CONCURRENCY", "4"), ("JOBQ_PROGRESS_INTERVAL_MS", "250")]);
        let settings = WorkerSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("valid");
        assert_eq!(settings.concurrency, 4);
        assert_eq!(settings.progress_interval, Duration::from_millis(250));
        assert_eq!(settings.retry, RetryPolicy::default());

        let bad = HashMap::from([("JOBQ_RETRY_CAP_SECONDS", "3600")]);
        let err =
            WorkerSettings::from_lookup(|k| bad.get(k).map(|v| v.to_string())).expect_err("over 15 min");
        assert!(err.to_string().contains("JOBQ_RETRY_CAP_SECONDS"), "{err}");
    }
}
