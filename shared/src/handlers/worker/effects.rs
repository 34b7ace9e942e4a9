//! The I/O the decisions name: send a retry or a deferral, enqueue a pipeline's next step,
//! dead-letter a message, make a message come back later, read the pause flags.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::batch::{Disposition, Processed, RecordResult};
use super::decision::{delay_seconds, visibility_seconds};
use super::state::Worker;
use crate::domain::envelope::Envelope;
use crate::domain::model::Job;
use crate::domain::priority::PriorityTier;
use crate::domain::status::JobStatus;
use crate::handlers::enqueue::{Enqueuer, NextStep};
use crate::store::{Created, PauseFlags, StoreError};

/// The longest a run's resuming delivery is tried again when SQS refuses it (see
/// [`Worker::resume_later`]): SQS's throttles and outages are short.
pub(super) const RESUME_SEND_BUDGET: Duration = Duration::from_secs(300);

impl Worker {
    /// Retries go out as fresh delayed messages: the receive count restarts, so only crashes
    /// move a message toward the DLQ. The message names the generation and run that recorded the
    /// retry (`finished`, as the finish wrote it). A backoff past SQS's 15-minute delay arrives
    /// early and is sent on again until `run_at` (the claim refuses it before then). If the send
    /// fails, the original comes back instead.
    pub(super) async fn send_retry(
        &self,
        finished: &Job,
        receipt: &str,
        tier: PriorityTier,
        run_at: DateTime<Utc>,
    ) -> Disposition {
        let envelope = Envelope::new(&finished.id, &finished.job_type, finished.tier, finished.generation)
            .with_run(finished.run_id.clone());
        let delay_seconds = delay_seconds(run_at, self.clock.now());
        match self.queues.send(&envelope, delay_seconds).await {
            Ok(_) => Disposition::Ack,
            Err(err) => {
                warn!(error = %err, "could not send the retry; the original message will return instead");
                self.come_back_after(tier, receipt, Duration::from_secs(delay_seconds as u64)).await;
                Disposition::Retry
            }
        }
    }

    /// The same delivery as a fresh message due in `wait` (at most SQS's 15 minutes; a longer
    /// wait is sent on again when it arrives), acknowledging this one: its receive count restarts.
    /// Only if the send fails does the original come back instead.
    pub(super) async fn send_again(
        &self,
        envelope: &Envelope,
        tier: PriorityTier,
        receipt: &str,
        wait: Duration,
    ) -> Disposition {
        let delay = visibility_seconds(wait.max(Duration::from_secs(1))).min(900);
        match self.queues.send(envelope, delay).await {
            Ok(_) => Disposition::Ack,
            Err(send) => {
                warn!(error = %send, "could not send the delivery again; the original message will return");
                self.come_back_after(tier, receipt, wait.min(Duration::from_secs(900))).await;
                Disposition::Retry
            }
        }
    }

    /// A delivery while its tier or type is paused: the job is parked in the table (one write)
    /// and the message dropped; the scheduler sends a new one once the pause is over. Only if the
    /// table cannot be reached does the delivery go round again after `pause_recheck`.
    pub(super) async fn defer_paused(
        &self,
        envelope: &Envelope,
        receipt: &str,
        tier: PriorityTier,
    ) -> Disposition {
        match self.store.park(&envelope.id, envelope.generation, self.clock.now()).await {
            Ok(_) => {
                info!("paused: parked until resumed");
                Disposition::Ack
            }
            // Its next step, if any, may wait for this delivery (the first try to make it
            // failed): made now, as an enqueue while paused is (its own delivery parks it).
            Err(StoreError::Conflict { current, .. }) if current.status == JobStatus::Completed => {
                self.enqueue_next_of(&envelope.id).await
            }
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                // A running job's run may be known by this delivery only (its claim's answer
                // lost): its lease is watched before the delivery goes.
                if let Err(err) = self.store.watch_run(&envelope.id).await {
                    warn!(error = %err, "paused: could not watch the job's run; the delivery goes round again");
                    return self.send_again(envelope, tier, receipt, self.settings.pause_recheck).await;
                }
                info!("paused: delivery for a job not waiting (running, done, parked or retried): dropped");
                Disposition::Ack
            }
            Err(err) => {
                warn!(error = %err, "paused: could not park the job; the delivery goes round again");
                self.send_again(envelope, tier, receipt, self.settings.pause_recheck).await
            }
        }
    }

    /// For a redelivered completed job: its next step, in case the run that completed it died
    /// before sending it. A record that cannot be read is left alone.
    pub(super) async fn enqueue_next_of(&self, id: &str) -> Disposition {
        match self.store.get(id, true).await {
            // Past its retention, its next step may be too: making it again would run it again.
            Ok(Some(job)) if job.expired(self.clock.now()) => Disposition::Ack,
            Ok(Some(job)) => self.enqueue_next(&job).await,
            _ => Disposition::Ack,
        }
    }

    /// The first step of a completed job's `next` ([`Enqueuer::enqueue_next`]). A step not
    /// made (its send failed and it was taken back) is made when this delivery comes back.
    pub(super) async fn enqueue_next(&self, job: &Job) -> Disposition {
        let enqueuer = Enqueuer::new(&self.store, &self.queues, self.clock.as_ref(), self.ids.as_ref());
        match enqueuer.enqueue_next(job).await {
            Ok(NextStep::Made(made)) => {
                if let Created::New(next) = *made {
                    info!(next_job_id = %next.id, next_type = %next.job_type, "pipeline: next step enqueued");
                }
                Disposition::Ack
            }
            Ok(NextStep::None) => Disposition::Ack,
            Ok(NextStep::Unreadable(err)) => {
                error!(error = %err, "the pipeline's next steps cannot be read: the pipeline ends here");
                Disposition::Ack
            }
            Err(err) => {
                error!(error = %err, "could not enqueue the next pipeline step; the step will be redelivered");
                Disposition::Retry
            }
        }
    }

    pub(super) async fn dead_letter(&self, tier: PriorityTier, body: &str, reason: &str) -> Disposition {
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

    /// AWS failed us. A failure that may succeed later (throttled, unavailable) sends the delivery
    /// again as a fresh delayed message, as retries do, so its receive count restarts and a
    /// throttle of any length never walks it to the DLQ; only if that send fails too does the
    /// original come back instead. Any other failure brings the original back, so one that fails
    /// every time reaches the DLQ after maxReceiveCount receives instead of cycling forever.
    pub(super) async fn transient(
        &self,
        envelope: &Envelope,
        tier: PriorityTier,
        receipt: &str,
        err: &StoreError,
    ) -> Processed {
        if !err.is_transient() {
            warn!(error = %err, "AWS refused the request; the message will return");
            self.come_back_after(tier, receipt, self.settings.transient_delay).await;
            return (Disposition::Retry, None);
        }
        // A delivery resuming a run whose outcome was lost keeps the first wait: it must come
        // back within the take-back grace, to win its job back before a new run takes it.
        let wait = match envelope.lost_run() {
            Some(_) => self.settings.transient_delay,
            None => self.settings.transient_wait(envelope.again),
        };
        warn!(
            error = %err,
            retry_in_seconds = wait.as_secs(),
            failed_before = envelope.again,
            "AWS call failed; the delivery is sent again"
        );
        (self.send_again(&envelope.clone().failed_again(), tier, receipt, wait).await, None)
    }

    /// The pause flags could not be read, so no delivery of the batch may be judged: each is
    /// sent again as [`Worker::transient`] would, but ten to a SendMessageBatch request (a backlog
    /// met by a throttled flags item costs a tenth of the sends). A delivery that resumes a run
    /// (it goes on whatever the flags), one that does not decode, and one whose send failed are
    /// left to be processed one by one. The records left, and the results of those sent.
    pub(super) async fn resend_unjudged(
        &self,
        records: Vec<SqsMessage>,
        err: &StoreError,
        done: &super::settle::Done,
    ) -> (Vec<SqsMessage>, Vec<RecordResult>) {
        let mut resend: Vec<(SqsMessage, (Envelope, i32))> = Vec::new();
        let mut left = Vec::new();
        for record in records {
            match Envelope::decode(record.body.as_deref().unwrap_or_default()) {
                Ok(envelope) if envelope.lost_run().is_none() => {
                    let wait = self.settings.transient_wait(envelope.again);
                    let delay = visibility_seconds(wait.max(Duration::from_secs(1))).min(900);
                    resend.push((record, (envelope.failed_again(), delay)));
                }
                _ => left.push(record),
            }
        }
        if resend.is_empty() {
            return (left, Vec::new());
        }
        let messages: Vec<(Envelope, i32)> = resend.iter().map(|(_, m)| m.clone()).collect();
        let unsent: Vec<usize> =
            self.queues.send_batch_settled(&messages).await.iter().map(|f| f.index).collect();
        warn!(error = %err, sent = messages.len() - unsent.len(), "pause flags unreadable: the batch's deliveries sent again");
        let mut sent = Vec::new();
        for (index, (record, _)) in resend.into_iter().enumerate() {
            match unsent.contains(&index) {
                true => left.push(record),
                false => {
                    done.note(record.event_source_arn.as_deref().and_then(|a| self.tier_of_arn(a)), &record);
                    sent.push((record.message_id.unwrap_or_default(), Disposition::Ack, None));
                }
            }
        }
        (left, sent)
    }

    /// A run's outcome was not recorded (AWS failed the finish): the delivery resuming it is the
    /// run's only trace. Were its send given up, the original message would come back naming no
    /// run, the job would be taken back at its lease end and run again on a new attempt; so the
    /// send is tried again while the invocation has time (at most [`RESUME_SEND_BUDGET`]) before
    /// the original is left to come back.
    pub(super) async fn resume_later(
        &self,
        resume: &Envelope,
        tier: PriorityTier,
        receipt: &str,
        err: &StoreError,
        deadline: Option<DateTime<Utc>>,
    ) -> Processed {
        if !err.is_transient() {
            return self.transient(resume, tier, receipt, err).await;
        }
        let wait = self.settings.transient_delay;
        warn!(error = %err, retry_in_seconds = wait.as_secs(), "AWS call failed; the run is resumed by a delivery sent again");
        let left = deadline
            .and_then(|d| (d - self.clock.now()).to_std().ok())
            .map(|l| l.saturating_sub(self.settings.safety_margin));
        let give_up =
            tokio::time::Instant::now() + left.unwrap_or(RESUME_SEND_BUDGET).min(RESUME_SEND_BUDGET);
        let (envelope, delay) = (resume.clone().failed_again(), visibility_seconds(wait).min(900));
        let mut pause = Duration::from_secs(1);
        loop {
            match self.queues.send(&envelope, delay).await {
                Ok(_) => return (Disposition::Ack, None),
                Err(send) if tokio::time::Instant::now() + pause < give_up => {
                    warn!(error = %send, retry_in_ms = pause.as_millis() as u64, "could not send the resuming delivery; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                Err(send) => {
                    warn!(error = %send, "could not send the resuming delivery; the original message will return");
                    self.come_back_after(tier, receipt, wait).await;
                    return (Disposition::Retry, None);
                }
            }
        }
    }

    /// A run's lease ended without an outcome: take the job back from it as the scheduler does,
    /// reversibly (were the run alive after all, its next write, or the delivery resuming it,
    /// owns the job again on the same attempt); a new message runs it anew after the grace.
    pub(super) async fn take_back(
        &self,
        job: &Job,
        envelope: &Envelope,
        tier: PriorityTier,
        receipt: &str,
    ) -> Processed {
        let now = self.clock.now();
        let grace = self.settings.resume_grace;
        let run_at = now + chrono::Duration::from_std(grace).unwrap_or_default();
        match self.store.recover(job, now, now, run_at).await {
            Ok(_) => {
                warn!(
                    attempts = job.attempts,
                    "run's lease ended: job taken back; runs again after the grace"
                );
                // A new message, as the scheduler sends: this one was received once for each run
                // that died, and its receive count must not send a job that crashed twice to the
                // DLQ.
                (self.send_again(envelope, tier, receipt, grace + Duration::from_secs(1)).await, None)
            }
            // Moved on meanwhile (a resume, a cancel): look again soon.
            Err(StoreError::Conflict { .. } | StoreError::InvalidTransition { .. }) => {
                self.come_back_after(tier, receipt, Duration::from_secs(1)).await;
                (Disposition::Retry, None)
            }
            Err(err) => self.transient(envelope, tier, receipt, &err).await,
        }
    }

    /// A delivery for a job another run holds. Once that run is watched at its lease end (from
    /// its first heartbeat), a run that dies is found without this message, so the delivery is
    /// a copy to drop (an idempotency key sent again, a resend, SQS's duplicate): it never walks
    /// toward the DLQ, however long the run. Before that, it may be the run's own message (its
    /// hide failed), which is how a run that dies is found: it comes back after the lease
    /// (`until`), when the run is watched or ended, so a copy costs at most one receive more.
    /// Were the job unreadable, the delivery is sent again as a fresh message for then.
    pub(super) async fn running_elsewhere(
        &self,
        envelope: &Envelope,
        tier: PriorityTier,
        receipt: &str,
        until: Duration,
    ) -> Disposition {
        match self.store.is_watched(&envelope.id).await {
            Ok(true) => {
                info!("job is running elsewhere and watched: this copy of its message dropped");
                Disposition::Ack
            }
            Ok(false) => {
                info!(lease_seconds = until.as_secs(), "job is running elsewhere: deferred to its lease end");
                self.come_back_after(tier, receipt, until).await;
                Disposition::Retry
            }
            Err(err) => {
                warn!(error = %err, "job is running elsewhere and could not be read: sent again");
                self.send_again(envelope, tier, receipt, until).await
            }
        }
    }

    /// Best effort: without it the message returns after the queue's visibility timeout.
    pub(super) async fn come_back_after(&self, tier: PriorityTier, receipt: &str, wait: Duration) {
        if let Err(err) = self.queues.change_visibility(tier, receipt, visibility_seconds(wait)).await {
            warn!(error = %err, "could not set the message's visibility");
        }
    }

    /// The pause flags to judge a batch's deliveries by. Cached flags serve only messages sent
    /// before they were read (by each record's `SentTimestamp`, less [`SENT_CLOCK_ALLOWANCE`](super::pause_cache::SENT_CLOCK_ALLOWANCE))
    /// and for at most `pause_cache`; otherwise they are read again, strongly consistent, so
    /// they reflect every pause that had answered before the read. A read that missed a pause
    /// began before the pause answered, so it never serves a message sent after that: a job
    /// whose message was sent after the pause answered never starts while paused (its delivery
    /// parks it), whatever sent it (the API, a batch, ingest, a schedule, a pipeline step, a
    /// retry, the scheduler's release).
    ///
    /// What bounds the lag: a message already in flight when the pause answers may still start
    /// up to `pause_cache` (5 s by default) after it, under flags read before it; a record of the
    /// same batch waiting for a free slot (concurrency below the batch size) starts under its
    /// batch's flags later still. A run already under way goes on. If the read fails (DynamoDB
    /// throttled or unavailable, or only the flags' item hot while the jobs' are served) the
    /// error is returned: no delivery is judged by flags older than that rule allows, and each is
    /// sent again as any delivery AWS failed, to be judged afresh.
    ///
    /// Cost: at most one GetItem (1 RCU, strongly consistent) per batch, and none for a batch of
    /// messages sent before the cached read (a backlog), nor while the cache serves.
    pub(super) async fn pause_flags(&self, records: &[SqsMessage]) -> Result<PauseFlags, StoreError> {
        let now = self.clock.now();
        if let Some(flags) = self.pause.serving(records, now, self.settings.pause_cache) {
            return Ok(flags);
        }
        // Taken before the read: every message sent before this moment is judged by flags at
        // least as new as it.
        let read_at = now;
        match self.store.pause_flags_now().await {
            Ok(flags) => {
                self.pause.keep(read_at, flags.clone());
                Ok(flags)
            }
            Err(err) => {
                warn!(error = %err, "could not read pause flags; the batch's deliveries go round again");
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryQueues;
    use crate::domain::task::Registry;
    use crate::handlers::worker::WorkerSettings;

    fn worker() -> (Worker, crate::wiring::MemoryAws) {
        let (ports, aws) = crate::Ports::memory(crate::ports::clock::system()).expect("memory ports");
        (ports.worker(Registry::default(), WorkerSettings::default()), aws)
    }

    fn throttled() -> StoreError {
        StoreError::Aws { operation: "UpdateItem", source: "throttled".into() }
    }

    fn sent(queues: &MemoryQueues, aws: &crate::wiring::MemoryAws) -> Vec<Envelope> {
        let bodies = queues.bodies(aws.config.queues.get(PriorityTier::Normal));
        bodies.iter().filter_map(|b| Envelope::decode(b).ok()).collect()
    }

    /// Regression (seed 3043): a run's finish was throttled and the send of the delivery resuming
    /// it met a throttled SQS: given up at once, the original message came back naming no run,
    /// and the job ran again on attempt 2. The send is now tried again through a short throttle.
    #[tokio::test(start_paused = true)]
    async fn a_resuming_delivery_is_sent_through_a_short_sqs_throttle() {
        let (worker, aws) = worker();
        let resume = Envelope::new("job-1", "noop", PriorityTier::Normal, 0)
            .resuming(Some("run-1".into()))
            .at_attempt(1);
        aws.queues.throttle_next(3);
        let (disposition, _) =
            worker.resume_later(&resume, PriorityTier::Normal, "receipt", &throttled(), None).await;
        assert_eq!(disposition, Disposition::Ack);
        let sent = sent(&aws.queues, &aws);
        assert!(sent.iter().any(|e| e.lost_run() == Some("run-1")), "{sent:?}");
    }

    /// Regression (seed 3027): a backlog met a throttled pause-flags item, and each delivery was
    /// sent again alone, every time the read failed: the sends per job outgrew their budget. A
    /// batch's deliveries are now sent again ten to a request, a resuming one left to go on.
    #[tokio::test(start_paused = true)]
    async fn unjudged_deliveries_are_sent_again_ten_to_a_request() {
        let (worker, aws) = worker();
        let record = |n: usize, envelope: Envelope| {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m{n}"));
            message.body = Some(envelope.encode());
            message
        };
        let mut records: Vec<SqsMessage> = (0..9)
            .map(|n| record(n, Envelope::new(format!("job-{n}"), "noop", PriorityTier::Normal, 0)))
            .collect();
        let resume = Envelope::new("job-r", "noop", PriorityTier::Normal, 0).resuming(Some("run".into()));
        records.push(record(9, resume));
        let before = aws.queues.requests().snapshot();
        let (left, results) = worker.resend_unjudged(records, &throttled(), &Default::default()).await;
        let requests = aws.queues.requests().since(&before);
        assert_eq!(requests.get("SQS:SendMessageBatch"), Some(&1), "{requests:?}");
        assert_eq!(requests.get("SQS:SendMessage"), None, "{requests:?}");
        assert_eq!(left.iter().map(|r| r.message_id.clone()).collect::<Vec<_>>(), [Some("m9".to_owned())]);
        assert!(results.len() == 9 && results.iter().all(|(_, d, _)| *d == Disposition::Ack));
        let sent = sent(&aws.queues, &aws);
        assert!(sent.len() == 9 && sent.iter().all(|e| e.again == 1), "{sent:?}");
    }
}
