//! A job's run: create, read, claim, progress, lease renewal and finish.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::attrs::*;
use super::codec::{self, n, s, time};
use super::keys::{self, PK, Watch};
use super::write::{Write, aws, backoff, decode, is_ours, may_resend, owned_by, status_in};
use super::{Created, JobStore, RunOutcome, StoreError, classify_refusal};
use crate::domain::model::{Job, beyond_sqs_delay};
use crate::domain::progress::ProgressUpdate;
use crate::domain::status::{JobEvent, JobStatus};
use crate::ports::table::{Cmp, Cond, TableError};

impl JobStore {
    /// Put a new job; if its id exists (same idempotency key), return the stored one. One request.
    #[instrument(skip_all, fields(job_id = %job.id))]
    pub async fn create(&self, job: &Job) -> Result<Created, StoreError> {
        self.create_as(job, &self.write_token()).await
    }

    /// [`JobStore::create`], its item carrying the write token `token`.
    pub(super) async fn create_as(&self, job: &Job, token: &str) -> Result<Created, StoreError> {
        let mut stored = job.clone();
        self.spill_parts(&mut stored).await?;
        let mut item = codec::encode(&stored);
        item.insert(WRITE_TOKEN.to_owned(), s(token));
        let condition = Cond::not_exists(PK);
        let mut round = 0;
        loop {
            round += 1;
            match self.table.put(item.clone(), Some(&condition)).await {
                Ok(()) => return Ok(Created::New(job.clone())),
                Err(TableError::ConditionFailed { current, .. }) => {
                    let existing = current.ok_or_else(|| StoreError::NotFound { id: job.id.clone() })?;
                    if is_ours(&existing, token) {
                        // An earlier send of this put took effect; its answer was lost.
                        return Ok(Created::New(job.clone()));
                    }
                    let found = decode(&job.id, &existing)?;
                    if found.expired(job.created_at) {
                        return self.replace_expired(job, &stored.spilled, item, &existing, found).await;
                    }
                    // Another create's item stands, naming its own parts, not ours.
                    self.discard_all(&stored.spilled).await;
                    return Ok(Created::Existing(found));
                }
                Err(err) if may_resend(round, &err) => backoff(round).await,
                Err(err) => return Err(aws("PutItem", err)),
            }
        }
    }

    /// The job under `job`'s id is past its retention, though DynamoDB has not deleted it yet
    /// (it does so hours to days late): its idempotency key is free, so `job` takes its place,
    /// pinned to the very item found (by its write token). Its parts in the bucket go with it.
    async fn replace_expired(
        &self,
        job: &Job,
        ours: &crate::domain::model::Spilled,
        item: codec::Item,
        existing: &codec::Item,
        expired: Job,
    ) -> Result<Created, StoreError> {
        let pinned = match existing.get(WRITE_TOKEN) {
            Some(token) => Cond::eq(WRITE_TOKEN, token.clone()),
            None => Cond::not_exists(WRITE_TOKEN),
        };
        let condition = pinned.and(Cond::exists(keys::TTL_ATTRIBUTE));
        match self.table.put(item.clone(), Some(&condition)).await {
            Ok(()) => {
                tracing::info!(job_id = %job.id, "a job past its retention made way for a new one under its key");
                self.discard_all(&expired.spilled).await;
                Ok(Created::New(job.clone()))
            }
            Err(TableError::ConditionFailed { current: Some(current), .. })
                if is_ours(&current, token_of(&item)) =>
            {
                Ok(Created::New(job.clone()))
            }
            Err(TableError::ConditionFailed { current: Some(current), .. }) => {
                self.discard_all(ours).await;
                Ok(Created::Existing(decode(&job.id, &current)?))
            }
            Err(TableError::ConditionFailed { current: None, .. }) => {
                Err(StoreError::NotFound { id: job.id.clone() })
            }
            Err(err) => Err(aws("PutItem", err)),
        }
    }

    /// `consistent` costs twice the read; the worker wants it, a status page does not.
    pub async fn get(&self, id: &str, consistent: bool) -> Result<Option<Job>, StoreError> {
        let item = self.table.get(&keys::job_pk(id), consistent).await.map_err(|e| aws("GetItem", e))?;
        item.map(|item| decode(id, &item)).transpose()
    }

    /// Start a run: `queued`/`retrying` (or `processing` under an expired lease) -> `processing`,
    /// counting the attempt, naming the run by a fresh token and taking a lease until
    /// `lease_until`. Never succeeds twice at once, nor before the job's `run_at`.
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn claim(
        &self,
        id: &str,
        generation: u64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        self.claim_as(id, generation, &self.run_token(), now, lease_until).await
    }

    /// A fresh token to name a run by.
    pub fn run_token(&self) -> String {
        self.ids.token()
    }

    /// [`JobStore::claim`], naming the run `run`: a caller whose claim failed on AWS knows which
    /// run it may have started (its answer lost), to take it over rather than count an attempt.
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn claim_as(
        &self,
        id: &str,
        generation: u64,
        run: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        // A retry's backoff holds until its time, whichever delivery comes first.
        let due = Cond::not_exists(RUN_AT).or(Cond::cmp(RUN_AT, Cmp::Le, time(now)));
        // Never over a run, even one whose lease ended: that run may be alive, kept from renewing
        // by AWS, or its outcome on the way; it is taken back reversibly instead (`recover`).
        w.condition(
            Cond::eq(GENERATION, n(generation))
                .and(Cond::attrs(ATTEMPTS, Cmp::Lt, MAX_ATTEMPTS))
                .and(due)
                .and(status_in(&JobStatus::sources(JobEvent::Claim))),
        );
        w.set_status(id, JobStatus::Processing);
        w.increment(ATTEMPTS, 1);
        w.set(RUN, s(run));
        w.set_lease(lease_until);
        w.set(STARTED_AT, time(now));
        let item = self
            .write(id, w, "UpdateItem(claim)", |current| {
                classify_refusal(current, Some(JobEvent::Claim), Some(generation), None, now)
            })
            .await?;
        decode(id, &item)
    }

    /// Take over a run whose outcome was lost: the run `lost_run` ended, but recording its outcome
    /// failed on AWS (a throttle), so its delivery came back naming it. The job runs again under a
    /// new token and lease, on the same attempt: an AWS failure costs no attempt. Refused unless
    /// the job is still `processing` in that run.
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn take_over(
        &self,
        id: &str,
        generation: u64,
        lost_run: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let taken_back =
            Cond::eq(STATUS, s(JobStatus::Retrying.as_str())).and(Cond::eq(RECOVERED_RUN, s(lost_run)));
        w.condition(
            Cond::eq(STATUS, s(JobStatus::Processing.as_str()))
                .or(taken_back)
                .and(Cond::eq(GENERATION, n(generation)))
                .and(Cond::eq(RUN, s(lost_run))),
        );
        w.set_status(id, JobStatus::Processing);
        w.remove(RECOVERED_RUN);
        w.set(RUN, s(self.ids.token()));
        w.set_lease(lease_until);
        w.set(STARTED_AT, time(now));
        let item = self
            .write(id, w, "UpdateItem(take_over)", |current| {
                classify_refusal(current, Some(JobEvent::Claim), Some(generation), None, now)
            })
            .await?;
        decode(id, &item)
    }

    /// The run `lost_run`, on `attempt`, ended with its outcome lost to AWS; the job was taken
    /// back from it and claimed again meanwhile, counting attempt `attempt + 1`. That new run
    /// (running, or ended by now) stands for the lost one: the attempt is not counted, since an
    /// AWS failure must cost none. Refused unless the job is still in that generation, on that
    /// attempt, and last taken back from that run.
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn adopt_lost_run(
        &self,
        id: &str,
        generation: u64,
        lost_run: &str,
        attempt: u32,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        w.condition(
            Cond::eq(GENERATION, n(generation))
                .and(Cond::eq(RECOVERED_RUN, s(lost_run)))
                .and(Cond::eq(ATTEMPTS, n(attempt + 1))),
        );
        w.set(ATTEMPTS, n(attempt));
        w.remove(RECOVERED_RUN);
        let item = self.write(id, w, "UpdateItem(adopt)", super::write::changed).await?;
        decode(id, &item)
    }

    /// Record progress of the run `run` (the job as its claim returned it). Fails with
    /// `Conflict::NotOwner` once the job was cancelled, retried or taken over: that is how a
    /// running handler learns it must stop.
    pub async fn progress(&self, run: &Job, update: &ProgressUpdate) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.condition(owned_by(run));
        w.set_progress(update);
        w.returning_nothing();
        self.write_owned(run, w, "UpdateItem(progress)").await.map(drop)
    }

    /// Extend the lease of the run `run` (a heartbeat), moving its place in the lease-end index.
    pub async fn renew_lease(&self, run: &Job, lease_until: DateTime<Utc>) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.condition(owned_by(run));
        w.watch_lease(&run.id, lease_until);
        // Owned again if the scheduler had taken it back from this run (see `owned_by`).
        w.set_status(&run.id, JobStatus::Processing);
        keep_taken_back_from(&mut w, run);
        w.returning_nothing();
        self.write_owned(run, w, "UpdateItem(lease)").await.map(drop)
    }

    /// End the run of `job` (as returned by `claim`) with `outcome`; `pending` is the run's last
    /// progress report not yet written, folded into this same write.
    #[instrument(skip_all, fields(job_id = %job.id, attempt = job.attempts))]
    pub async fn finish(
        &self,
        job: &Job,
        outcome: RunOutcome,
        pending: Option<&ProgressUpdate>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let to = JobStatus::Processing.apply(outcome.event()).map_err(|e| StoreError::InvalidTransition {
            id: job.id.clone(),
            from: e.from,
            event: e.event,
        })?;
        // A result too large for the item goes to the bucket first; one that cannot be stored
        // fails here (`Unstorable`), before anything is written.
        let spilled = match &outcome {
            RunOutcome::Completed { result: Some(result) }
            | RunOutcome::Partial { result: Some(result), .. } => self.spill_result(job, result).await?,
            _ => None,
        };
        let mut w = Write::default();
        w.condition(owned_by(job));
        w.set_status(&job.id, to);
        w.remove(LEASE);
        keep_taken_back_from(&mut w, job);
        match &outcome {
            // Watched for when it is due: released then (no message could wait that long), or
            // sent again if its message was lost.
            RunOutcome::Retrying { run_at, .. } if beyond_sqs_delay(*run_at, now) => {
                w.watch(&job.id, Watch::Release, *run_at)
            }
            RunOutcome::Retrying { run_at, .. } => w.watch(&job.id, Watch::Sent, *run_at),
            _ => w.unwatch(),
        }
        finish_progress(&mut w, &outcome, pending);
        if let Some(started) = job.started_at {
            w.set(DURATION_MS, n((now - started).num_milliseconds().max(0)));
            w.set(WAIT_MS, n((started - job.due_at()).num_milliseconds().max(0)));
        }
        let sets_result = matches!(outcome, RunOutcome::Completed { .. } | RunOutcome::Partial { .. });
        record_outcome(&mut w, outcome, spilled.as_deref());
        if to.is_terminal() {
            self.set_terminal(&mut w, now);
        }
        let item = match self.write_owned(job, w, "UpdateItem(finish)").await {
            Ok(item) => item,
            Err(err) => {
                // Refused (not an AWS failure, after which the write may have taken effect): the
                // job is not this run's, and no item names the result's object.
                if let Some(key) = spilled.as_deref()
                    && !matches!(err, StoreError::Aws { .. })
                {
                    self.discard_blob(key).await;
                }
                return Err(err);
            }
        };
        // A result an earlier write of this run's job named (an external report's) is replaced.
        if let Some(old) = job.spilled.result.as_deref()
            && sets_result
            && spilled.as_deref() != Some(old)
        {
            self.discard_blob(old).await;
        }
        decode(&job.id, &item)
    }

    /// A write by the run `run`, refused once the job is no longer that run's.
    async fn write_owned(&self, run: &Job, w: Write, op: &'static str) -> Result<codec::Item, StoreError> {
        self.write(&run.id, w, op, |current| classify_refusal(current, None, None, Some(run), Utc::now()))
            .await
    }

    /// Terminal: when it ended, and when DynamoDB's TTL may delete it.
    pub(super) fn set_terminal(&self, w: &mut Write, now: DateTime<Utc>) {
        w.set(COMPLETED_AT, time(now));
        w.set(keys::TTL_ATTRIBUTE, n((now + self.retention).timestamp()));
    }
}

/// The write token an item carries.
fn token_of(item: &codec::Item) -> &str {
    item.get(WRITE_TOKEN).and_then(|t| t.as_str()).unwrap_or_default()
}

/// A success is 100% whatever was reported last; step and message still carry over.
fn finish_progress(w: &mut Write, outcome: &RunOutcome, pending: Option<&ProgressUpdate>) {
    let completed = matches!(outcome, RunOutcome::Completed { .. });
    match pending {
        Some(update) if completed => w.set_progress(&ProgressUpdate { percent: 100, ..update.clone() }),
        Some(update) => w.set_progress(update),
        None if completed => w.set(PROGRESS, n(100)),
        None => {}
    }
}

fn record_outcome(w: &mut Write, outcome: RunOutcome, spilled: Option<&str>) {
    match outcome {
        RunOutcome::Completed { result } => {
            w.set_result(result.as_ref(), spilled);
            w.remove(ERROR);
        }
        RunOutcome::Partial { result, error } => {
            w.set_result(result.as_ref(), spilled);
            w.set_error(&error);
        }
        RunOutcome::Retrying { error, run_at } => {
            w.set_error(&error);
            w.set(RUN_AT, time(run_at));
        }
        RunOutcome::Failed { error } => w.set_error(&error),
    }
}

/// `recovered_run` back to what the run's claim found: a take-back of this very run undone (it
/// renews or finishes after all), while the run taken back before this attempt stays named for a
/// delivery that resumes it (`adopt_lost_run`).
fn keep_taken_back_from(w: &mut Write, run: &Job) {
    match &run.taken_back_from {
        Some(before) => w.set(RECOVERED_RUN, s(before)),
        None => w.remove(RECOVERED_RUN),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;

    use super::*;
    use crate::adapters::memory::MemoryTable;
    use crate::domain::model::NewJob;

    fn store() -> (JobStore, MemoryTable) {
        let table = MemoryTable::default();
        (JobStore::over(Arc::new(table.clone()), Duration::days(7)), table)
    }

    #[tokio::test(start_paused = true)]
    async fn a_claim_whose_answer_was_lost_is_still_the_claimers() {
        let (store, table) = store();
        let now = Utc::now();
        let job = store.create(&Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now)).await;
        let job = job.expect("create").into_job();
        table.lose_next_responses(1);
        let claimed = store.claim(&job.id, 0, now, now + Duration::seconds(30)).await.expect("ours");
        assert_eq!((claimed.status, claimed.attempts), (JobStatus::Processing, 1));
        assert_eq!(table.requests().get("UpdateItem"), Some(&2), "sent again with the same token");
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_longer_than_the_resends_is_a_transient_error() {
        let (store, table) = store();
        let now = Utc::now();
        let job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now);
        table.set_throttled(true);
        let err = store.create(&job).await.expect_err("throttled");
        assert!(err.is_transient(), "{err}");
        table.set_throttled(false);
        assert!(matches!(store.create(&job).await, Ok(Created::New(_))));
    }
}
