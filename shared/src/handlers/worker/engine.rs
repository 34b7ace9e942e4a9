//! The engine: one SQS batch in, one partial batch response out. Each step asks
//! [`super::decision`] what to do with what it met and performs only the I/O named there.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use super::batch::{BatchSummary, Disposition, Processed, RecordResult, RunCount};
use super::decision::{
    AfterFinish, Backoff, ClaimDecision, CrashRecorded, DeadLetterReason, Dropped, FinishDecision, Handled,
    Recording, RunDecision, dead_letter_note, decide_claim, decide_crash_recorded, decide_finish, decide_run,
    lease_span, run_limit, run_times, visibility_seconds,
};
use super::heartbeat::{Held, RunClock, first_window};
use super::large::Payload;
use super::polling::batch_response;
use super::state::Worker;
use crate::domain::context::JobContext;
use crate::domain::envelope::Envelope;
use crate::domain::model::{Job, JobFailure};
use crate::domain::priority::{PerTier, PriorityTier};
use crate::domain::status::JobStatus;
use crate::domain::task::{Handler, JobError};
use crate::store::{Ended, PauseFlags, RunOutcome, StoreError};

impl Worker {
    /// Handle one event source batch. `deadline` is the Lambda invocation's (none locally).
    pub async fn handle(&self, event: SqsEvent, deadline: Option<DateTime<Utc>>) -> SqsBatchResponse {
        // The same message twice in one batch is run once; both copies share its fate.
        let mut seen = HashSet::new();
        let unique: Vec<SqsMessage> = event
            .records
            .into_iter()
            .filter(|record| record.message_id.as_ref().is_none_or(|id| seen.insert(id.clone())))
            .collect();
        let hidden_until = self.hide_for_first_lease(&unique).await;
        // Read once per batch (through the cache), not once per record.
        let pause = self.pause_flags(&unique).await;
        let done = &super::settle::Done::default();
        let (unique, resent) = match &pause {
            Err(err) if err.is_transient() => self.resend_unjudged(unique, err, done).await,
            _ => (unique, Vec::new()),
        };
        let pause = &pause;
        let batch = futures::stream::iter(unique)
            .map(|record: SqsMessage| async move {
                let (disposition, counted) = self.process(&record, pause, deadline, hidden_until).await;
                if disposition == Disposition::Ack {
                    done.note(record.event_source_arn.as_deref().and_then(|a| self.tier_of_arn(a)), &record);
                }
                (record.message_id.unwrap_or_default(), disposition, counted)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect::<Vec<RecordResult>>();
        let window = first_window(self.settings.lease, self.settings.visibility_timeout);
        let mut results = self.settling(batch, hidden_until, window, done).await;
        results.extend(resent);

        // Counters come from the table's change stream (see `store::tally`): nothing to write here.
        let summary = BatchSummary::of(results);
        summary.metrics.values().for_each(|set| set.emit());
        batch_response(summary.failed)
    }

    /// Until a run's first heartbeat puts its lease in `by-due`, its message is how a run that
    /// died is found: so the batch's messages are hidden only a little past one lease, not the
    /// queue's visibility timeout (one request per ten messages). When they are hidden until.
    async fn hide_for_first_lease(&self, records: &[SqsMessage]) -> Instant {
        let started = Instant::now();
        let window = first_window(self.settings.lease, self.settings.visibility_timeout);
        if window >= self.settings.visibility_timeout {
            return started + self.settings.visibility_timeout;
        }
        let mut by_tier: PerTier<Vec<String>> = PerTier::from_fn(|_| Vec::new());
        for record in records {
            let tier = record.event_source_arn.as_deref().and_then(|arn| self.tier_of_arn(arn));
            if let (Some(tier), Some(receipt)) = (tier, record.receipt_handle.as_deref()) {
                by_tier.get_mut(tier).push(receipt.to_owned());
            }
        }
        let seconds = visibility_seconds(window);
        for (tier, receipts) in by_tier.iter().filter(|(_, r)| !r.is_empty()) {
            match self.queues.change_visibility_batch(tier, receipts, seconds).await {
                Ok(refused) if refused.is_empty() => {}
                // Such a message returns after the queue's timeout instead: later, never lost.
                Ok(refused) => warn!(refused = refused.len(), "could not shorten some messages' visibility"),
                Err(err) => warn!(error = %err, "could not shorten the batch's visibility"),
            }
        }
        started + window
    }

    async fn process(
        &self,
        record: &SqsMessage,
        pause: &Result<PauseFlags, StoreError>,
        deadline: Option<DateTime<Utc>>,
        hidden_until: Instant,
    ) -> Processed {
        let body = record.body.as_deref().unwrap_or_default();
        let arn_tier = record.event_source_arn.as_deref().and_then(|arn| self.tier_of_arn(arn));
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(err) => {
                let tier = arn_tier.unwrap_or(PriorityTier::Normal);
                error!(queue = %tier, message_id = record.message_id.as_deref().unwrap_or(""), error = %err, "poison message");
                let reason = dead_letter_note(DeadLetterReason::Poison, Some(&err.to_string()));
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
        // A delivery that resumes a run already under way (its outcome lost to AWS) is no new
        // work: it goes on while paused, as running jobs do; parking it would lose the run.
        let receipt = record.receipt_handle.as_deref().unwrap_or_default();
        let paused = match pause {
            _ if envelope.lost_run().is_some() => false,
            Ok(flags) => flags.is_paused(envelope.tier, &envelope.job_type),
            // Unknown flags (their item unreadable) would let a paused job start: not yet.
            Err(err) => return self.transient(&envelope, tier, receipt, err).instrument(span).await,
        };
        if paused {
            return (self.defer_paused(&envelope, receipt, tier).instrument(span).await, None);
        }
        let held = Held { tier, receipt: record.receipt_handle.clone().unwrap_or_default(), hidden_until };
        self.process_envelope(envelope, held, deadline).instrument(span).await
    }

    async fn process_envelope(
        &self,
        envelope: Envelope,
        held: Held,
        deadline: Option<DateTime<Utc>>,
    ) -> Processed {
        let (tier, receipt) = (held.tier, held.receipt.as_str());
        let now = self.clock.now();
        // The job's own timeout is read with the claim; the type's and the invocation's are known.
        let handler = self.registry.get(&envelope.job_type);
        let limit = self.run_limit(u32::MAX, handler.and_then(|h| h.timeout()), deadline);
        let lease_until = now + lease_span(limit, self.settings.lease);
        let mut envelope = envelope;
        let claimed = self.claim_or_resume(&mut envelope, now, lease_until).await;
        match decide_claim(claimed, now) {
            ClaimDecision::Run(job) => self.run(*job, &envelope, &held, deadline).await,
            ClaimDecision::DeadLetter { reason, detail } => {
                match reason {
                    DeadLetterReason::MissingRecord => warn!("envelope points at no job record"),
                    _ => error!(error = detail.as_deref().unwrap_or(""), "job record does not decode"),
                }
                let note = dead_letter_note(reason, detail.as_deref());
                (self.dead_letter(tier, &envelope.encode(), &note).await, None)
            }
            ClaimDecision::Drop(Dropped::NotWaiting(status)) => {
                info!(status = %status, "delivery for a job that is not waiting to run: dropped");
                (Disposition::Ack, None)
            }
            ClaimDecision::Drop(Dropped::StaleGeneration { delivered, current }) => {
                info!(delivered, current, "delivery from before a retry: dropped");
                (Disposition::Ack, None)
            }
            ClaimDecision::DropAndEnqueueNext => {
                let status = JobStatus::Completed;
                info!(status = %status, "delivery for a job that is not waiting to run: dropped");
                (self.enqueue_next_of(&envelope.id).await, None)
            }
            ClaimDecision::RunningElsewhere { until } => {
                (self.running_elsewhere(&envelope, tier, receipt, until).await, None)
            }
            ClaimDecision::TakeBack(job) => self.take_back(&job, &envelope, tier, receipt).await,
            ClaimDecision::NotDue(at) => {
                let wait = (at - self.clock.now()).to_std().unwrap_or_default();
                info!(due = %at, "delivery before the job's run_at: sent again for then");
                (self.send_again(&envelope, tier, receipt, wait).await, None)
            }
            ClaimDecision::FailCrashed { current, error } => {
                self.fail_crashed(&envelope, &current, tier, receipt, &error).await
            }
            ClaimDecision::Transient(err) => self.transient(&envelope, tier, receipt, &err).await,
        }
    }

    /// Claim the job for a run; or, when the delivery asks to resume a run whose outcome was lost
    /// to AWS, take it over on the same attempt (an ordinary claim if it is no longer that run's).
    ///
    /// A claim whose answer AWS lost may have started a run nobody runs: the delivery sent again
    /// names it (`claimed`), and the next one takes it over on its attempt.
    async fn claim_or_resume(
        &self,
        envelope: &mut Envelope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let (id, generation) = (envelope.id.clone(), envelope.generation);
        let lost = envelope.lost_run().or(envelope.claimed.as_deref()).map(str::to_owned);
        if let Some(lost) = lost {
            match self.store.take_over(&id, generation, &lost, now, lease_until).await {
                Ok(job) => {
                    info!(
                        attempt = job.attempts,
                        "resuming a run whose outcome was lost, on the same attempt"
                    );
                    return Ok(job);
                }
                Err(StoreError::Conflict { .. } | StoreError::InvalidTransition { .. }) => {
                    self.adopt(envelope).await;
                }
                Err(err) => return Err(err),
            }
        }
        let run = self.store.run_token();
        let claimed = self.store.claim_as(&id, generation, &run, now, lease_until).await;
        envelope.claimed = claimed.as_ref().err().filter(|e| e.is_transient()).map(|_| run);
        claimed
    }

    /// A resuming delivery that finds its job taken back from the lost run and claimed again
    /// meanwhile (the take-back's message came first): the new run stands for the lost one and
    /// the attempt it counted is given back. Refused otherwise; the delivery goes on as a copy.
    async fn adopt(&self, envelope: &Envelope) {
        let (Some(lost), Some(attempt)) = (envelope.lost_run(), envelope.attempt) else { return };
        let adopted = self.store.adopt_lost_run(&envelope.id, envelope.generation, lost, attempt).await;
        if let Ok(job) = adopted {
            info!(
                attempt = job.attempts,
                "the run after the take-back stands for the lost one: its attempt given back"
            );
        }
    }

    /// Every attempt died: fail the job as the claim found it (unless it ended or moved on since),
    /// then dead-letter the envelope.
    async fn fail_crashed(
        &self,
        envelope: &Envelope,
        current: &Job,
        tier: PriorityTier,
        receipt: &str,
        error: &JobFailure,
    ) -> Processed {
        let now = self.clock.now();
        // A delivery resuming the last run (its outcome lost to AWS) may still come: until it no
        // longer can, the job is only watched (this delivery may be its run's only trace), and
        // the sweep fails it then.
        let resumable = chrono::Duration::from_std(self.settings.resume_within()).unwrap_or_default();
        if current.status == JobStatus::Processing && current.lease_until.is_some_and(|l| l + resumable > now)
        {
            return match self.store.watch_run(&envelope.id).await {
                Ok(_) => {
                    info!(
                        "last attempt's run ended without an outcome: left to the sweep till no resume can come"
                    );
                    (Disposition::Ack, None)
                }
                Err(err) => self.transient(envelope, tier, receipt, &err).await,
            };
        }
        let failed = self.store.fail_dead_run(current, now, error, now).await;
        match decide_crash_recorded(failed) {
            CrashRecorded::DeadLetter => {
                let counted = RunCount {
                    job_type: envelope.job_type.clone(),
                    tier,
                    ended: Ended::Failed,
                    processing_ms: 0,
                    wait_ms: 0,
                };
                let reason = DeadLetterReason::CrashedRepeatedly.as_str();
                (self.dead_letter(tier, &envelope.encode(), reason).await, Some(counted))
            }
            CrashRecorded::MovedOn => {
                info!("job moved on since its claim was refused (a run renewed, a retry): looked at again");
                (self.send_again(envelope, tier, receipt, Duration::from_secs(1)).await, None)
            }
            CrashRecorded::Transient(err) => self.transient(envelope, tier, receipt, &err).await,
        }
    }

    async fn run(
        &self,
        job: Job,
        envelope: &Envelope,
        held: &Held,
        deadline: Option<DateTime<Utc>>,
    ) -> Processed {
        let (tier, receipt) = (held.tier, held.receipt.as_str());
        tracing::Span::current().record("attempt", job.attempts);
        let handler = self.registry.get(&job.job_type);
        let (job, unreadable) = match self.with_payload(job).await {
            Payload::Read(job) => (job, None),
            Payload::Refused(job, err) => (job, Some(err)),
            Payload::NotYet(job, err) => return self.payload_later(&job, envelope, held, &err).await,
        };
        let ctx = Arc::new(JobContext::new(job.clone(), self.store.clone(), self.settings.progress_interval));
        let handled = match (&handler, unreadable) {
            (_, Some(err)) => Handled::Returned(Err(err)),
            (None, None) => Handled::Returned(Err(JobError::fatal(format!(
                "no handler is registered for job type {:?}",
                job.job_type
            )))),
            (Some(handler), None) => self.call(handler.as_ref(), &ctx, &job, held, deadline).await,
        };
        let now = self.clock.now();
        let pending = ctx.take_pending();
        let backoff = Backoff {
            task: handler.as_ref().and_then(|h| h.retry_policy()),
            default: self.settings.retry,
            jitter: self.ids.unit(),
        };
        let RunDecision::Record(recording) = decide_run(handled, &job, backoff, now) else {
            info!("run stopped: the job was cancelled or taken over");
            return (Disposition::Ack, None);
        };
        log_recording(&recording);
        let (processing_ms, wait_ms) = run_times(&job, now);
        let (recording, finished) = self.record(&job, *recording, backoff, pending.as_ref(), now).await;
        let Recording { ended, then, .. } = recording;
        let disposition = match decide_finish(finished, then) {
            FinishDecision::Proceed { job: finished, then } => {
                info!(status = %finished.status, duration_ms = processing_ms, "run finished");
                self.after_finish(then, &finished, envelope, receipt, tier).await
            }
            FinishDecision::LostOwnership { status } => {
                info!(status = %status, "job changed while running (cancelled?): outcome not recorded");
                return (Disposition::Ack, None);
            }
            FinishDecision::Transient(err) => {
                // The run is over but its outcome is not recorded: its delivery resumes it.
                let resume = Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
                    .resuming(job.run_id.clone())
                    .at_attempt(job.attempts);
                return self.resume_later(&resume, tier, receipt, &err, deadline).await;
            }
        };
        let counted = RunCount { job_type: job.job_type.clone(), tier, ended, processing_ms, wait_ms };
        (disposition, Some(counted))
    }

    /// The handler, under its time limit, with the ticker writing progress and heartbeats.
    async fn call(
        &self,
        handler: &dyn Handler,
        ctx: &Arc<JobContext>,
        job: &Job,
        held: &Held,
        deadline: Option<DateTime<Utc>>,
    ) -> Handled {
        let limit = self.run_limit(job.timeout_seconds, handler.timeout(), deadline);
        let run = RunClock { held: held.clone(), limit };
        let ticker = self.spawn_ticker(ctx.clone(), run);
        // A panic unwinds to here and fails only this job; its batch neighbours run on.
        let call = std::panic::AssertUnwindSafe(handler.call(ctx, job.payload.clone())).catch_unwind();
        let outcome = tokio::time::timeout(limit, call).await;
        drop(ticker);
        match outcome {
            Ok(Ok(result)) => Handled::Returned(result),
            Ok(Err(panic)) => Handled::Panicked(panic_message(panic.as_ref())),
            Err(_) => Handled::TimedOut(limit),
        }
    }

    /// A run's time limit given the job's and the type's timeouts and the invocation's deadline.
    fn run_limit(
        &self,
        job_timeout: u32,
        type_timeout: Option<Duration>,
        deadline: Option<DateTime<Utc>>,
    ) -> Duration {
        let left = deadline.map(|d| (d - self.clock.now()).to_std().unwrap_or_default());
        run_limit(job_timeout, type_timeout, left, self.settings.safety_margin)
    }

    /// What follows a recorded outcome.
    async fn after_finish(
        &self,
        then: AfterFinish,
        finished: &Job,
        envelope: &Envelope,
        receipt: &str,
        tier: PriorityTier,
    ) -> Disposition {
        match then {
            AfterFinish::SendRetry { run_at, .. } => self.send_retry(finished, receipt, tier, run_at).await,
            AfterFinish::DeadLetter(reason) => {
                self.dead_letter(tier, &envelope.encode(), reason.as_str()).await
            }
            AfterFinish::EnqueueNext => self.enqueue_next(finished).await,
            AfterFinish::HeldUntil { run_at } => {
                info!(due = %run_at, "backoff beyond SQS's delay: the scheduler sends the retry then");
                Disposition::Ack
            }
            AfterFinish::Ack => Disposition::Ack,
        }
    }
}

/// What a panic said: its message when it was a string (as `panic!` makes), else a placeholder.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (_, Some(message)) => message.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

/// The line a run's outcome gets before it is recorded: a retry's delay, a failure's reason.
fn log_recording(recording: &Recording) {
    match (&recording.outcome, recording.then) {
        (RunOutcome::Retrying { error, .. }, AfterFinish::SendRetry { delay, .. }) => {
            warn!(error = %error.message, retry_in_ms = delay.as_millis() as u64, "run failed; will retry");
        }
        (RunOutcome::Retrying { error, .. }, AfterFinish::HeldUntil { run_at }) => {
            warn!(error = %error.message, retry_at = %run_at, "run failed; will retry then");
        }
        (RunOutcome::Failed { error }, AfterFinish::DeadLetter(reason)) => {
            error!(error = %error.message, reason = reason.as_str(), "job failed");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::domain::model::NewJob;
    use crate::domain::task::{Registry, Task, TaskOutput};
    use crate::handlers::worker::WorkerSettings;
    use crate::ports::ManualClock;

    /// Sleeps for `seconds` of tokio time.
    struct Sleeper;

    impl Task for Sleeper {
        type Input = u64;

        fn job_type(&self) -> &'static str {
            "sleeper"
        }

        async fn run(&self, _ctx: &JobContext, seconds: u64) -> Result<TaskOutput, JobError> {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            Ok(TaskOutput::Completed(serde_json::Value::Null))
        }
    }

    fn held() -> Held {
        Held { tier: PriorityTier::Normal, receipt: "r1".into(), hidden_until: Instant::now() }
    }

    /// A worker on the in-memory ports, under the system clock.
    fn worker() -> Worker {
        let (ports, _) = crate::Ports::memory(crate::ports::clock::system()).expect("memory ports");
        let mut registry = Registry::default();
        registry.register(Sleeper);
        ports.worker(registry, WorkerSettings::default())
    }

    #[test]
    fn a_worker_reads_the_clock_it_is_given() {
        let before = Utc::now();
        let worker = worker();
        assert!(worker.clock.now() >= before && worker.clock.now() <= Utc::now() + TimeDelta::seconds(1));
        let later = before + TimeDelta::days(400);
        let worker = worker.with_clock(Arc::new(ManualClock::new(later)));
        assert_eq!(worker.clock.now(), later);
    }

    #[tokio::test(start_paused = true)]
    async fn the_invocation_deadline_is_measured_on_the_workers_clock() {
        // A clock far from the wall clock: a deadline one second after its "now" leaves, minus the
        // 3 s safety margin, the 100 ms minimum; measured on the wall clock it would leave years.
        let now = Utc::now() + TimeDelta::days(400);
        let worker = worker().with_clock(Arc::new(ManualClock::new(now)));
        let job =
            Job::new(NewJob { job_type: "sleeper".into(), payload: 5.into(), ..NewJob::default() }, now);
        let ctx = Arc::new(JobContext::new(job.clone(), worker.store.clone(), Duration::from_secs(1)));
        let deadline = Some(now + TimeDelta::seconds(1));
        let handled = worker.call(&Sleeper, &ctx, &job, &held(), deadline).await;
        assert!(
            matches!(handled, Handled::TimedOut(limit) if limit == Duration::from_millis(100)),
            "{handled:?}"
        );

        // Without a deadline the job's own timeout (300 s) applies, and a 5 s run completes.
        let handled = worker.call(&Sleeper, &ctx, &job, &held(), None).await;
        assert!(matches!(handled, Handled::Returned(Ok(TaskOutput::Completed(_)))), "{handled:?}");
    }
}
