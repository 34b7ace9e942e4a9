//! The job store: the record of every job, and the only place statuses change.

pub mod attrs;
mod batches;
pub mod bounds;
mod codec;
mod counters;
mod create_many;
mod created;
mod jobs;
pub mod keys;
mod lifecycle;
mod listing;
mod pause;
mod progress_writer;
mod reads;
mod spill;
mod stats;
pub mod tally;
mod unprocessed;
mod unsent;
mod watch;
mod write;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

pub use attrs::WRITE_TOKEN;
pub use batches::BatchCounters;
pub use codec::CorruptItem;
pub use counters::Counters;
pub use created::CreatedWalk;
pub use listing::{ListQuery, Page, PartitionPage, decode_cursor, encode_cursor, merge_page};
pub use pause::{PauseFlags, PauseScope, PauseScopeError};
pub use spill::{BLOB_PREFIX, INLINE_BUDGET, INLINE_MAX, SPILL_EXPIRATION_DAYS, SPILL_MAX};
pub use stats::{BatchStats, Ended, TypeStats};
pub use unsent::CreateReceipt;
pub use watch::{DueCursor, DueRow};

use crate::domain::model::{Job, JobFailure};
use crate::domain::status::{JobEvent, JobStatus};
use crate::ports::ids::Ids;
use crate::ports::table::Table;

/// The record of every job, and the only place statuses change: the job store's rules (every
/// condition and update) over the table port, so the same rules run on DynamoDB and in memory.
#[derive(Debug, Clone)]
pub struct JobStore {
    table: Arc<dyn Table>,
    /// How long terminal jobs are kept before DynamoDB's TTL deletes them.
    retention: Duration,
    /// Where write tokens come from.
    ids: Arc<dyn Ids>,
    /// Where parts too large for an item go (none: such parts are refused).
    blobs: Option<Arc<dyn crate::ports::blobs::Blobs>>,
}

/// The name the store had while it spoke to DynamoDB directly.
pub type DynamoJobStore = JobStore;

impl JobStore {
    /// The store over any table (the in-memory one in tests and the simulation).
    pub fn over(table: Arc<dyn Table>, retention: Duration) -> Self {
        JobStore { table, retention, ids: crate::ports::ids::random(), blobs: None }
    }

    /// The same store, drawing its write tokens from `ids`.
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> Self {
        self.ids = ids;
        self
    }

    /// Where this store's write tokens come from (a worker's stats writer id, too).
    pub fn ids(&self) -> &Arc<dyn Ids> {
        &self.ids
    }

    /// The table port under this store (tests inject faults through their own handle to it).
    pub fn table_port(&self) -> &Arc<dyn Table> {
        &self.table
    }
}

/// How a run ended, as the worker (or an external executor) reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed {
        result: Option<serde_json::Value>,
    },
    Partial {
        result: Option<serde_json::Value>,
        error: JobFailure,
    },
    /// Retryable failure with attempts left: due again at `run_at`.
    Retrying {
        error: JobFailure,
        run_at: DateTime<Utc>,
    },
    Failed {
        error: JobFailure,
    },
}

impl RunOutcome {
    pub fn event(&self) -> JobEvent {
        match self {
            RunOutcome::Completed { .. } => JobEvent::Complete,
            RunOutcome::Partial { .. } => JobEvent::CompletePartially,
            RunOutcome::Retrying { .. } => JobEvent::Backoff,
            RunOutcome::Failed { .. } => JobEvent::Fail,
        }
    }
}

/// What an external executor reports through `PATCH /jobs/{id}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalUpdate {
    /// The status change, as the event that makes it (validated by the transition function).
    pub event: Option<JobEvent>,
    pub progress: Option<u8>,
    pub current_step: Option<String>,
    pub message: Option<String>,
    pub result: Option<serde_json::Value>,
    pub error: Option<JobFailure>,
    pub github_workflow_run_id: Option<String>,
}

/// What `create` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Job),
    /// A job with this id (idempotency key) already existed; it is returned unchanged.
    Existing(Job),
}

impl Created {
    pub fn job(&self) -> &Job {
        match self {
            Created::New(job) | Created::Existing(job) => job,
        }
    }

    pub fn into_job(self) -> Job {
        match self {
            Created::New(job) | Created::Existing(job) => job,
        }
    }
}

/// Why a conditional write on an existing job was refused, other than its status.
#[derive(Debug, Clone, PartialEq)]
pub enum Conflict {
    /// The delivery was sent before the job was retried from the API.
    StaleGeneration { delivered: u64, current: u64 },
    /// Another run holds the job until then.
    LeaseHeld { until: DateTime<Utc> },
    /// A crashed run already spent the last attempt.
    AttemptsExhausted,
    /// A run's lease ended without an outcome: it died, or AWS kept it from renewing. Taken back
    /// reversibly (`JobStore::recover`), never claimed over.
    LeaseEnded,
    /// A retry's backoff (or a delay) is not over: the job may run from then on.
    NotDue { at: DateTime<Utc> },
    /// The job is no longer in the run that tries to write (cancelled, finished, retried, or
    /// reclaimed): `attempt` is that run's attempt number.
    NotOwner { attempt: u32 },
    /// The job changed since it was read (an optimistic write lost a race).
    Changed,
    /// The job waits parked while its tier or type is paused: the scheduler sends it a message
    /// on resume, so it needs none meanwhile.
    Parked,
    /// The job is still `queued`: no run of it started, so a dead letter of its message is AWS's
    /// doing (throttled invocations, a missed delete), not the job's; it is sent again.
    NeverRan,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job {id} not found")]
    NotFound { id: String },
    #[error("job {id} is {from}: cannot {event:?}")]
    InvalidTransition { id: String, from: JobStatus, event: JobEvent },
    #[error("job {id} was not changed: {reason:?}")]
    Conflict { id: String, reason: Conflict, current: Box<Job> },
    #[error("invalid cursor: {0}")]
    BadCursor(String),
    #[error("job {id}: {source}")]
    Corrupt { id: String, source: CorruptItem },
    /// A part of the job cannot be stored (too large, or refused by the bucket): sending it
    /// again fails again.
    #[error("job {id}: the {field} cannot be stored: {reason}")]
    Unstorable { id: String, field: &'static str, reason: String },
    #[error("DynamoDB {operation} failed: {source}")]
    Aws {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The current record, when a write was refused because of it.
    pub fn current(&self) -> Option<&Job> {
        match self {
            StoreError::Conflict { current, .. } => Some(current),
            _ => None,
        }
    }

    /// A transport or service failure that may succeed if tried again (throttling, a server
    /// error, no answer). A request the table refused as such (an item over 400 KB, access
    /// denied) fails again however often it is sent.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Aws { source, .. } => {
                if let Some(blob) = source.downcast_ref::<crate::ports::blobs::BlobError>() {
                    return blob.is_transient();
                }
                source.downcast_ref::<crate::ports::table::TableError>().is_none_or(|e| e.is_transient())
            }
            _ => false,
        }
    }
}

/// Why a conditional write on `current` failed, given what the write required: the event's
/// source statuses, the delivery's generation, or that the job is still in the run `run`.
/// Pure, so the refusal rules are unit-tested without DynamoDB.
pub(crate) fn classify_refusal(
    current: Job,
    event: Option<JobEvent>,
    expected_generation: Option<u64>,
    run: Option<&Job>,
    now: DateTime<Utc>,
) -> StoreError {
    let id = current.id.clone();
    let conflict =
        |reason| StoreError::Conflict { id: id.clone(), reason, current: Box::new(current.clone()) };
    if let Some(delivered) = expected_generation
        && delivered != current.generation
    {
        return conflict(Conflict::StaleGeneration { delivered, current: current.generation });
    }
    if let Some(run) = run
        && !is_run_of(&current, run)
    {
        return conflict(Conflict::NotOwner { attempt: run.attempts });
    }
    if event == Some(JobEvent::Claim)
        && let Some(reason) = claim_conflict(&current, now)
    {
        return conflict(reason);
    }
    match event {
        Some(event) => StoreError::InvalidTransition { id, from: current.status, event },
        None => conflict(Conflict::NotOwner { attempt: run.map(|r| r.attempts).unwrap_or_default() }),
    }
}

/// Whether `current` is still in the run `run` (as its claim returned it).
fn is_run_of(current: &Job, run: &Job) -> bool {
    current.status == JobStatus::Processing
        && current.generation == run.generation
        && current.run_id.is_some()
        && current.run_id == run.run_id
}

/// Why a claim of `current` (in the delivery's generation) was refused, other than its status.
fn claim_conflict(current: &Job, now: DateTime<Utc>) -> Option<Conflict> {
    let waiting = current.status.is_claimable() || current.status == JobStatus::Processing;
    if current.status == JobStatus::Processing
        && let Some(until) = current.lease_until.filter(|until| *until >= now)
    {
        return Some(Conflict::LeaseHeld { until });
    }
    if waiting && current.attempts >= current.max_attempts {
        return Some(Conflict::AttemptsExhausted);
    }
    if current.status == JobStatus::Processing {
        return Some(Conflict::LeaseEnded);
    }
    match current.run_at {
        Some(at) if waiting && at > now => Some(Conflict::NotDue { at }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{NewJob, parse_time};
    use chrono::Duration;

    fn job(status: JobStatus) -> Job {
        let mut job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now());
        job.status = status;
        job
    }

    fn now() -> DateTime<Utc> {
        parse_time("2026-01-01T00:00:00Z").expect("time")
    }

    #[test]
    fn claim_refusals_say_why() {
        let mut running = job(JobStatus::Processing);
        running.attempts = 1;
        running.lease_until = Some(now() + Duration::seconds(30));
        let err = classify_refusal(running.clone(), Some(JobEvent::Claim), Some(0), None, now());
        assert!(matches!(err, StoreError::Conflict { reason: Conflict::LeaseHeld { .. }, .. }), "{err}");

        running.lease_until = Some(now() - Duration::seconds(1));
        let err = classify_refusal(running.clone(), Some(JobEvent::Claim), Some(0), None, now());
        assert!(matches!(err, StoreError::Conflict { reason: Conflict::LeaseEnded, .. }), "{err}");

        running.attempts = 3;
        let err = classify_refusal(running.clone(), Some(JobEvent::Claim), Some(0), None, now());
        assert!(matches!(err, StoreError::Conflict { reason: Conflict::AttemptsExhausted, .. }), "{err}");

        let err = classify_refusal(running, Some(JobEvent::Claim), Some(7), None, now());
        assert!(
            matches!(
                err,
                StoreError::Conflict { reason: Conflict::StaleGeneration { delivered: 7, current: 0 }, .. }
            ),
            "{err}"
        );

        let err = classify_refusal(job(JobStatus::Completed), Some(JobEvent::Claim), Some(0), None, now());
        assert!(
            matches!(
                err,
                StoreError::InvalidTransition { from: JobStatus::Completed, event: JobEvent::Claim, .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn only_failures_that_may_succeed_later_are_transient() {
        use crate::ports::table::TableError;
        let aws = |source: TableError| StoreError::Aws { operation: "UpdateItem", source: Box::new(source) };
        let throttled = TableError::Transient { operation: "UpdateItem", source: "throttled".into() };
        let refused = TableError::Rejected { operation: "UpdateItem", source: "AccessDenied".into() };
        assert!(aws(throttled).is_transient());
        assert!(!aws(refused).is_transient(), "sending it again fails again");
        let unprocessed =
            StoreError::Aws { operation: "BatchGetItem", source: "keys left unprocessed".into() };
        assert!(unprocessed.is_transient());
        assert!(!StoreError::NotFound { id: "x".into() }.is_transient());
    }

    #[test]
    fn a_retry_that_is_not_due_says_when_it_is() {
        let mut retrying = job(JobStatus::Retrying);
        retrying.attempts = 1;
        retrying.run_at = Some(now() + Duration::minutes(40));
        let err = classify_refusal(retrying.clone(), Some(JobEvent::Claim), Some(0), None, now());
        match err {
            StoreError::Conflict { reason: Conflict::NotDue { at }, .. } => {
                assert_eq!(Some(at), retrying.run_at)
            }
            other => panic!("unexpected {other}"),
        }
        retrying.run_at = Some(now());
        let err = classify_refusal(retrying, Some(JobEvent::Claim), Some(0), None, now());
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "due: refused for another reason");
    }

    #[test]
    fn a_run_owns_the_job_only_while_its_token_and_generation_are_there() {
        let mut run = job(JobStatus::Processing);
        run.attempts = 1;
        run.run_id = Some("run-a".into());
        // The same attempt number in a later generation is another run.
        let mut retried = run.clone();
        retried.generation = 1;
        retried.run_id = Some("run-b".into());
        let err = classify_refusal(retried.clone(), None, None, Some(&run), now());
        assert!(
            matches!(err, StoreError::Conflict { reason: Conflict::NotOwner { attempt: 1 }, .. }),
            "{err}"
        );
        assert!(is_run_of(&retried, &retried));
        assert!(!is_run_of(&retried, &run));
        let mut tokenless = retried.clone();
        tokenless.run_id = None;
        assert!(!is_run_of(&tokenless, &tokenless), "a job no claim named has no owner");
    }

    #[test]
    fn a_cancelled_run_is_no_longer_the_owner() {
        let mut cancelled = job(JobStatus::Cancelled);
        cancelled.attempts = 1;
        let mut run = cancelled.clone();
        run.status = JobStatus::Processing;
        run.run_id = Some("run-a".into());
        cancelled.run_id = run.run_id.clone();
        let err = classify_refusal(cancelled, None, None, Some(&run), now());
        match err {
            StoreError::Conflict { reason: Conflict::NotOwner { attempt: 1 }, current, .. } => {
                assert_eq!(current.status, JobStatus::Cancelled)
            }
            other => panic!("unexpected {other}"),
        }
    }
}
