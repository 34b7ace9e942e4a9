//! Lost or in line? A `queued` job that waited a period may have lost its message (its enqueue
//! died before sending it), or its message may simply wait in a deep queue. Sending every such
//! job a message each period fed a backlog with copies: a job two hours deep got eight. So a
//! message is sent again only when the tier's consumers are past the job: its queue shows no
//! visible message, or they already started jobs that came due well after it. Otherwise the job
//! is looked at again once the consumers, at their pace, should have reached it.
//!
//! Both signals are approximate (SQS's counts lag, and a standard queue's order is best-effort:
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html>),
//! so a wrong call costs at most one copy, which the worker drops at its claim; never a job.

use chrono::{DateTime, Duration, Utc};

use crate::domain::model::Job;
use crate::domain::priority::{PerTier, PriorityTier};
use crate::ports::queue::QueueDepth;

/// How far a standard queue may deliver out of order: a job is past once its tier's consumers
/// started one that came due this much later.
pub(super) const OUT_OF_ORDER: Duration = Duration::minutes(2);

/// What the scheduler knows this tick of how far each tier's consumers have got.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Backlog {
    /// The tier's queue shows no visible message: nothing waits in line.
    drained: PerTier<bool>,
    /// The latest due time among the tier's jobs seen started (by the lost-message walk).
    reached: PerTier<Option<DateTime<Utc>>>,
}

impl Backlog {
    /// From this tick's queue depths and the walk's record of started jobs.
    pub(super) fn new(
        depths: &PerTier<QueueDepth>,
        reached: impl Fn(PriorityTier) -> Option<DateTime<Utc>>,
    ) -> Self {
        Backlog {
            drained: PerTier::from_fn(|tier| depths.get(tier).visible == 0),
            reached: PerTier::from_fn(reached),
        }
    }

    /// Every queue empty and no mark: every waiting job a period old is lost (for tests).
    #[cfg(test)]
    pub(super) fn drained() -> Self {
        Backlog { drained: PerTier::from_fn(|_| true), reached: PerTier::default() }
    }

    /// Note a job the walk saw: one that started moves its tier's mark, by the due time of the
    /// message that started it. A job retrying has a `run_at` after its last start (its next
    /// message, still ahead): that is no sign of how far its consumers got, and is left out.
    pub(super) fn saw(&mut self, job: &Job) {
        if job.started_at.is_none_or(|started| job.due_at() > started) {
            return;
        }
        let reached = self.reached.get_mut(job.tier);
        if reached.is_none_or(|at| at < job.due_at()) {
            *reached = Some(job.due_at());
        }
    }

    pub(super) fn reached(&self, tier: PriorityTier) -> Option<DateTime<Utc>> {
        *self.reached.get(tier)
    }

    /// Whether a waiting job's message is lost (its consumers are past it), not in line.
    pub(super) fn is_lost(&self, job: &Job) -> bool {
        *self.drained.get(job.tier)
            || self.reached(job.tier).is_some_and(|at| job.due_at() + OUT_OF_ORDER < at)
    }

    /// When a job still in line is looked at again, as the `sent` watch's time (a job is looked
    /// at a period after it): once its consumers, as far behind it as they are now, should have
    /// reached it; never sooner than a period from now.
    pub(super) fn look_again(&self, job: &Job, now: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
        let behind = match self.reached(job.tier) {
            Some(at) => job.due_at() - at,
            None => Duration::zero(),
        };
        now + (behind - period).max(Duration::zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;
    use crate::domain::status::JobStatus;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("time")
    }

    fn job(tier_priority: i64, due_minutes: i64, started: bool) -> Job {
        let priority = crate::Priority::new(tier_priority).expect("priority");
        let mut job = Job::new(NewJob { job_type: "noop".into(), priority, ..NewJob::default() }, t0());
        job.created_at = t0() + Duration::minutes(due_minutes);
        if started {
            job.status = JobStatus::Completed;
            job.started_at = Some(job.created_at + Duration::minutes(1));
        }
        job
    }

    fn depths(visible: u64) -> PerTier<QueueDepth> {
        PerTier::from_fn(|_| QueueDepth { visible, in_flight: 0, delayed: 0 })
    }

    #[test]
    fn a_drained_queue_means_a_waiting_job_lost_its_message() {
        let backlog = Backlog::new(&depths(0), |_| None);
        assert!(backlog.is_lost(&job(5, 0, false)));
        let backlog = Backlog::new(&depths(3), |_| None);
        assert!(!backlog.is_lost(&job(5, 0, false)), "three messages in line, maybe its own");
    }

    #[test]
    fn consumers_past_a_job_mean_its_message_is_lost_even_in_a_busy_queue() {
        let mut backlog = Backlog::new(&depths(40), |_| None);
        let waiting = job(5, 10, false);
        backlog.saw(&job(5, 11, true));
        assert!(!backlog.is_lost(&waiting), "a minute later: within a standard queue's disorder");
        backlog.saw(&job(5, 9, true));
        assert_eq!(
            backlog.reached(waiting.tier),
            Some(t0() + Duration::minutes(11)),
            "the mark never goes back"
        );
        backlog.saw(&job(5, 13, true));
        assert!(backlog.is_lost(&waiting), "three minutes later");
        // A retry due in an hour, after its first run: not a sign the consumers got that far.
        let mut retrying = job(5, 14, true);
        retrying.status = JobStatus::Retrying;
        retrying.run_at = Some(t0() + Duration::minutes(74));
        backlog.saw(&retrying);
        assert_eq!(backlog.reached(waiting.tier), Some(t0() + Duration::minutes(13)));
        backlog.saw(&job(0, 60, false));
        backlog.saw(&job(9, 60, true));
        assert_eq!(backlog.reached(PriorityTier::High), Some(t0() + Duration::minutes(60)));
        assert!(!backlog.is_lost(&job(0, 10, false)), "a tier's mark is its own");
    }

    #[test]
    fn a_job_in_line_is_looked_at_again_when_its_consumers_should_reach_it() {
        let period = Duration::minutes(15);
        let now = t0() + Duration::minutes(200);
        // Consumers are two hours behind this job: looked at again in two hours, not every period.
        let backlog = Backlog::new(&depths(900), |_| Some(t0()));
        let deep = job(5, 120, false);
        assert_eq!(backlog.look_again(&deep, now, period) + period, now + Duration::minutes(120));
        // A little behind, or no mark yet: a period from now, as any watched job.
        let backlog = Backlog::new(&depths(900), |_| Some(t0() + Duration::minutes(115)));
        assert_eq!(backlog.look_again(&deep, now, period), now);
        assert_eq!(Backlog::new(&depths(900), |_| None).look_again(&deep, now, period), now);
    }
}
