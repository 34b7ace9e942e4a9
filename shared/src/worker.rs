//! The worker engine: one SQS batch in, one partial batch response out.
//!
//! Per record: decode the envelope (poison goes to the dead-letter path), honour pause flags
//! (deferred as a fresh delayed message, so no attempt is spent and no receive counts toward the
//! DLQ), claim the job (duplicates and stale deliveries are dropped without running), run the
//! handler under a timeout with a ticker for coalesced progress and heartbeats, then finish:
//! completed / partial / failed, or retrying with a backoff as a fresh delayed message.
//! Only records that must come back are listed in the response.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::{Config, ConfigError};
use crate::context::JobContext;
use crate::envelope::Envelope;
use crate::metrics::{MetricSet, Unit};
use crate::model::{Job, JobFailure};
use crate::priority::{PerTier, PriorityTier};
use crate::queue::{QueueError, SqsJobQueue};
use crate::resources::QUEUE_VISIBILITY_TIMEOUT_SECONDS;
use crate::store::{
    BatchStats, Conflict, DynamoJobStore, Ended, PauseFlags, RunOutcome, StatsWriter, StoreError,
};
use crate::task::{ErrorKind, JobError, Registry, RetryPolicy, TaskOutput};

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
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::AttemptsExhausted => "attempts_exhausted",
            DeadLetterReason::Fatal => "fatal_error",
            DeadLetterReason::Poison => "poison_message",
            DeadLetterReason::CrashedRepeatedly => "worker_crashed_repeatedly",
            DeadLetterReason::MissingRecord => "missing_job_record",
        }
    }
}

/// Tunables, from `JOBQ_WORKER_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Records of one batch run at once (`JOBQ_WORKER_CONCURRENCY`, default 10).
    pub concurrency: usize,
    /// At most one progress write per job per interval (`JOBQ_PROGRESS_INTERVAL_MS`, default 1000).
    pub progress_interval: Duration,
    /// The tier queues' visibility timeout (`JOBQ_VISIBILITY_TIMEOUT_SECONDS`): a run's lease is as
    /// long, and heartbeats renew both at half of it.
    pub visibility_timeout: Duration,
    /// Default backoff (`JOBQ_RETRY_BASE_MS`, default 2000; `JOBQ_RETRY_CAP_SECONDS`, default 900).
    pub retry: RetryPolicy,
    /// How long cached pause flags are trusted (`JOBQ_PAUSE_CACHE_MS`, default 5000).
    pub pause_cache: Duration,
    /// Delay of a paused delivery before it is looked at again (`JOBQ_PAUSE_RECHECK_SECONDS`, default 30).
    pub pause_recheck: Duration,
    /// Kept free before the Lambda deadline to record the outcome (`JOBQ_SAFETY_MARGIN_MS`, default 3000).
    pub safety_margin: Duration,
    /// When AWS fails us mid-record, the message comes back after this long (default 10 s).
    pub transient_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 10,
            progress_interval: Duration::from_secs(1),
            visibility_timeout: Duration::from_secs(u64::from(QUEUE_VISIBILITY_TIMEOUT_SECONDS)),
            retry: RetryPolicy::default(),
            pause_cache: Duration::from_secs(5),
            pause_recheck: Duration::from_secs(30),
            safety_margin: Duration::from_secs(3),
            transient_delay: Duration::from_secs(10),
        }
    }
}

impl WorkerSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = WorkerSettings::default();
        let number = |name: &str,
                      default: u64,
                      range: std::ops::RangeInclusive<u64>|
         -> Result<u64, ConfigError> {
            match lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(value) => match value.parse::<u64>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(ConfigError::Invalid {
                        var: name.to_owned(),
                        value,
                        reason: format!("expected a whole number from {} to {}", range.start(), range.end()),
                    }),
                },
            }
        };
        Ok(WorkerSettings {
            concurrency: number("JOBQ_WORKER_CONCURRENCY", d.concurrency as u64, 1..=100)? as usize,
            progress_interval: Duration::from_millis(number(
                "JOBQ_PROGRESS_INTERVAL_MS",
                1000,
                10..=600_000,
            )?),
            visibility_timeout: Duration::from_secs(number(
                "JOBQ_VISIBILITY_TIMEOUT_SECONDS",
                d.visibility_timeout.as_secs(),
                1..=43_200,
            )?),
            retry: RetryPolicy {
                base: Duration::from_millis(number("JOBQ_RETRY_BASE_MS", 2000, 1..=3_600_000)?),
                factor: d.retry.factor,
                cap: Duration::from_secs(number("JOBQ_RETRY_CAP_SECONDS", 900, 1..=900)?),
            },
            pause_cache: Duration::from_millis(number("JOBQ_PAUSE_CACHE_MS", 5000, 0..=600_000)?),
            pause_recheck: Duration::from_secs(number("JOBQ_PAUSE_RECHECK_SECONDS", 30, 1..=900)?),
            safety_margin: Duration::from_millis(number("JOBQ_SAFETY_MARGIN_MS", 3000, 0..=60_000)?),
            transient_delay: d.transient_delay,
        })
    }
}

/// What happens to one record's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Done with it: Lambda (or the local poller) deletes it.
    Ack,
    /// It must come back (its visibility was set for when).
    Retry,
}

/// One run's contribution to the batch statistics: type, tier, how it ended, run and wait ms.
type Counted = Option<(String, PriorityTier, Ended, u64, u64)>;

#[derive(Debug)]
pub struct Worker {
    store: DynamoJobStore,
    queues: SqsJobQueue,
    dlqs: SqsJobQueue,
    queue_names: PerTier<String>,
    registry: Arc<Registry>,
    settings: WorkerSettings,
    pause: Mutex<Option<(Instant, PauseFlags)>>,
    stats: StatsWriter,
}

impl Worker {
    pub fn new(
        clients: &crate::aws::Clients,
        config: &Config,
        registry: Registry,
        settings: WorkerSettings,
    ) -> Self {
        Worker {
            store: DynamoJobStore::new(clients.dynamodb.clone(), &config.table, config.retention),
            queues: SqsJobQueue::new(clients.sqs.clone(), config.queues.clone()),
            dlqs: SqsJobQueue::new(clients.sqs.clone(), config.dlqs.clone()),
            queue_names: PerTier::from_fn(|t| queue_name(config.queues.get(t)).to_owned()),
            registry: Arc::new(registry),
            settings,
            pause: Mutex::new(None),
            stats: StatsWriter::new(),
        }
    }

    pub fn store(&self) -> &DynamoJobStore {
        &self.store
    }

    /// Handle one event source batch. `deadline` is the Lambda invocation's (none locally).
    pub async fn handle(&self, event: SqsEvent, deadline: Option<DateTime<Utc>>) -> SqsBatchResponse {
        // The same message twice in one batch is run once; both copies share its fate.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<SqsMessage> = event
            .records
            .into_iter()
            .filter(|record| record.message_id.as_ref().is_none_or(|id| seen.insert(id.clone())))
            .collect();
        // Read once per batch (through the cache), not once per record.
        let pause = self.pause_flags().await;
        let pause = &pause;
        let results: Vec<(String, Disposition, Counted)> = futures::stream::iter(unique)
            .map(|record: SqsMessage| async move {
                let (disposition, counted) = self.process(&record, pause, deadline).await;
                (record.message_id.unwrap_or_default(), disposition, counted)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;

        let mut stats = BatchStats::default();
        let mut metrics: BTreeMap<(String, PriorityTier), MetricSet> = BTreeMap::new();
        let mut failed = Vec::new();
        for (message_id, disposition, counted) in results {
            if let Some((job_type, tier, ended, processing_ms, wait_ms)) = counted {
                stats.record(&job_type, ended, processing_ms, wait_ms);
                let set = metrics.entry((job_type.clone(), tier)).or_insert_with(|| {
                    MetricSet::new([("JobType", job_type.as_str()), ("Tier", tier.as_str())])
                });
                record_metrics(set, ended, processing_ms, wait_ms);
            }
            if disposition == Disposition::Retry {
                failed.push(message_id);
            }
        }
        if !stats.is_empty()
            && let Err(err) = self.stats.add(&self.store, &stats).await
        {
            // Kept, and added with the next batch's (once: see StatsWriter).
            warn!(error = %err, "could not record batch statistics yet");
        }
        metrics.values().for_each(MetricSet::emit);
        batch_response(failed)
    }

    async fn process(
        &self,
        record: &SqsMessage,
        pause: &PauseFlags,
        deadline: Option<DateTime<Utc>>,
    ) -> (Disposition, Counted) {
        let body = record.body.as_deref().unwrap_or_default();
        let arn_tier = record.event_source_arn.as_deref().and_then(|arn| self.tier_of_arn(arn));
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(err) => {
                let tier = arn_tier.unwrap_or(PriorityTier::Normal);
                error!(queue = %tier, message_id = record.message_id.as_deref().unwrap_or(""), error = %err, "poison message");
                let reason = format!("{}: {err}", DeadLetterReason::Poison.as_str());
                return (self.dead_letter(tier, body, &reason).await, None);
            }
        };
        let tier = arn_tier.unwrap_or(envelope.tier);
        // Every line of a job's life carries these (and, in Lambda, the runtime's `requestId`).
        let span = info_span!(
            "job",
            job_id = %envelope.id,
            job_type = %envelope.job_type,
            tier = %tier,
            queue = %self.queue_names.get(tier),
            attempt = tracing::field::Empty
        );
        if pause.is_paused(envelope.tier, &envelope.job_type) {
            let receipt = record.receipt_handle.as_deref().unwrap_or_default();
            return (self.defer_paused(&envelope, receipt, tier).instrument(span).await, None);
        }
        self.process_envelope(record, envelope, tier, deadline).instrument(span).await
    }

    async fn process_envelope(
        &self,
        record: &SqsMessage,
        envelope: Envelope,
        tier: PriorityTier,
        deadline: Option<DateTime<Utc>>,
    ) -> (Disposition, Counted) {
        let receipt = record.receipt_handle.as_deref().unwrap_or_default();
        let now = Utc::now();
        let lease_until = now + self.settings.visibility_timeout;
        match self.store.claim(&envelope.id, envelope.generation, now, lease_until).await {
            Ok(job) => self.run(job, &envelope, receipt, tier, deadline).await,
            Err(StoreError::NotFound { .. }) => {
                warn!("envelope points at no job record");
                (
                    self.dead_letter(tier, &envelope.encode(), DeadLetterReason::MissingRecord.as_str())
                        .await,
                    None,
                )
            }
            Err(StoreError::Corrupt { source, .. }) => {
                error!(error = %source, "job record does not decode");
                let reason = format!("{}: {source}", DeadLetterReason::Poison.as_str());
                (self.dead_letter(tier, &envelope.encode(), &reason).await, None)
            }
            Err(StoreError::InvalidTransition { from, .. }) => {
                info!(status = %from, "delivery for a job that is not waiting to run: dropped");
                if from == crate::status::JobStatus::Completed {
                    // A redelivered completed step whose next step may not have been enqueued.
                    if let Ok(Some(job)) = self.store.get(&envelope.id, true).await {
                        return (self.enqueue_next(&job).await, None);
                    }
                }
                (Disposition::Ack, None)
            }
            Err(StoreError::Conflict {
                reason: Conflict::StaleGeneration { delivered, current }, ..
            }) => {
                info!(delivered, current, "delivery from before a retry: dropped");
                (Disposition::Ack, None)
            }
            Err(StoreError::Conflict { reason: Conflict::LeaseHeld { until }, .. }) => {
                // Another run is alive. Come back when its lease ends: if it finished, this copy is
                // dropped then; if it died, this copy takes over.
                let wait = (until - now).to_std().unwrap_or_default() + Duration::from_secs(1);
                info!(lease_seconds = wait.as_secs(), "job is running elsewhere: deferred to its lease end");
                self.come_back_after(tier, receipt, wait).await;
                (Disposition::Retry, None)
            }
            Err(StoreError::Conflict { reason: Conflict::AttemptsExhausted, current, .. }) => {
                let error = crashed_repeatedly(current.attempts);
                match self.store.fail(&envelope.id, &error, Utc::now()).await {
                    Ok(_) | Err(StoreError::InvalidTransition { .. }) => {
                        let counted = Some((envelope.job_type.clone(), tier, Ended::Failed, 0, 0));
                        let reason = DeadLetterReason::CrashedRepeatedly.as_str();
                        (self.dead_letter(tier, &envelope.encode(), reason).await, counted)
                    }
                    Err(err) => self.transient(tier, receipt, &err).await,
                }
            }
            Err(err @ (StoreError::Conflict { .. } | StoreError::BadCursor(_) | StoreError::Aws { .. })) => {
                self.transient(tier, receipt, &err).await
            }
        }
    }

    async fn run(
        &self,
        job: Job,
        envelope: &Envelope,
        receipt: &str,
        tier: PriorityTier,
        deadline: Option<DateTime<Utc>>,
    ) -> (Disposition, Counted) {
        tracing::Span::current().record("attempt", job.attempts);
        let handler = self.registry.get(&job.job_type);
        let ctx = Arc::new(JobContext::new(job.clone(), self.store.clone(), self.settings.progress_interval));
        let result = match &handler {
            None => Err(JobError::fatal(format!("no handler is registered for job type {:?}", job.job_type))),
            Some(handler) => {
                let limit = self.run_limit(&job, handler.timeout(), deadline);
                let ticker = self.spawn_ticker(ctx.clone(), tier, receipt.to_owned());
                let outcome = tokio::time::timeout(limit, handler.call(&ctx, job.payload.clone())).await;
                ticker.abort();
                outcome.unwrap_or_else(|_| {
                    Err(JobError::retryable(format!("timed out after {} s", limit.as_secs_f64())))
                })
            }
        };
        let now = Utc::now();
        let pending = ctx.take_pending();
        let processing_ms = job.started_at.map(|s| (now - s).num_milliseconds().max(0) as u64).unwrap_or(0);
        let wait_ms = job.wait_ms.unwrap_or_else(|| {
            job.started_at.map(|s| (s - job.due_at()).num_milliseconds().max(0) as u64).unwrap_or(0)
        });
        let count = |ended| Some((job.job_type.clone(), tier, ended, processing_ms, wait_ms));

        let mut dead_reason = None;
        let (outcome, ended) = match result {
            Ok(TaskOutput::Completed(result)) => {
                (RunOutcome::Completed { result: (!result.is_null()).then_some(result) }, Ended::Completed)
            }
            Ok(TaskOutput::Partial { result, failed }) => (
                RunOutcome::Partial { result: (!result.is_null()).then_some(result), error: failed },
                Ended::Partial,
            ),
            Err(err) if err.kind == ErrorKind::Cancelled => {
                info!("run stopped: the job was cancelled or taken over");
                return (Disposition::Ack, None);
            }
            Err(err) if err.is_retryable() && job.attempts < job.max_attempts => {
                let policy = handler.as_ref().and_then(|h| h.retry_policy()).unwrap_or(self.settings.retry);
                let delay = policy.backoff(job.attempts, fastrand::f64());
                warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "run failed; will retry");
                (RunOutcome::Retrying { error: err.to_failure(), run_at: now + delay }, Ended::Retried)
            }
            Err(err) => {
                let reason = if err.is_retryable() {
                    DeadLetterReason::AttemptsExhausted
                } else {
                    DeadLetterReason::Fatal
                };
                error!(error = %err, reason = reason.as_str(), "job failed");
                dead_reason = Some(reason);
                (RunOutcome::Failed { error: with_reason(err.to_failure(), reason) }, Ended::Failed)
            }
        };
        let run_at = match &outcome {
            RunOutcome::Retrying { run_at, .. } => Some(*run_at),
            _ => None,
        };
        let finished = match self.store.finish(&job, outcome, pending.as_ref(), now).await {
            Ok(finished) => finished,
            Err(StoreError::Conflict { current, .. }) => {
                info!(status = %current.status, "job changed while running (cancelled?): outcome not recorded");
                return (Disposition::Ack, None);
            }
            Err(err) => return self.transient(tier, receipt, &err).await,
        };
        info!(status = %finished.status, duration_ms = processing_ms, "run finished");
        let disposition = match (ended, run_at, dead_reason) {
            (Ended::Retried, Some(run_at), _) => self.send_retry(envelope, receipt, tier, run_at).await,
            (Ended::Failed, _, Some(reason)) => {
                self.dead_letter(tier, &envelope.encode(), reason.as_str()).await
            }
            (Ended::Completed, _, _) => self.enqueue_next(&finished).await,
            _ => Disposition::Ack,
        };
        (disposition, count(ended))
    }

    fn run_limit(
        &self,
        job: &Job,
        type_timeout: Option<Duration>,
        deadline: Option<DateTime<Utc>>,
    ) -> Duration {
        let left = deadline.map(|d| (d - Utc::now()).to_std().unwrap_or_default());
        run_limit(job.timeout_seconds, type_timeout, left, self.settings.safety_margin)
    }

    /// While a handler runs: write coalesced progress when due, and before the message's
    /// visibility (and the lease) runs out, extend both.
    fn spawn_ticker(
        &self,
        ctx: Arc<JobContext>,
        tier: PriorityTier,
        receipt: String,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let queues = self.queues.clone();
        let interval = self.settings.progress_interval;
        let visibility = self.settings.visibility_timeout;
        let heartbeat_every = visibility / 2;
        // In the job's span, so its lines carry the job's fields too.
        let span = tracing::Span::current();
        tokio::spawn(
            async move {
                let mut last_heartbeat = Instant::now();
                let tick = interval.min(heartbeat_every).max(Duration::from_millis(10));
                loop {
                    tokio::time::sleep(tick).await;
                    if ctx.flush_if_due().await.is_err() {
                        return; // cancelled: the handler learns at its next report
                    }
                    if last_heartbeat.elapsed() >= heartbeat_every {
                        last_heartbeat = Instant::now();
                        let job = ctx.job();
                        let until = Utc::now() + visibility;
                        let seconds = i32::try_from(visibility.as_secs()).unwrap_or(43_200);
                        if let Err(err) = queues.change_visibility(tier, &receipt, seconds).await {
                            warn!(error = %err, "heartbeat: could not extend message visibility");
                        }
                        match store.renew_lease(&job.id, job.attempts, until).await {
                            Ok(()) => {}
                            Err(StoreError::Conflict { .. }) => return,
                            Err(err) => warn!(error = %err, "heartbeat: could not renew lease"),
                        }
                    }
                }
            }
            .instrument(span),
        )
    }

    /// Retries go out as fresh delayed messages: the receive count restarts, so only crashes
    /// move a message toward the DLQ. If the send fails, the original comes back instead.
    async fn send_retry(
        &self,
        envelope: &Envelope,
        receipt: &str,
        tier: PriorityTier,
        run_at: DateTime<Utc>,
    ) -> Disposition {
        let delay = (run_at - Utc::now()).num_milliseconds().max(0);
        let delay_seconds = ((delay + 999) / 1000).min(900) as i32;
        match self.queues.send(envelope, delay_seconds).await {
            Ok(_) => Disposition::Ack,
            Err(err) => {
                warn!(error = %err, "could not send the retry; the original message will return instead");
                self.come_back_after(tier, receipt, Duration::from_secs(delay_seconds as u64)).await;
                Disposition::Retry
            }
        }
    }

    async fn defer_paused(&self, envelope: &Envelope, receipt: &str, tier: PriorityTier) -> Disposition {
        let delay = self.settings.pause_recheck.as_secs().min(900) as i32;
        info!(recheck_seconds = delay, "paused: delivery deferred");
        match self.queues.send(envelope, delay).await {
            Ok(_) => Disposition::Ack,
            Err(err) => {
                warn!(error = %err, "could not defer the paused delivery; it will return");
                self.come_back_after(tier, receipt, self.settings.pause_recheck).await;
                Disposition::Retry
            }
        }
    }

    /// The first step of a completed job's `next`, created idempotently and sent.
    async fn enqueue_next(&self, job: &Job) -> Disposition {
        let Some(step) = job.next_step() else { return Disposition::Ack };
        let now = Utc::now();
        let child = Job::new(step, now);
        let created = match self.store.create(&child).await {
            Ok(created) => created.into_job(),
            Err(err) => {
                error!(error = %err, "could not create the next pipeline step; the step will be redelivered");
                return Disposition::Retry;
            }
        };
        if created.status != crate::status::JobStatus::Queued || created.attempts > 0 {
            return Disposition::Ack; // already on its way
        }
        let envelope = Envelope::new(&created.id, &created.job_type, created.tier, created.generation);
        match self.queues.send(&envelope, created.delay_seconds(now)).await {
            Ok(_) => {
                info!(next_job_id = %created.id, next_type = %created.job_type, "pipeline: next step enqueued");
                Disposition::Ack
            }
            Err(err) => {
                error!(error = %err, "could not send the next pipeline step; the step will be redelivered");
                Disposition::Retry
            }
        }
    }

    async fn dead_letter(&self, tier: PriorityTier, body: &str, reason: &str) -> Disposition {
        match self.dlqs.send_with_reason(tier, body, reason).await {
            Ok(()) => {
                warn!(queue = %tier, reason, "message sent to the dead-letter queue");
                Disposition::Ack
            }
            Err(err) => {
                error!(error = %err, "could not reach the dead-letter queue; the message will return");
                Disposition::Retry
            }
        }
    }

    async fn transient(&self, tier: PriorityTier, receipt: &str, err: &StoreError) -> (Disposition, Counted) {
        warn!(error = %err, "AWS call failed; the message will return");
        self.come_back_after(tier, receipt, self.settings.transient_delay).await;
        (Disposition::Retry, None)
    }

    /// Best effort: without it the message returns after the queue's visibility timeout.
    async fn come_back_after(&self, tier: PriorityTier, receipt: &str, wait: Duration) {
        let seconds = i32::try_from(wait.as_secs().min(43_200)).unwrap_or(43_200);
        if let Err(err) = self.queues.change_visibility(tier, receipt, seconds).await {
            warn!(error = %err, "could not set the message's visibility");
        }
    }

    async fn pause_flags(&self) -> PauseFlags {
        if let Ok(cache) = self.pause.lock()
            && let Some((at, flags)) = cache.as_ref()
            && at.elapsed() < self.settings.pause_cache
        {
            return flags.clone();
        }
        match self.store.pause_flags().await {
            Ok(flags) => {
                if let Ok(mut cache) = self.pause.lock() {
                    *cache = Some((Instant::now(), flags.clone()));
                }
                flags
            }
            Err(err) => {
                warn!(error = %err, "could not read pause flags; using the last known");
                self.pause.lock().ok().and_then(|c| c.as_ref().map(|(_, f)| f.clone())).unwrap_or_default()
            }
        }
    }

    fn tier_of_arn(&self, arn: &str) -> Option<PriorityTier> {
        let name = arn.rsplit(':').next()?;
        self.queue_names.iter().find(|(_, n)| n.as_str() == name).map(|(t, _)| t)
    }
}

/// The failure recorded when every attempt ended with the worker dying (crash, Lambda timeout).
pub fn crashed_repeatedly(attempts: u32) -> JobFailure {
    JobFailure {
        message: format!("the worker died during each of {attempts} attempts"),
        details: Some(serde_json::json!({ "reason": DeadLetterReason::CrashedRepeatedly.as_str() })),
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

/// The dead-letter reason, added to the error's details (an object) so the record says why.
fn with_reason(mut failure: JobFailure, reason: DeadLetterReason) -> JobFailure {
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

/// The queue name at the end of a queue URL.
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// One run in the batch's EMF line: started, how it ended, and its times.
fn record_metrics(set: &mut MetricSet, ended: Ended, processing_ms: u64, wait_ms: u64) {
    set.add("JobsStarted", Unit::Count, 1.0);
    let outcome = match ended {
        Ended::Completed => "JobsCompleted",
        Ended::Partial => "JobsPartial",
        Ended::Retried => "JobsRetried",
        Ended::Failed => "JobsFailed",
    };
    set.add(outcome, Unit::Count, 1.0);
    if ended == Ended::Failed {
        // Every failed job's message goes to its tier's DLQ.
        set.add("JobsDeadLettered", Unit::Count, 1.0);
    }
    set.add("ProcessingTime", Unit::Milliseconds, processing_ms as f64);
    set.add("WaitTime", Unit::Milliseconds, wait_ms as f64);
}

/// The partial batch response (ReportBatchItemFailures) naming the messages that must come back.
pub fn batch_response(failed_message_ids: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_message_ids
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Build the Lambda event a poller hands the worker, from received messages.
pub fn sqs_event(messages: &[crate::queue::Received], arn: &str, region: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = Some(m.message_id.clone());
            record.receipt_handle = Some(m.receipt_handle.clone());
            record.body = Some(m.body.clone());
            record.attributes =
                HashMap::from([("ApproximateReceiveCount".to_owned(), m.receive_count.to_string())]);
            record.message_attributes = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
                    attribute.string_value = Some(v.clone());
                    attribute.data_type = Some("String".to_owned());
                    (k.clone(), attribute)
                })
                .collect();
            record.event_source_arn = Some(arn.to_owned());
            record.event_source = Some("aws:sqs".to_owned());
            record.aws_region = Some(region.to_owned());
            record
        })
        .collect();
    event
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    pub received: usize,
    pub failed: usize,
}

/// One round of what Lambda's SQS event source mapping does: receive up to `max` messages,
/// hand them to `handler` as an `SqsEvent`, delete those not reported as failures.
pub async fn poll_once<F, Fut>(
    queue: &SqsJobQueue,
    tier: PriorityTier,
    arn: &str,
    max: i32,
    wait_seconds: i32,
    handler: F,
) -> Result<Polled, QueueError>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    let messages = queue.receive(tier, max, wait_seconds, None).await?;
    deliver(queue, tier, arn, &messages, handler).await
}

/// The second half of [`poll_once`]: run received messages and delete the ones that succeeded.
/// Failed ones stay, to come back as their visibility says (partial batch response).
pub async fn deliver<F, Fut>(
    queue: &SqsJobQueue,
    tier: PriorityTier,
    arn: &str,
    messages: &[crate::queue::Received],
    handler: F,
) -> Result<Polled, QueueError>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    if messages.is_empty() {
        return Ok(Polled::default());
    }
    let response = handler(sqs_event(messages, arn, "local")).await;
    let failed: std::collections::HashSet<&str> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<String> = messages
        .iter()
        .filter(|m| !failed.contains(m.message_id.as_str()))
        .map(|m| m.receipt_handle.clone())
        .collect();
    if !done.is_empty() {
        let failures = queue.delete_batch(tier, &done).await?;
        for f in failures {
            warn!(code = %f.code, message = %f.message, "delete failed; the message will be delivered again");
        }
    }
    Ok(Polled { received: messages.len(), failed: failed.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn queue_names_come_from_urls_and_arns() {
        assert_eq!(queue_name("http://127.0.0.1:4566/123456789012/jobq-high"), "jobq-high");
        assert_eq!(queue_name("https://sqs.eu-west-1.amazonaws.com/1/jobq-low/"), "jobq-low");
    }

    #[test]
    fn a_batch_metric_line_counts_each_outcome_and_time() {
        let mut set = MetricSet::new([("JobType", "ocr"), ("Tier", "high")]);
        record_metrics(&mut set, Ended::Completed, 120, 5);
        record_metrics(&mut set, Ended::Failed, 30, 7);
        record_metrics(&mut set, Ended::Retried, 10, 1);
        let doc = set.to_emf(1);
        assert_eq!(doc["JobsStarted"], serde_json::json!([1.0, 1.0, 1.0]));
        assert_eq!(doc["JobsCompleted"], serde_json::json!(1.0));
        assert_eq!(doc["JobsFailed"], serde_json::json!(1.0));
        assert_eq!(doc["JobsDeadLettered"], serde_json::json!(1.0));
        assert_eq!(doc["JobsRetried"], serde_json::json!(1.0));
        assert_eq!(doc["ProcessingTime"], serde_json::json!([120.0, 30.0, 10.0]));
        assert_eq!(doc["WaitTime"], serde_json::json!([5.0, 7.0, 1.0]));
        assert!(doc.get("JobsPartial").is_none());
    }

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
    fn failures_carry_their_dead_letter_reason() {
        let plain = with_reason(JobFailure { message: "x".into(), details: None }, DeadLetterReason::Fatal);
        assert_eq!(plain.details, Some(serde_json::json!({"reason": "fatal_error"})));
        let object = JobFailure { message: "x".into(), details: Some(serde_json::json!({"attempt": 2})) };
        let object = with_reason(object, DeadLetterReason::AttemptsExhausted);
        assert_eq!(object.details, Some(serde_json::json!({"attempt": 2, "reason": "attempts_exhausted"})));
        let list = JobFailure { message: "x".into(), details: Some(serde_json::json!([1])) };
        let list = with_reason(list, DeadLetterReason::Fatal);
        assert_eq!(list.details, Some(serde_json::json!({"reason": "fatal_error", "details": [1]})));
    }

    #[test]
    fn dead_letter_reasons_are_stable_strings() {
        assert_eq!(DeadLetterReason::Poison.as_str(), "poison_message");
        assert_eq!(DeadLetterReason::CrashedRepeatedly.as_str(), "worker_crashed_repeatedly");
    }
}
