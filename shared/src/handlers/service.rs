//! What the API (and later the CLI and schedulers) do to jobs: the store and the queues together,
//! so that an enqueue either ends with a queued job and its message, or leaves nothing behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::{error, warn};
use utoipa::ToSchema;

use crate::config::Config;
use crate::domain::envelope::Envelope;
use crate::domain::model::{Job, NewJob};
use crate::domain::payload::{JobRefusal, JobTypes};
use crate::domain::priority::{Priority, PriorityTier};
use crate::domain::status::{JobEvent, JobStatus};
use crate::handlers::enqueue::{EnqueueError, Enqueuer, IfExisting, envelope};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::queue::{QueueDepth, QueueError, TierQueues};
use crate::store::{
    Counters, Created, DynamoJobStore, ExternalUpdate, ListQuery, Page, PauseFlags, PauseScope, StoreError,
    TypeStats, tally,
};

mod admit;
mod batch;
mod batch_report;
mod health;
mod told;

pub use batch_report::{BatchReport, BatchVerdict, EntryOutcome, EntryReport, verdict};
pub use health::{Health, HealthStatus};
pub use told::error_chain;
use told::told;

/// Pages a bulk operation reads at most in one call (it reports whether more remain).
const BULK_MAX: usize = 500;
/// How long a batch's note of its jobs speaks for it ([`crate::store::BatchCounters`]): far
/// longer than the counter takes to count them, far shorter than jobs are kept.
const NOTE_TRUSTED: chrono::Duration = chrono::Duration::minutes(15);
/// Jobs read for a batch summary before its counters exist (a page: its first second or so).
const BATCH_SUMMARY_MAX: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Not every job of a batch was enqueued: which exist, job by job.
    #[error("{0}")]
    BatchIncomplete(BatchReport),
    /// `dependency` names it by kind and name (`queue jobq-high`), as `/health` shows names:
    /// callers are told it; `reason` (its URL, and AWS's error chain) is for the log.
    #[error("{dependency} is unavailable: {reason}")]
    Unavailable { dependency: String, reason: String },
    #[error("batch {0} not found")]
    BatchNotFound(String),
    /// A job the deployment cannot run as specified (in a batch, the one at `index`): none written.
    #[error("{refusal}")]
    Refused { index: Option<usize>, refusal: JobRefusal },
}

impl From<EnqueueError> for ServiceError {
    fn from(err: EnqueueError) -> Self {
        match err {
            EnqueueError::Store(err) => ServiceError::Store(err),
            EnqueueError::Queue(err) => ServiceError::Queue(err),
        }
    }
}

/// Counts and progress of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchSummary {
    pub batch_id: String,
    pub total: usize,
    pub counts: BTreeMap<JobStatus, usize>,
    /// Mean progress, terminal jobs counting as 100.
    pub progress: u8,
    pub done: bool,
    #[serde(with = "crate::domain::model::rfc3339::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::domain::model::rfc3339::option")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// One job type's runs, counted since the deployment began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TypeSummary {
    pub completed: u64,
    pub partial: u64,
    pub failed: u64,
    pub retried: u64,
    /// Handler runs that ended, and their summed processing and wait times (for rates and
    /// averages over any window, as Prometheus computes them).
    pub runs: u64,
    pub processing_ms: u64,
    pub wait_ms: u64,
    pub success_rate: Option<f64>,
    pub avg_processing_ms: Option<f64>,
    pub avg_wait_ms: Option<f64>,
}

impl From<TypeStats> for TypeSummary {
    fn from(s: TypeStats) -> Self {
        TypeSummary {
            completed: s.completed,
            partial: s.partial,
            failed: s.failed,
            retried: s.retried,
            runs: s.runs,
            processing_ms: s.processing_ms,
            wait_ms: s.wait_ms,
            success_rate: s.success_rate(),
            avg_processing_ms: s.avg_processing_ms(),
            avg_wait_ms: s.avg_wait_ms(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierSummary {
    pub queue: QueueDepth,
    pub dlq_depth: u64,
}

/// Jobs by status, runs by type, and each tier's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub counts: BTreeMap<JobStatus, u64>,
    pub types: BTreeMap<String, TypeSummary>,
    pub tiers: BTreeMap<PriorityTier, TierSummary>,
    pub paused: PauseFlags,
}

/// What `POST /jobs/retry` queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = BulkRetried)]
pub struct RetryAllReport {
    pub retried: usize,
    /// More jobs match than one call retries: call again.
    pub more: bool,
}

#[derive(Debug, Clone)]
pub struct JobService {
    store: DynamoJobStore,
    queues: TierQueues,
    dlqs: TierQueues,
    clock: Arc<dyn Clock>,
    /// New job and batch ids.
    ids: Arc<dyn Ids>,
    config: Config,
    /// Every new job's type and payload are checked against these.
    job_types: JobTypes,
}

impl JobService {
    /// The service over `store` and the tier `queues` (with their `dlqs`, for stats and health),
    /// the time from `clock`, new ids from `ids`; `config` names the resources (health), and
    /// every new job's type and payload are checked against `job_types`. The bucket the health
    /// check asks after is the store's.
    pub fn new(
        store: DynamoJobStore,
        queues: TierQueues,
        dlqs: TierQueues,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        config: &Config,
        job_types: JobTypes,
    ) -> Self {
        JobService { store, queues, dlqs, clock, ids, config: config.clone(), job_types }
    }

    /// The same service, keeping nothing in the bucket (see [`JobStore::without_blobs`]).
    ///
    /// [`JobStore::without_blobs`]: crate::store::JobStore::without_blobs
    pub fn without_blobs(mut self) -> Self {
        self.store = self.store.without_blobs();
        self
    }

    /// The tier queues and their dead-letter queues, for the scheduler's sweeps.
    pub(crate) fn queues_and_dlqs(&self) -> (&TierQueues, &TierQueues) {
        (&self.queues, &self.dlqs)
    }

    /// The time, as this service's clock tells it.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    /// A fresh batch id, for a batch enqueued without one.
    pub fn new_batch_id(&self) -> String {
        self.ids.job_id()
    }

    /// A new record for `spec` at `now`, its id (when it has no idempotency key) from this
    /// service's ids.
    fn new_job(&self, spec: NewJob, now: chrono::DateTime<Utc>) -> Job {
        Job::new_with_id(spec, now, || self.ids.job_id())
    }

    pub fn store(&self) -> &DynamoJobStore {
        &self.store
    }

    /// Create and send one job (see [`Enqueuer::enqueue`]). `Ok((job, true))` when new; a
    /// repeated idempotency key returns the first job, sending it again if it never started (an
    /// earlier enqueue of the key may have failed between its record and its message; a
    /// duplicate message is dropped at claim). A send that fails removes the new record, so an
    /// error leaves nothing behind.
    pub async fn enqueue(&self, spec: NewJob) -> Result<(Job, bool), ServiceError> {
        self.admit(&spec, None)?;
        match self.enqueuer().enqueue(spec, IfExisting::Resend).await? {
            Created::New(job) => Ok((job, true)),
            Created::Existing(job) => Ok((self.store.resolve(job).await?, false)),
        }
    }

    /// Create and send a job only if its id is new (recurring jobs, S3 uploads): a repeat of the
    /// same key does nothing, not even a second message. `None` when it already existed.
    pub async fn enqueue_once(&self, spec: NewJob) -> Result<Option<Job>, ServiceError> {
        self.admit(&spec, None)?;
        match self.enqueuer().enqueue(spec, IfExisting::Leave).await? {
            Created::New(job) => Ok(Some(job)),
            Created::Existing(_) => Ok(None),
        }
    }

    /// How this service makes jobs: the same way a pipeline's next step is made.
    fn enqueuer(&self) -> Enqueuer<'_> {
        Enqueuer::new(&self.store, &self.queues, self.clock.as_ref(), self.ids.as_ref())
    }

    /// A job (its payload and result read back from the bucket, if kept there). Read
    /// consistently: a caller reads its job right after enqueueing, cancelling or retrying it, and
    /// a default read may not see that write yet (a 404 just after a 201). A consistent read is one
    /// request as well; it costs a whole read unit per 4 KB instead of a half.
    pub async fn get(&self, id: &str) -> Result<Option<Job>, ServiceError> {
        match self.store.get(id, true).await? {
            // Past its retention: gone, though DynamoDB deletes it only hours to days later.
            Some(job) if job.expired(self.clock.now()) => Ok(None),
            Some(job) => Ok(Some(self.store.resolve(job).await?)),
            None => Ok(None),
        }
    }

    /// A page of jobs, each as [`JobService::get`] returns it: one bucket read per part kept
    /// there, none for jobs stored inline. A page stops before the job that would take its JSON
    /// past [`PAGE_BYTES_MAX`] (the cursor then continues from there), so it always fits a
    /// Lambda response; a first job larger than that alone is returned by itself.
    pub async fn list(
        &self,
        query: &ListQuery,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, ServiceError> {
        let page = self.store.list(query, limit, cursor).await?;
        // Jobs past their retention are left out, as DynamoDB's guide advises for expired items.
        let live = page.jobs.into_iter().filter(|job| !job.expired(self.clock.now()));
        let mut resolved = futures::stream::iter(live).map(|job| self.store.resolve(job)).buffered(8);
        let (mut jobs, mut bytes, mut cut) = (Vec::new(), 0usize, false);
        while let Some(job) = resolved.next().await {
            let job = job?;
            bytes += serde_json::to_vec(&job).map_or(0, |body| body.len() + 1);
            if bytes > PAGE_BYTES_MAX && !jobs.is_empty() {
                cut = true;
                break;
            }
            jobs.push(job);
        }
        let next_cursor = match jobs.last() {
            Some(last) if cut => Some(cursor_after(last)),
            _ => page.next_cursor,
        };
        Ok(Page { jobs, next_cursor })
    }

    /// Cancel, `by` a caller (its owner name, kept on the job).
    pub async fn cancel(&self, id: &str, by: &str) -> Result<Job, ServiceError> {
        let job = self.store.cancel(id, by, self.clock.now()).await?;
        Ok(self.store.resolve(job).await?)
    }

    /// Another go, `by` a caller: fresh attempts, a new generation, and its message.
    pub async fn retry(&self, id: &str, priority: Option<Priority>, by: &str) -> Result<Job, ServiceError> {
        let job = self.store.retry(id, priority, by, self.clock.now()).await?;
        self.queues.send(&envelope(&job), 0).await?;
        Ok(self.store.resolve(job).await?)
    }

    /// Retry up to 500 jobs in `status` (of `job_type`); returns how many, and whether more remain.
    pub async fn retry_all(
        &self,
        status: JobStatus,
        job_type: Option<&str>,
        by: &str,
    ) -> Result<(usize, bool), ServiceError> {
        let query =
            ListQuery { status: Some(status), job_type: job_type.map(str::to_owned), ..ListQuery::default() };
        let page = self.store.list(&query, BULK_MAX, None).await?;
        let now = self.clock.now();
        let ids: Vec<String> = page.jobs.iter().map(|j| j.id.clone()).collect();
        let retried: Vec<Job> = futures::stream::iter(ids)
            .map(|id: String| async move { self.store.retry(&id, None, by, now).await })
            .buffer_unordered(16)
            .filter_map(|r| async move { r.map_err(|e| warn!(error = %e, "bulk retry skipped a job")).ok() })
            .collect()
            .await;
        let messages: Vec<(Envelope, i32)> = retried.iter().map(|j| (envelope(j), 0)).collect();
        let failures = self.queues.send_batch(&messages).await?;
        if !failures.is_empty() {
            // The records are queued; the scheduler re-sends queued jobs left without a message.
            error!(failed = failures.len(), "bulk retry: some messages were not sent");
        }
        Ok((retried.len(), page.next_cursor.is_some()))
    }

    /// An external executor's report, `by` a caller; a move back to `queued` sends the job's
    /// message.
    pub async fn apply_external(
        &self,
        id: &str,
        update: &ExternalUpdate,
        by: &str,
    ) -> Result<Job, ServiceError> {
        let current =
            self.store.get(id, true).await?.ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let job = self.store.apply_external(&current, update, by, self.clock.now()).await?;
        if update.event == Some(JobEvent::Retry) {
            self.queues.send(&envelope(&job), 0).await?;
        }
        Ok(self.store.resolve(job).await?)
    }

    /// A batch's summary from its counters: one read however many jobs it has. In the second or
    /// so before the counters first see a new batch, it is read from the jobs themselves; and
    /// while `by-created` does not list them all yet (an index lags the table), from the jobs
    /// its enqueues noted they made. The counter item is read consistently, so a batch is found
    /// right after its enqueue answered.
    pub async fn batch(&self, batch_id: &str) -> Result<BatchSummary, ServiceError> {
        let Some(counters) = self.store.batch_counters(batch_id).await? else {
            return Err(ServiceError::BatchNotFound(batch_id.to_owned()));
        };
        if counters.counted.total() > 0 {
            return Ok(batch_summary(batch_id, &counters.counted));
        }
        // The note speaks for the batch only until the counter counts it (seconds): not for a
        // batch whose jobs all ended and expired since.
        let noted_lately = counters.declared_at.is_some_and(|at| self.clock.now() - at < NOTE_TRUSTED);
        let declared: u64 = if noted_lately { counters.declared.values().sum() } else { 0 };
        let query = ListQuery { batch_id: Some(batch_id.to_owned()), ..ListQuery::default() };
        let page = self.store.list_noted(&query, Some(&counters), BATCH_SUMMARY_MAX, None).await?;
        let listed_all = page.next_cursor.is_some() || page.jobs.len() as u64 >= declared;
        match (page.jobs.is_empty(), listed_all) {
            (false, true) => Ok(summarise_batch(batch_id, &page.jobs)),
            _ if declared > 0 => {
                let statuses = counters.declared;
                Ok(batch_summary(batch_id, &Counters { statuses, ..Counters::default() }))
            }
            _ => Err(ServiceError::BatchNotFound(batch_id.to_owned())),
        }
    }

    /// Jobs kept by status (of one type, or all), per-type totals, queue depths and pauses: a
    /// fixed number of requests however many jobs are kept.
    pub async fn stats(&self, job_type: Option<&str>) -> Result<Stats, ServiceError> {
        let key = job_type.map_or_else(|| tally::ALL_COUNTER.to_owned(), tally::type_counter);
        let counts = self.store.counters(&key).await?.unwrap_or_default().statuses;
        let counts = JobStatus::ALL.into_iter().map(|s| (s, counts.get(&s).copied().unwrap_or(0))).collect();
        let types: Vec<String> = match job_type {
            Some(t) => vec![t.to_owned()],
            None => self.job_types.names().map(str::to_owned).collect(),
        };
        let types = self.store.stats_for(&types).await?.into_iter().map(|(t, s)| (t, s.into())).collect();
        let mut tiers = BTreeMap::new();
        for tier in PriorityTier::ALL {
            let (queue, dlq) = futures::try_join!(self.queues.depth(tier), self.dlqs.depth(tier))?;
            tiers.insert(tier, TierSummary { queue, dlq_depth: dlq.visible + dlq.in_flight + dlq.delayed });
        }
        Ok(Stats { counts, types, tiers, paused: self.store.pause_flags().await? })
    }

    pub async fn pause_flags(&self) -> Result<PauseFlags, ServiceError> {
        Ok(self.store.pause_flags().await?)
    }

    /// Pause or resume `scope`, `by` a caller (kept on the pause flags).
    pub async fn set_paused(
        &self,
        scope: &PauseScope,
        paused: bool,
        by: &str,
    ) -> Result<PauseFlags, ServiceError> {
        Ok(self.store.set_paused(scope, paused, by, self.clock.now()).await?)
    }

    /// Every dependency answers: the table, the six queues, the bucket.
    pub async fn health(&self) -> Result<Health, ServiceError> {
        let unavailable = |dependency: String, resource: &str, err: &(dyn std::error::Error + 'static)| {
            ServiceError::Unavailable { dependency, reason: format!("{resource}: {}", error_chain(err)) }
        };
        self.store
            .pause_flags()
            .await
            .map_err(|e| unavailable(format!("table {}", self.config.table), &self.config.table, &e))?;
        for tier in PriorityTier::ALL {
            let (queue, dlq) = (self.queues.url(tier), self.dlqs.url(tier));
            let name = crate::handlers::worker::queue_name;
            self.queues
                .depth(tier)
                .await
                .map_err(|e| unavailable(format!("queue {}", name(queue)), queue, &e))?;
            self.dlqs.depth(tier).await.map_err(|e| unavailable(format!("dlq {}", name(dlq)), dlq, &e))?;
        }
        if let (Some(bucket), Some(blobs)) = (&self.config.bucket, self.store.blobs()) {
            blobs.check().await.map_err(|e| unavailable(format!("bucket {bucket}"), bucket, &e))?;
        }
        let names = |urls: &crate::domain::priority::PerTier<String>| {
            urls.iter().map(|(t, u)| (t, crate::handlers::worker::queue_name(u).to_owned())).collect()
        };
        Ok(Health {
            status: HealthStatus::Ok,
            table: self.config.table.clone(),
            queues: names(&self.config.queues),
            dlqs: names(&self.config.dlqs),
            bucket: self.config.bucket.clone(),
            version: env!("CARGO_PKG_VERSION"),
        })
    }
}

/// The cursor that continues a listing after `job`.
fn cursor_after(job: &Job) -> String {
    crate::store::encode_cursor(&crate::store::keys::sort_key(
        &crate::domain::model::format_time(job.created_at),
        &job.id,
    ))
}

/// Room for a page of jobs in a Lambda response (6 MB), less the page's own fields.
pub const PAGE_BYTES_MAX: usize = 5 * 1024 * 1024;

/// Pure: the summary of a batch from its counters.
pub fn batch_summary(batch_id: &str, counters: &Counters) -> BatchSummary {
    let total = counters.total();
    let done = counters.statuses.iter().all(|(status, n)| status.is_terminal() || *n == 0);
    BatchSummary {
        batch_id: batch_id.to_owned(),
        total: usize::try_from(total).unwrap_or(usize::MAX),
        counts: counters
            .statuses
            .iter()
            .map(|(s, n)| (*s, usize::try_from(*n).unwrap_or(usize::MAX)))
            .collect(),
        progress: u8::try_from((counters.progress_sum / total.max(1)).min(100)).unwrap_or(100),
        done,
        started_at: counters.started_at,
        finished_at: if done { counters.finished_at } else { None },
    }
}

/// Pure: the summary of a batch's jobs.
pub fn summarise_batch(batch_id: &str, jobs: &[Job]) -> BatchSummary {
    let mut counts = BTreeMap::new();
    for job in jobs {
        *counts.entry(job.status).or_insert(0) += 1;
    }
    let progress_sum: u64 =
        jobs.iter().map(|j| if j.status.is_terminal() { 100 } else { u64::from(j.progress) }).sum();
    let done = jobs.iter().all(|j| j.status.is_terminal());
    BatchSummary {
        batch_id: batch_id.to_owned(),
        total: jobs.len(),
        counts,
        progress: (progress_sum / jobs.len().max(1) as u64) as u8,
        done,
        started_at: jobs.iter().filter_map(|j| j.started_at).min(),
        finished_at: if done { jobs.iter().filter_map(|j| j.completed_at).max() } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::parse_time;

    #[test]
    fn a_batch_summary_counts_and_averages() {
        let now = parse_time("2026-01-01T00:00:00Z").expect("time");
        let job = |status, progress: u8, started: Option<i64>, completed: Option<i64>| {
            let mut j = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now);
            j.status = status;
            j.progress = progress;
            j.started_at = started.map(|s| now + chrono::Duration::seconds(s));
            j.completed_at = completed.map(|s| now + chrono::Duration::seconds(s));
            j
        };
        let jobs = [
            job(JobStatus::Completed, 100, Some(1), Some(5)),
            job(JobStatus::Processing, 50, Some(2), None),
            job(JobStatus::Queued, 0, None, None),
            job(JobStatus::Failed, 10, Some(3), Some(4)),
        ];
        let summary = summarise_batch("b", &jobs);
        assert_eq!(summary.total, 4);
        assert_eq!(summary.counts[&JobStatus::Completed], 1);
        assert_eq!(summary.progress, 62, "(100 + 50 + 0 + 100) / 4");
        assert!(!summary.done);
        assert_eq!(summary.started_at, Some(now + chrono::Duration::seconds(1)));
        assert_eq!(summary.finished_at, None, "not finished while a job runs");
        let finished = summarise_batch("b", &[jobs[0].clone(), jobs[3].clone()]);
        assert!(finished.done);
        assert_eq!(finished.finished_at, Some(now + chrono::Duration::seconds(5)));
    }
}
