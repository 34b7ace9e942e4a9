//! What to do with each outcome the engine meets: a claim's result, a handler's result, the
//! result of recording it. Pure (no I/O, no clock, no randomness: the time and the jitter are
//! arguments), so every branch is unit-tested without AWS; the engine performs only the I/O a
//! decision names.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::model::{Job, JobFailure};
use crate::domain::status::JobStatus;
use crate::domain::task::{ErrorKind, JobError, RetryPolicy, TaskOutput};
use crate::store::{Conflict, Ended, RunOutcome, StoreError};

/// Why a message went to a dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The handler failed retryably on every attempt.
    AttemptsExhausted,
    /// The handler failed with an error no retry can fix.
    Fatal,
    /// The message body is not a job envelope.
    Poison,
    /// Runs kept dying (crash, Lambda timeout) until the attempts were spent.
    CrashedRepeatedly,
    /// The envelope points at no job record.
    MissingRecord,
    /// The handler panicked: a bug no retry can be trusted to fix.
    Panicked,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::AttemptsExhausted => "attempts_exhausted",
            DeadLetterReason::Fatal => "fatal_error",
            DeadLetterReason::Poison => "poison_message",
            DeadLetterReason::CrashedRepeatedly => "worker_crashed_repeatedly",
            DeadLetterReason::MissingRecord => "missing_job_record",
            DeadLetterReason::Panicked => "handler_panicked",
        }
    }
}

/// The reason a dead-lettered message carries: the reason's name, then what went wrong, if told.
pub(crate) fn dead_letter_note(reason: DeadLetterReason, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{}: {detail}", reason.as_str()),
        None => reason.as_str().to_owned(),
    }
}

/// Why a delivery was dropped without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The job is not waiting to run (already done, failed, cancelled...).
    NotWaiting(JobStatus),
    /// The delivery was sent before the job was retried from the API.
    StaleGeneration { delivered: u64, current: u64 },
}

/// What to do with a delivery, given how claiming its job went.
#[derive(Debug)]
pub(crate) enum ClaimDecision {
    /// The job is ours: run it.
    Run(Box<Job>),
    /// Nothing can ever run it: send the envelope to the tier's dead-letter queue.
    DeadLetter { reason: DeadLetterReason, detail: Option<String> },
    /// A duplicate or outdated delivery: acknowledge it.
    Drop(Dropped),
    /// A redelivered completed job: acknowledge it, after making sure its next step is enqueued
    /// (the run that completed it may have died before sending it).
    DropAndEnqueueNext,
    /// Another run holds the lease: this delivery is a second message for a running job (an
    /// idempotency key sent again, a lost-message resend, SQS's own duplicate). It must never
    /// walk toward the DLQ while the run lives: once the run is watched at its lease end (so a
    /// run that dies is still found), the copy is dropped. `until` is the lease's end, for when
    /// the watch cannot be made and the copy is sent again for then.
    RunningElsewhere { until: Duration },
    /// A run's lease ended without an outcome: take the job back from it, reversibly (the job as
    /// the refusal found it), and come back after the grace to run it anew.
    TakeBack(Box<Job>),
    /// The job's `run_at` (a retry's backoff) is still ahead: deliver again at that time.
    NotDue(DateTime<Utc>),
    /// Runs kept dying until the attempts were spent: fail the job, as the refusal found it (its
    /// generation, run and ended lease), with this error, then dead-letter the envelope (see
    /// [`decide_crash_recorded`]).
    FailCrashed { current: Box<Job>, error: JobFailure },
    /// AWS failed us: the message comes back later.
    Transient(StoreError),
}

/// How a claim's result is handled. `now` is the time the claim was made at.
pub(crate) fn decide_claim(claimed: Result<Job, StoreError>, now: DateTime<Utc>) -> ClaimDecision {
    let err = match claimed {
        Ok(job) => return ClaimDecision::Run(Box::new(job)),
        Err(err) => err,
    };
    match err {
        StoreError::NotFound { .. } => {
            ClaimDecision::DeadLetter { reason: DeadLetterReason::MissingRecord, detail: None }
        }
        StoreError::Corrupt { source, .. } => {
            ClaimDecision::DeadLetter { reason: DeadLetterReason::Poison, detail: Some(source.to_string()) }
        }
        // A claim stores nothing large; were it refused so, no resend would help.
        StoreError::Unstorable { reason, .. } => {
            ClaimDecision::DeadLetter { reason: DeadLetterReason::Poison, detail: Some(reason) }
        }
        StoreError::InvalidTransition { from: JobStatus::Completed, .. } => ClaimDecision::DropAndEnqueueNext,
        StoreError::InvalidTransition { from, .. } => ClaimDecision::Drop(Dropped::NotWaiting(from)),
        StoreError::Conflict { reason: Conflict::StaleGeneration { delivered, current }, .. } => {
            ClaimDecision::Drop(Dropped::StaleGeneration { delivered, current })
        }
        StoreError::Conflict { reason: Conflict::LeaseHeld { until }, .. } => {
            // A second past the lease, so the lease has surely ended when the copy returns.
            let until = (until - now).to_std().unwrap_or_default() + Duration::from_secs(1);
            ClaimDecision::RunningElsewhere { until }
        }
        StoreError::Conflict { reason: Conflict::NotDue { at }, .. } => ClaimDecision::NotDue(at),
        StoreError::Conflict { reason: Conflict::LeaseEnded, current, .. } => {
            ClaimDecision::TakeBack(current)
        }
        StoreError::Conflict { reason: Conflict::AttemptsExhausted, current, .. } => {
            let error = crashed_repeatedly(current.attempts);
            ClaimDecision::FailCrashed { current, error }
        }
        err @ (StoreError::Conflict { .. } | StoreError::BadCursor(_) | StoreError::Aws { .. }) => {
            ClaimDecision::Transient(err)
        }
    }
}

/// What to do once a job whose runs kept dying was (or was not) failed.
#[derive(Debug)]
pub(crate) enum CrashRecorded {
    /// Failed now, or already ended by someone else: dead-letter the envelope.
    DeadLetter,
    /// The job moved on since the claim read it (its run renewed its lease, a retry made a new
    /// generation, a resume took it over): not failed; look again soon.
    MovedOn,
    /// AWS failed us: the message comes back later.
    Transient(StoreError),
}

pub(crate) fn decide_crash_recorded(failed: Result<Job, StoreError>) -> CrashRecorded {
    match failed {
        Ok(_) | Err(StoreError::InvalidTransition { .. }) => CrashRecorded::DeadLetter,
        Err(StoreError::Conflict { .. }) => CrashRecorded::MovedOn,
        Err(err) => CrashRecorded::Transient(err),
    }
}

/// The failure recorded when every attempt ended with the worker dying (crash, Lambda timeout).
pub fn crashed_repeatedly(attempts: u32) -> JobFailure {
    JobFailure {
        message: format!("the worker died during each of {attempts} attempts"),
        details: Some(serde_json::json!({ "reason": DeadLetterReason::CrashedRepeatedly.as_str() })),
    }
}

/// How a handler's run ended, as the engine saw it.
#[derive(Debug)]
pub(crate) enum Handled {
    /// The handler returned (or no handler is registered: a fatal error).
    Returned(Result<TaskOutput, JobError>),
    /// The handler was still running when its time limit was up.
    TimedOut(Duration),
    /// The handler panicked, with this message; the panic was caught, so only its job fails.
    Panicked(String),
}

/// Where a retry's backoff comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// The task type's own policy, if it has one.
    pub task: Option<RetryPolicy>,
    /// The worker's default policy.
    pub default: RetryPolicy,
    /// A number in 0..=1 that spreads retries (see [`RetryPolicy::backoff`]).
    pub jitter: f64,
}

/// What follows once a run's outcome is recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AfterFinish {
    /// Completed: enqueue the first of the job's `next` steps, if any.
    EnqueueNext,
    /// Retrying: send a fresh delayed message for `run_at` (`delay` from the finish time).
    SendRetry { run_at: DateTime<Utc>, delay: Duration },
    /// Retrying after a backoff longer than SQS's longest delay: no message now; the job waits in
    /// the table and the scheduler sends one when it is within reach.
    HeldUntil { run_at: DateTime<Utc> },
    /// Failed: send the envelope to the tier's dead-letter queue.
    DeadLetter(DeadLetterReason),
    /// Nothing more (partial).
    Ack,
}

/// A run's outcome to record, how to count it, and what follows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recording {
    pub outcome: RunOutcome,
    pub ended: Ended,
    pub then: AfterFinish,
}

/// What to do with a handler's result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunDecision {
    /// Cancelled (or taken over) while running: stop, write nothing, acknowledge the message.
    Stop,
    /// Record the outcome, then do what it says.
    Record(Box<Recording>),
}

/// How a run of `job` (its attempt number and limit) that ended at `now` is recorded.
pub(crate) fn decide_run(handled: Handled, job: &Job, backoff: Backoff, now: DateTime<Utc>) -> RunDecision {
    let result = match handled {
        Handled::Returned(result) => result,
        Handled::TimedOut(limit) => Err(timed_out(limit)),
        Handled::Panicked(message) => {
            let error = panicked(&message).to_failure();
            let reason = DeadLetterReason::Panicked;
            let outcome = RunOutcome::Failed { error: with_reason(error, reason) };
            let then = AfterFinish::DeadLetter(reason);
            return RunDecision::Record(Box::new(Recording { outcome, ended: Ended::Failed, then }));
        }
    };
    let (outcome, ended, then) = match result {
        Ok(TaskOutput::Completed(result)) => {
            (RunOutcome::Completed { result: non_null(result) }, Ended::Completed, AfterFinish::EnqueueNext)
        }
        Ok(TaskOutput::Partial { result, failed }) => (
            RunOutcome::Partial { result: non_null(result), error: failed },
            Ended::Partial,
            AfterFinish::Ack,
        ),
        Err(err) if err.kind == ErrorKind::Cancelled => return RunDecision::Stop,
        Err(err) if err.is_retryable() && job.attempts < job.max_attempts => {
            let policy = backoff.task.unwrap_or(backoff.default);
            let delay = policy.backoff(job.attempts, backoff.jitter);
            let run_at = now + delay;
            let outcome = RunOutcome::Retrying { error: err.to_failure(), run_at };
            let then = if crate::domain::model::beyond_sqs_delay(run_at, now) {
                AfterFinish::HeldUntil { run_at }
            } else {
                AfterFinish::SendRetry { run_at, delay }
            };
            (outcome, Ended::Retried, then)
        }
        Err(err) => {
            let reason = if err.is_retryable() {
                DeadLetterReason::AttemptsExhausted
            } else {
                DeadLetterReason::Fatal
            };
            let outcome = RunOutcome::Failed { error: with_reason(err.to_failure(), reason) };
            (outcome, Ended::Failed, AfterFinish::DeadLetter(reason))
        }
    };
    RunDecision::Record(Box::new(Recording { outcome, ended, then }))
}

/// A panic fails its job: the message is the panic's, marked as one.
fn panicked(message: &str) -> JobError {
    JobError::fatal(format!("handler panicked: {message}")).with_details(serde_json::json!({ "panic": true }))
}

/// A timed-out run counts as a retryable failure.
fn timed_out(limit: Duration) -> JobError {
    JobError::retryable(format!("timed out after {} s", limit.as_secs_f64()))
}

/// A `null` result is no result.
fn non_null(result: serde_json::Value) -> Option<serde_json::Value> {
    (!result.is_null()).then_some(result)
}

/// The dead-letter reason, added to the error's details (an object) so the record says why.
pub(crate) fn with_reason(mut failure: JobFailure, reason: DeadLetterReason) -> JobFailure {
    let reason = serde_json::Value::from(reason.as_str());
    match &mut failure.details {
        Some(serde_json::Value::Object(map)) => {
            map.entry("reason").or_insert(reason);
        }
        Some(other) => {
            failure.details = Some(serde_json::json!({ "reason": reason, "details": other.take() }))
        }
        None => failure.details = Some(serde_json::json!({ "reason": reason })),
    }
    failure
}

/// What to do once the store answered the write of a run's outcome.
#[derive(Debug)]
pub(crate) enum FinishDecision {
    /// Recorded: do what the run's decision said, with the job as now stored.
    Proceed { job: Box<Job>, then: AfterFinish },
    /// The job changed while running (cancelled, or reclaimed after a lost lease): the run no
    /// longer owns it, so acknowledge the message without further writes.
    LostOwnership { status: JobStatus },
    /// AWS failed us: the message comes back, and the run with it.
    Transient(StoreError),
}

pub(crate) fn decide_finish(finished: Result<Job, StoreError>, then: AfterFinish) -> FinishDecision {
    match finished {
        Ok(job) => FinishDecision::Proceed { job: Box::new(job), then },
        Err(StoreError::Conflict { current, .. }) => FinishDecision::LostOwnership { status: current.status },
        Err(err) => FinishDecision::Transient(err),
    }
}

/// A run's time limit: the job's timeout, the type's, and what the invocation has left minus the
/// margin needed to record the outcome (never below 100 ms, so the outcome is always recorded).
pub fn run_limit(
    job_timeout_seconds: u32,
    type_timeout: Option<Duration>,
    left: Option<Duration>,
    margin: Duration,
) -> Duration {
    let mut limit = Duration::from_secs(u64::from(job_timeout_seconds.max(1)));
    if let Some(t) = type_timeout {
        limit = limit.min(t);
    }
    if let Some(left) = left {
        limit = limit.min(left.saturating_sub(margin).max(Duration::from_millis(100)));
    }
    limit
}

/// Kept past a run's time limit in its lease: time to record the outcome, with the store's resends.
pub(crate) const LEASE_GRACE: Duration = Duration::from_secs(30);

/// How long a run's lease reaches from now: to the end of its time left (`limit_left`) and the
/// grace, but never more than `lease` ahead, so a run that died is found soon after. A longer run
/// renews it by heartbeats.
pub(crate) fn lease_span(limit_left: Duration, lease: Duration) -> Duration {
    (limit_left + LEASE_GRACE).min(lease)
}

/// How often a running job's heartbeat renews its lease: three chances before it would end.
pub(crate) fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}

/// A run's times in milliseconds, for the statistics: processing (start to `now`) and wait (due
/// to start; the record's own figure when it has one).
pub(crate) fn run_times(job: &Job, now: DateTime<Utc>) -> (u64, u64) {
    let millis = |d: chrono::TimeDelta| d.num_milliseconds().max(0) as u64;
    let processing = job.started_at.map(|s| millis(now - s)).unwrap_or(0);
    let wait = job.wait_ms.unwrap_or_else(|| job.started_at.map(|s| millis(s - job.due_at())).unwrap_or(0));
    (processing, wait)
}

/// The whole seconds of SQS delay that make a message due at `run_at` (SQS allows 0 to 900).
pub(crate) fn delay_seconds(run_at: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let millis = (run_at - now).num_milliseconds().max(0);
    ((millis + 999) / 1000).min(900) as i32
}

/// A visibility timeout in whole seconds, within what SQS allows (12 hours).
pub(crate) fn visibility_seconds(wait: Duration) -> i32 {
    i32::try_from(wait.as_secs().min(43_200)).unwrap_or(43_200)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::model::NewJob;
    use crate::domain::status::JobEvent;
    use crate::store::CorruptItem;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    /// A job in its `attempts`th run of `max_attempts`.
    fn job(attempts: u32, max_attempts: u32) -> Job {
        let spec = NewJob { job_type: "ocr".into(), max_attempts: Some(max_attempts), ..NewJob::default() };
        let mut job = Job::new(spec, at(0));
        job.status = JobStatus::Processing;
        job.attempts = attempts;
        job
    }

    fn conflict(reason: Conflict, current: Job) -> StoreError {
        StoreError::Conflict { id: current.id.clone(), reason, current: Box::new(current) }
    }

    fn aws_error() -> StoreError {
        StoreError::Aws { operation: "UpdateItem", source: "throttled".into() }
    }

    fn policy(base_ms: u64) -> RetryPolicy {
        RetryPolicy { base: Duration::from_millis(base_ms), factor: 2.0, cap: Duration::from_secs(900) }
    }

    /// The worker's default policy (2 s base), no task policy, the full jitter.
    fn default_backoff() -> Backoff {
        Backoff { task: None, default: policy(2000), jitter: 1.0 }
    }

    fn recording(decision: RunDecision) -> Recording {
        match decision {
            RunDecision::Record(recording) => *recording,
            RunDecision::Stop => panic!("expected an outcome to record, got Stop"),
        }
    }

    fn returned(result: Result<TaskOutput, JobError>) -> Handled {
        Handled::Returned(result)
    }

    // The handler's result.

    #[test]
    fn a_completed_run_is_recorded_then_enqueues_the_next_step() {
        let done = recording(decide_run(
            returned(Ok(TaskOutput::Completed(json!({"pages": 3})))),
            &job(1, 3),
            default_backoff(),
            at(5),
        ));
        assert_eq!(done.outcome, RunOutcome::Completed { result: Some(json!({"pages": 3})) });
        assert_eq!((done.ended, done.then), (Ended::Completed, AfterFinish::EnqueueNext));

        let empty = recording(decide_run(
            returned(Ok(TaskOutput::Completed(json!(null)))),
            &job(1, 3),
            default_backoff(),
            at(5),
        ));
        assert_eq!(empty.outcome, RunOutcome::Completed { result: None }, "a null result is no result");
    }

    #[test]
    fn a_partial_run_is_recorded_with_its_failure_and_nothing_follows() {
        let failed = JobFailure { message: "page 2 unreadable".into(), details: None };
        let output = TaskOutput::Partial { result: json!([1, 3]), failed: failed.clone() };
        let partial = recording(decide_run(returned(Ok(output)), &job(1, 3), default_backoff(), at(5)));
        assert_eq!(partial.outcome, RunOutcome::Partial { result: Some(json!([1, 3])), error: failed });
        assert_eq!((partial.ended, partial.then), (Ended::Partial, AfterFinish::Ack));
    }

    #[test]
    fn a_retryable_failure_with_attempts_left_retries_after_the_default_backoff() {
        let now = at(10);
        // Attempt 2 of 3 with a 2 s base doubles to 4 s; full jitter keeps all of it.
        let retry = recording(decide_run(
            returned(Err(JobError::retryable("busy"))),
            &job(2, 3),
            default_backoff(),
            now,
        ));
        let delay = Duration::from_secs(4);
        let run_at = now + delay;
        assert_eq!(
            retry.outcome,
            RunOutcome::Retrying { error: JobError::retryable("busy").to_failure(), run_at }
        );
        assert_eq!((retry.ended, retry.then), (Ended::Retried, AfterFinish::SendRetry { run_at, delay }));

        // No jitter keeps half of it.
        let backoff = Backoff { jitter: 0.0, ..default_backoff() };
        let retry =
            recording(decide_run(returned(Err(JobError::retryable("busy"))), &job(2, 3), backoff, now));
        assert_eq!(
            retry.then,
            AfterFinish::SendRetry { run_at: now + Duration::from_secs(2), delay: Duration::from_secs(2) }
        );
    }

    #[test]
    fn a_task_retry_policy_wins_over_the_default() {
        let now = at(10);
        let backoff = Backoff { task: Some(policy(100)), ..default_backoff() };
        let retry =
            recording(decide_run(returned(Err(JobError::retryable("busy"))), &job(1, 3), backoff, now));
        let delay = Duration::from_millis(100);
        assert_eq!(retry.then, AfterFinish::SendRetry { run_at: now + delay, delay });
    }

    #[test]
    fn a_retryable_failure_on_the_last_attempt_fails_and_dead_letters() {
        let err = JobError::retryable("busy").with_details(json!({"code": 503}));
        let failed = recording(decide_run(returned(Err(err)), &job(3, 3), default_backoff(), at(5)));
        let error = JobFailure {
            message: "busy".into(),
            details: Some(json!({"code": 503, "reason": "attempts_exhausted"})),
        };
        assert_eq!(failed.outcome, RunOutcome::Failed { error });
        assert_eq!(failed.ended, Ended::Failed);
        assert_eq!(failed.then, AfterFinish::DeadLetter(DeadLetterReason::AttemptsExhausted));
    }

    #[test]
    fn a_fatal_failure_fails_and_dead_letters_even_with_attempts_left() {
        let failed = recording(decide_run(
            returned(Err(JobError::fatal("bad input"))),
            &job(1, 3),
            default_backoff(),
            at(5),
        ));
        let error =
            JobFailure { message: "bad input".into(), details: Some(json!({"reason": "fatal_error"})) };
        assert_eq!(failed.outcome, RunOutcome::Failed { error });
        assert_eq!(
            (failed.ended, failed.then),
            (Ended::Failed, AfterFinish::DeadLetter(DeadLetterReason::Fatal))
        );
    }

    #[test]
    fn a_timeout_is_a_retryable_failure_that_names_the_limit() {
        let now = at(10);
        let limit = Duration::from_millis(2500);
        let retry = recording(decide_run(Handled::TimedOut(limit), &job(1, 2), default_backoff(), now));
        let RunOutcome::Retrying { error, .. } = &retry.outcome else { panic!("{retry:?}") };
        assert_eq!(error.message, "timed out after 2.5 s");
        assert_eq!(retry.ended, Ended::Retried);

        let last = recording(decide_run(Handled::TimedOut(limit), &job(2, 2), default_backoff(), now));
        let RunOutcome::Failed { error } = &last.outcome else { panic!("{last:?}") };
        assert_eq!(error.message, "timed out after 2.5 s");
        assert_eq!(last.then, AfterFinish::DeadLetter(DeadLetterReason::AttemptsExhausted));
    }

    #[test]
    fn a_cancelled_run_stops_without_recording_anything() {
        for attempts in [1, 3] {
            let decision =
                decide_run(returned(Err(JobError::cancelled())), &job(attempts, 3), default_backoff(), at(5));
            assert_eq!(decision, RunDecision::Stop, "attempt {attempts}");
        }
    }

    // The finish write's result.

    #[test]
    fn a_recorded_outcome_proceeds_with_what_the_run_decided() {
        let mut stored = job(1, 3);
        stored.status = JobStatus::Completed;
        let FinishDecision::Proceed { job, then } =
            decide_finish(Ok(stored.clone()), AfterFinish::EnqueueNext)
        else {
            panic!("expected to proceed")
        };
        assert_eq!((*job, then), (stored, AfterFinish::EnqueueNext));
    }

    #[test]
    fn a_refused_finish_means_the_run_lost_ownership() {
        let mut current = job(2, 3);
        current.status = JobStatus::Cancelled;
        for reason in [Conflict::NotOwner { attempt: 1 }, Conflict::Changed] {
            let decision = decide_finish(Err(conflict(reason, current.clone())), AfterFinish::Ack);
            assert!(
                matches!(decision, FinishDecision::LostOwnership { status: JobStatus::Cancelled }),
                "{decision:?}"
            );
        }
    }

    #[test]
    fn a_store_failure_while_finishing_brings_the_message_back() {
        let decision = decide_finish(Err(aws_error()), AfterFinish::EnqueueNext);
        assert!(matches!(decision, FinishDecision::Transient(StoreError::Aws { .. })), "{decision:?}");
    }

    // The claim's result.

    #[test]
    fn a_successful_claim_runs_the_job() {
        let claimed = job(1, 3);
        let ClaimDecision::Run(run) = decide_claim(Ok(claimed.clone()), at(0)) else {
            panic!("expected Run")
        };
        assert_eq!(*run, claimed);
    }

    #[test]
    fn an_envelope_without_a_record_is_dead_lettered() {
        let decision = decide_claim(Err(StoreError::NotFound { id: "j1".into() }), at(0));
        let ClaimDecision::DeadLetter { reason, detail } = decision else { panic!("{decision:?}") };
        assert_eq!((reason, detail.as_deref()), (DeadLetterReason::MissingRecord, None));
        assert_eq!(dead_letter_note(reason, None), "missing_job_record");
    }

    #[test]
    fn a_record_that_does_not_decode_is_dead_lettered_as_poison_with_the_cause() {
        let source = CorruptItem { attribute: "status", reason: "unknown status \"zzz\"".into() };
        let cause = source.to_string();
        let decision = decide_claim(Err(StoreError::Corrupt { id: "j1".into(), source }), at(0));
        let ClaimDecision::DeadLetter { reason, detail } = decision else { panic!("{decision:?}") };
        assert_eq!((reason, detail.as_deref()), (DeadLetterReason::Poison, Some(cause.as_str())));
        assert_eq!(dead_letter_note(reason, detail.as_deref()), format!("poison_message: {cause}"));
    }

    #[test]
    fn a_delivery_for_a_completed_job_is_dropped_but_its_next_step_enqueued() {
        let err = StoreError::InvalidTransition {
            id: "j1".into(),
            from: JobStatus::Completed,
            event: JobEvent::Claim,
        };
        assert!(matches!(decide_claim(Err(err), at(0)), ClaimDecision::DropAndEnqueueNext));
    }

    #[test]
    fn a_delivery_for_a_job_in_any_other_state_is_just_dropped() {
        for from in [JobStatus::Failed, JobStatus::Cancelled, JobStatus::Partial, JobStatus::Scheduled] {
            let err = StoreError::InvalidTransition { id: "j1".into(), from, event: JobEvent::Claim };
            let decision = decide_claim(Err(err), at(0));
            assert!(
                matches!(decision, ClaimDecision::Drop(Dropped::NotWaiting(s)) if s == from),
                "{decision:?}"
            );
        }
    }

    #[test]
    fn a_delivery_from_before_a_retry_is_dropped() {
        let err = conflict(Conflict::StaleGeneration { delivered: 1, current: 2 }, job(0, 3));
        let decision = decide_claim(Err(err), at(0));
        assert!(
            matches!(decision, ClaimDecision::Drop(Dropped::StaleGeneration { delivered: 1, current: 2 })),
            "{decision:?}"
        );
    }

    #[test]
    fn a_copy_for_a_job_running_elsewhere_knows_when_that_runs_lease_ends() {
        let held = |until| conflict(Conflict::LeaseHeld { until }, job(1, 3));
        let decision = decide_claim(Err(held(at(100))), at(40));
        assert!(
            matches!(decision, ClaimDecision::RunningElsewhere { until } if until == Duration::from_secs(61)),
            "{decision:?}"
        );
        // A lease that ended as the claim was refused: a second.
        let decision = decide_claim(Err(held(at(30))), at(40));
        assert!(
            matches!(decision, ClaimDecision::RunningElsewhere { until } if until == Duration::from_secs(1)),
            "{decision:?}"
        );
    }

    #[test]
    fn a_run_whose_lease_ended_is_taken_back_never_claimed_over() {
        let decision = decide_claim(Err(conflict(Conflict::LeaseEnded, job(1, 3))), at(40));
        let ClaimDecision::TakeBack(current) = decision else { panic!("{decision:?}") };
        assert_eq!(current.attempts, 1, "the job as the refusal found it");
    }

    #[test]
    fn a_job_whose_runs_kept_dying_is_failed_as_crashed_repeatedly() {
        let decision = decide_claim(Err(conflict(Conflict::AttemptsExhausted, job(3, 3))), at(0));
        let ClaimDecision::FailCrashed { current, error } = decision else { panic!("{decision:?}") };
        assert_eq!(current.attempts, 3, "failed as the refusal found it");
        assert_eq!(error, crashed_repeatedly(3));
        assert_eq!(error.message, "the worker died during each of 3 attempts");
        assert_eq!(error.details, Some(json!({"reason": "worker_crashed_repeatedly"})));
    }

    #[test]
    fn aws_failures_and_unexpected_refusals_while_claiming_are_transient() {
        let errors = [
            aws_error(),
            conflict(Conflict::Changed, job(1, 3)),
            conflict(Conflict::NotOwner { attempt: 1 }, job(1, 3)),
            StoreError::BadCursor("x".into()),
        ];
        for err in errors {
            let decision = decide_claim(Err(err), at(0));
            assert!(matches!(decision, ClaimDecision::Transient(_)), "{decision:?}");
        }
    }

    #[test]
    fn a_crashed_job_is_dead_lettered_once_failed_or_already_ended() {
        assert!(matches!(decide_crash_recorded(Ok(job(3, 3))), CrashRecorded::DeadLetter));
        let ended = StoreError::InvalidTransition {
            id: "j1".into(),
            from: JobStatus::Cancelled,
            event: JobEvent::Fail,
        };
        assert!(matches!(decide_crash_recorded(Err(ended)), CrashRecorded::DeadLetter));
        assert!(matches!(decide_crash_recorded(Err(aws_error())), CrashRecorded::Transient(_)));
        // The run renewed its lease (alive after an outage) or a retry made a new generation
        // since the claim read it: nothing is failed and nothing dead-lettered.
        let renewed = conflict(Conflict::NotOwner { attempt: 3 }, job(3, 3));
        assert!(matches!(decide_crash_recorded(Err(renewed)), CrashRecorded::MovedOn));
    }

    // The helpers.

    #[test]
    fn a_run_never_outlives_the_invocation() {
        let secs = Duration::from_secs;
        assert_eq!(run_limit(300, None, None, secs(3)), secs(300));
        assert_eq!(run_limit(300, Some(secs(60)), None, secs(3)), secs(60));
        assert_eq!(run_limit(300, None, Some(secs(100)), secs(3)), secs(97));
        assert_eq!(run_limit(30, None, Some(secs(100)), secs(3)), secs(30));
        assert_eq!(run_limit(300, None, Some(secs(2)), secs(3)), Duration::from_millis(100));
        assert_eq!(run_limit(0, None, None, secs(3)), secs(1));
    }

    #[test]
    fn run_times_measure_processing_from_the_start_and_waiting_from_the_due_time() {
        let mut run = job(1, 3);
        assert_eq!(run_times(&run, at(10)), (0, 0), "never started");
        run.started_at = Some(at(4));
        assert_eq!(run_times(&run, at(10)), (6000, 4000));
        run.wait_ms = Some(250);
        assert_eq!(run_times(&run, at(10)), (6000, 250), "the record's own wait wins");
        assert_eq!(run_times(&run, at(3)), (0, 250), "a clock behind the start counts nothing");
    }

    #[test]
    fn sqs_delays_round_up_to_whole_seconds_within_limits() {
        let now = at(0);
        assert_eq!(delay_seconds(now + Duration::from_millis(1001), now), 2);
        assert_eq!(delay_seconds(now + Duration::from_secs(3), now), 3);
        assert_eq!(delay_seconds(now - Duration::from_secs(3), now), 0);
        assert_eq!(delay_seconds(now + Duration::from_secs(3600), now), 900);
        assert_eq!(visibility_seconds(Duration::from_secs(61)), 61);
        assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
    }

    #[test]
    fn failures_carry_their_dead_letter_reason() {
        let plain = with_reason(JobFailure { message: "x".into(), details: None }, DeadLetterReason::Fatal);
        assert_eq!(plain.details, Some(json!({"reason": "fatal_error"})));
        let object = JobFailure { message: "x".into(), details: Some(json!({"attempt": 2})) };
        let object = with_reason(object, DeadLetterReason::AttemptsExhausted);
        assert_eq!(object.details, Some(json!({"attempt": 2, "reason": "attempts_exhausted"})));
        let list = JobFailure { message: "x".into(), details: Some(json!([1])) };
        let list = with_reason(list, DeadLetterReason::Fatal);
        assert_eq!(list.details, Some(json!({"reason": "fatal_error", "details": [1]})));
    }

    #[test]
    fn dead_letter_reasons_are_stable_strings() {
        assert_eq!(DeadLetterReason::Poison.as_str(), "poison_message");
        assert_eq!(DeadLetterReason::CrashedRepeatedly.as_str(), "worker_crashed_repeatedly");
        assert_eq!(DeadLetterReason::AttemptsExhausted.as_str(), "attempts_exhausted");
        assert_eq!(DeadLetterReason::Fatal.as_str(), "fatal_error");
    }
}
