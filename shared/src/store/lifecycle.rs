//! Status changes from outside a run: cancel, fail, retry, release, recovery, re-send marks,
//! external executors' reports, and the removal of a job that never started.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::attrs::*;
use super::codec::{n, s, time};
use super::keys::{self, Watch};
use super::write::{Write, changed, decode, millis, status_in, target};
use super::{Conflict, ExternalUpdate, JobStore, StoreError, classify_refusal};
use crate::domain::model::{Job, JobFailure};
use crate::domain::priority::Priority;
use crate::domain::status::{JobEvent, JobStatus};
use crate::ports::table::{Cmp, Cond};

/// What a retry clears: the last life's outcome, timings and run state.
const CLEARED_BY_RETRY: [&str; 13] = [
    ERROR,
    RESULT,
    RESULT_REF,
    COMPLETED_AT,
    STARTED_AT,
    DURATION_MS,
    WAIT_MS,
    keys::TTL_ATTRIBUTE,
    RUN_AT,
    CURRENT_STEP,
    MESSAGE,
    LEASE,
    RUN,
];

impl JobStore {
    /// Cancel a job that has not ended, `by` a caller (its owner name, kept on the record). A
    /// running handler sees it at its next progress write.
    #[instrument(skip_all, fields(job_id = %id, by))]
    pub async fn cancel(&self, id: &str, by: &str, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = self.event_write(id, JobEvent::Cancel);
        mark(&mut w, (CANCELLED_BY, CANCELLED_MS), by, now);
        w.clear_lease();
        self.set_terminal(&mut w, now);
        self.transition(id, JobEvent::Cancel, w, now).await
    }

    /// Fail a job that has not ended, whatever it was doing (dead letters, poison, crashes).
    #[instrument(skip_all, fields(job_id = %id))]
    pub async fn fail(&self, id: &str, error: &JobFailure, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let w = self.fail_write(id, error, now);
        self.transition(id, JobEvent::Fail, w, now).await
    }

    /// Fail a job that has not ended, only while it is still in `generation`, no run of it is
    /// alive and it is not parked: a dead letter from before a retry must not fail the job's new
    /// life (refused as `Conflict::StaleGeneration`), nor a letter that a copy of the message
    /// became while a run held the job (`Conflict::LeaseHeld`: that run records the outcome), nor
    /// one whose deliveries were dropped while the job waited parked (`Conflict::Parked`: it is
    /// sent a message on resume), nor one of a job still `queued`, that never ran
    /// (`Conflict::NeverRan`: SQS counts a receive for every invocation Lambda throttled, and a
    /// missed delete brings a message back, so a message can reach maxReceiveCount unjudged; the
    /// job stays queued and the lost-message walk sends it again).
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn fail_generation(
        &self,
        id: &str,
        generation: u64,
        error: &JobFailure,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = self.fail_write(id, error, now);
        let mut not_running = JobStatus::sources(JobEvent::Fail);
        not_running.retain(|st| !matches!(st, JobStatus::Processing | JobStatus::Queued));
        let lease_ended = Cond::not_exists(LEASE).or(Cond::cmp(LEASE, Cmp::Lt, millis(now)));
        let run_died = Cond::eq(STATUS, s(JobStatus::Processing.as_str())).and(lease_ended);
        let no_live_run = status_in(&not_running).or(run_died);
        let watched = [Watch::Release, Watch::Lease, Watch::Sent].map(|watch| s(keys::due_pk(watch, id)));
        let unparked = Cond::not_exists(keys::BY_DUE.pk).or(Cond::is_in(keys::BY_DUE.pk, watched));
        w.condition(Cond::eq(GENERATION, n(generation)).and(no_live_run).and(unparked));
        let refusal = |current: Job| {
            let reason = match current.lease_until {
                _ if current.generation != generation || current.status.is_terminal() => None,
                Some(until) if current.status == JobStatus::Processing => Some(Conflict::LeaseHeld { until }),
                _ if current.parked => Some(Conflict::Parked),
                _ if current.status == JobStatus::Queued => Some(Conflict::NeverRan),
                _ => None,
            };
            match reason {
                Some(reason) => {
                    StoreError::Conflict { id: id.to_owned(), reason, current: Box::new(current) }
                }
                None => classify_refusal(current, Some(JobEvent::Fail), Some(generation), None, now),
            }
        };
        let item = self.write(id, w, "UpdateItem(fail)", refusal).await?;
        decode(id, &item)
    }

    /// Fail a job whose runs died until its attempts were spent, only as `read` found it: same
    /// generation, status and run, its lease ended before `lease_ended_before` (or none). Failing
    /// is irreversible, so like the take-back it is pinned to what it decided on: a run alive
    /// after an outage (it renewed its lease), a resume or a retry since the read refuse it, as
    /// `Conflict::NotOwner`; a job that ended meanwhile as `InvalidTransition`.
    #[instrument(skip_all, fields(job_id = %read.id, generation = read.generation))]
    pub async fn fail_dead_run(
        &self,
        read: &Job,
        lease_ended_before: DateTime<Utc>,
        error: &JobFailure,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let id = read.id.as_str();
        let mut w = self.fail_write(id, error, now);
        let run = match &read.run_id {
            Some(run) => Cond::eq(RUN, s(run)),
            None => Cond::not_exists(RUN),
        };
        let lease_ended = Cond::not_exists(LEASE).or(Cond::cmp(LEASE, Cmp::Lt, millis(lease_ended_before)));
        w.condition(
            Cond::eq(GENERATION, n(read.generation))
                .and(Cond::eq(STATUS, s(read.status.as_str())))
                .and(run)
                .and(lease_ended),
        );
        let refusal = |current: Job| match current.status.is_terminal() {
            true => classify_refusal(current, Some(JobEvent::Fail), None, None, now),
            false => StoreError::Conflict {
                id: id.to_owned(),
                reason: Conflict::NotOwner { attempt: read.attempts },
                current: Box::new(current),
            },
        };
        let item = self.write(id, w, "UpdateItem(fail dead run)", refusal).await?;
        decode(id, &item)
    }

    fn fail_write(&self, id: &str, error: &JobFailure, now: DateTime<Utc>) -> Write {
        let mut w = self.event_write(id, JobEvent::Fail);
        w.set_error(error);
        w.clear_lease();
        self.set_terminal(&mut w, now);
        w
    }

    /// Another go for a failed, partial or cancelled job: fresh attempts and a new generation, so
    /// messages of the earlier life are dropped. The caller sends the new envelope. A result the
    /// last life kept in the bucket is named by no item afterwards, so it is deleted: the write is
    /// pinned to the result it removes (one request when there is none, two when there is).
    #[instrument(skip_all, fields(job_id = %id, by))]
    pub async fn retry(
        &self,
        id: &str,
        priority: Option<Priority>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let stamp = (by, now);
        match self.retry_removing(id, priority, stamp, None).await {
            Err(StoreError::Conflict { reason: Conflict::Changed, current, .. })
                if current.spilled.result.is_some() =>
            {
                let old = current.spilled.result;
                let job = self.retry_removing(id, priority, stamp, old.as_deref()).await?;
                if let Some(key) = &old {
                    self.discard_blob(key).await;
                }
                Ok(job)
            }
            other => other,
        }
    }

    /// [`JobStore::retry`], on condition that the job's result in the bucket is `result_ref`.
    async fn retry_removing(
        &self,
        id: &str,
        priority: Option<Priority>,
        (by, now): (&str, DateTime<Utc>),
        result_ref: Option<&str>,
    ) -> Result<Job, StoreError> {
        let mut w = self.event_write(id, JobEvent::Retry);
        mark(&mut w, (RETRIED_BY, RETRIED_MS), by, now);
        w.condition(match result_ref {
            Some(key) => Cond::eq(RESULT_REF, s(key)),
            None => Cond::not_exists(RESULT_REF),
        });
        w.set(ATTEMPTS, n(0));
        w.set(PROGRESS, n(0));
        w.increment(GENERATION, 1);
        if let Some(priority) = priority {
            w.set(PRIORITY, n(priority.value()));
            w.set(TIER, s(priority.tier().as_str()));
        }
        CLEARED_BY_RETRY.iter().for_each(|attr| w.remove(attr));
        // Its message is the caller's to send; were it lost, the sweep of this watch sends it.
        w.watch(id, Watch::Sent, now);
        let refusal = |current: Job| {
            let retryable = JobStatus::sources(JobEvent::Retry).contains(&current.status);
            match retryable && current.spilled.result.as_deref() != result_ref {
                true => changed(current),
                false => classify_refusal(current, Some(JobEvent::Retry), None, None, now),
            }
        };
        let item = self.write(id, w, "UpdateItem", refusal).await?;
        decode(id, &item)
    }

    /// `scheduled` -> `queued` once due (within SQS's delay reach); the caller sends the message.
    pub async fn release(&self, id: &str, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = self.event_write(id, JobEvent::Release);
        // Watched as sent: were its message lost, the sweep of that watch sends it again.
        w.watch(id, Watch::Sent, now);
        self.transition(id, JobEvent::Release, w, now).await
    }

    /// A `processing` job whose lease ended before `expired_before` and that no delivery took
    /// over: back to `retrying`, due at `run_at` (a grace for a run alive after all); the caller
    /// sends its message again.
    pub async fn recover(
        &self,
        job: &Job,
        expired_before: DateTime<Utc>,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let id = job.id.as_str();
        let mut w = self.event_write(id, JobEvent::Recover);
        w.condition(Cond::cmp(LEASE, Cmp::Lt, millis(expired_before)));
        // Taken back from this run: if it is alive after all, its next write owns the job again.
        if let Some(run) = &job.run_id {
            w.condition(Cond::eq(RUN, s(run)));
            w.set(RECOVERED_RUN, s(run));
        }
        w.set(RUN_AT, time(run_at));
        w.remove(LEASE);
        w.watch(id, Watch::Sent, run_at);
        self.transition(id, JobEvent::Recover, w, now).await
    }

    /// Note that a `queued` job found unclaimed a period after its creation is being sent again,
    /// unless that was done after `not_since`, and watch it as sent from `now`: while it waits,
    /// the sweep of that watch sends it again once per period. Refused for a parked job.
    pub async fn mark_resent(
        &self,
        id: &str,
        not_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let not_recently = Cond::not_exists(RESENT).or(Cond::cmp(RESENT, Cmp::Lt, millis(not_since)));
        let unparked = Cond::not_exists(keys::BY_DUE.pk);
        w.condition(Cond::eq(STATUS, s(JobStatus::Queued.as_str())).and(not_recently).and(unparked));
        w.set(RESENT, millis(now));
        w.watch(id, Watch::Sent, now);
        let item = self.write(id, w, "UpdateItem(resent)", changed).await?;
        decode(id, &item)
    }

    /// An external executor's report (e.g. a GitHub Actions workflow doing the work): optimistic,
    /// conditional on the status and generation read, so a concurrent change is refused.
    pub async fn apply_external(
        &self,
        current: &Job,
        update: &ExternalUpdate,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        w.condition(
            Cond::eq(STATUS, s(current.status.as_str())).and(Cond::eq(GENERATION, n(current.generation))),
        );
        match update.event {
            Some(event) => self.external_event(&mut w, current, event, update, now)?,
            None if current.status.is_terminal() => {
                return Err(StoreError::InvalidTransition {
                    id: current.id.clone(),
                    from: current.status,
                    event: JobEvent::Complete,
                });
            }
            None => {}
        }
        let spilled = match &update.result {
            Some(result) => self.spill_result(current, result).await?,
            None => None,
        };
        external_fields(&mut w, update, spilled.as_deref());
        if w.is_empty() {
            return Ok(current.clone());
        }
        mark(&mut w, (PATCHED_BY, PATCHED_MS), by, now);
        let item = self.write(&current.id, w, "UpdateItem(external)", changed).await?;
        // The result it replaced, if the bucket held it, is named by no item now.
        if let Some(old) = current.spilled.result.as_deref()
            && (update.result.is_some() || update.event == Some(JobEvent::Retry))
            && spilled.as_deref() != Some(old)
        {
            self.discard_blob(old).await;
        }
        decode(&current.id, &item)
    }

    fn external_event(
        &self,
        w: &mut Write,
        current: &Job,
        event: JobEvent,
        update: &ExternalUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let to = current.status.apply(event).map_err(|e| StoreError::InvalidTransition {
            id: current.id.clone(),
            from: e.from,
            event: e.event,
        })?;
        w.set_status(&current.id, to);
        match event {
            JobEvent::Claim => {
                w.set(ATTEMPTS, n(current.attempts + 1));
                w.set(STARTED_AT, time(now));
                w.set(WAIT_MS, n((now - current.due_at()).num_milliseconds().max(0)));
            }
            JobEvent::Retry => {
                w.set(ATTEMPTS, n(0));
                w.set(GENERATION, n(current.generation + 1));
                for attr in
                    [RESULT, RESULT_REF, COMPLETED_AT, STARTED_AT, DURATION_MS, WAIT_MS, keys::TTL_ATTRIBUTE]
                {
                    w.remove(attr);
                }
                if update.error.is_none() {
                    w.remove(ERROR);
                }
            }
            _ => {}
        }
        if to.is_terminal() {
            self.set_terminal(w, now);
            w.clear_lease();
            if let Some(started) = current.started_at {
                w.set(DURATION_MS, n((now - started).num_milliseconds().max(0)));
            }
            if to == JobStatus::Completed && update.progress.is_none() {
                w.set(PROGRESS, n(100));
            }
        }
        Ok(())
    }

    /// A write allowed from the statuses the transition function lets `event` leave.
    fn event_write(&self, id: &str, event: JobEvent) -> Write {
        let mut w = Write::default();
        w.condition(status_in(&JobStatus::sources(event)));
        w.set_status(id, target(event));
        w
    }

    /// A status change whose refusal is explained by the current status.
    async fn transition(
        &self,
        id: &str,
        event: JobEvent,
        w: Write,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let item = self
            .write(id, w, "UpdateItem", |current| classify_refusal(current, Some(event), None, None, now))
            .await?;
        decode(id, &item)
    }
}

/// The fields an external report may set, whatever its status change.
fn external_fields(w: &mut Write, update: &ExternalUpdate, spilled: Option<&str>) {
    if let Some(progress) = update.progress {
        w.set(PROGRESS, n(progress.min(100)));
    }
    if let Some(step) = &update.current_step {
        w.set(CURRENT_STEP, s(super::bounds::text(step, super::bounds::STEP_MAX)));
    }
    if let Some(message) = &update.message {
        w.set(MESSAGE, s(super::bounds::text(message, super::bounds::MESSAGE_MAX)));
    }
    if let Some(result) = &update.result {
        w.set_result(Some(result), spilled);
    }
    if let Some(error) = &update.error {
        w.set_error(error);
    }
    if let Some(run_id) = &update.github_workflow_run_id {
        w.set(GITHUB_RUN_ID, s(run_id));
    }
}

/// Keep who made a change, and when, in the same write (it costs that write nothing more than
/// a few bytes).
fn mark(w: &mut Write, (by_attr, at_attr): (&str, &str), by: &str, now: DateTime<Utc>) {
    w.set(by_attr, s(by));
    w.set(at_attr, n(now.timestamp_millis()));
}
