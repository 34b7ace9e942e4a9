//! Dead letters: make sure every job whose message reached a DLQ is recorded `failed`, with why.
//!
//! Messages arrive two ways: sent by the worker (with a reason attribute, the job usually already
//! `failed`), or moved by SQS's redrive policy after too many receives (the worker kept dying).
//! Idempotent: a job already terminal is left as it is; but a completed job's letter goes back to
//! its tier queue, where the worker makes the job's pipeline step if that is missing (its send
//! failed, and this message ran out of receives before it came back to make it: see
//! `handlers::enqueue`). The worker, not this handler, makes steps: it holds the rights to
//! create and take back jobs, and this function needs only to update them.
//!
//! A letter whose job cannot be recorded now comes back sooner than the DLQ's visibility timeout
//! (90 minutes), by changing its visibility: a DLQ has no redrive policy, so its receive count
//! does not matter, and one request per letter is fewer than re-sending it and deleting the old.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::{error, info, warn};

use crate::domain::envelope::Envelope;
use crate::domain::model::JobFailure;
use crate::domain::priority::{PerTier, PriorityTier};
use crate::domain::status::JobStatus;
use crate::handlers::worker::{DeadLetterReason, queue_name};
use crate::ports::Clock;
use crate::ports::queue::QueueError;
use crate::queue::{REASON_ATTRIBUTE, TierQueues};
use crate::store::{Conflict, DynamoJobStore, StoreError};

/// The reason of a message SQS moved by itself (no reason attribute).
pub const REDRIVE_REASON: &str = "redriven_after_max_receives";

/// A letter whose job could not be recorded because DynamoDB throttled or failed comes back after
/// this long: such failures pass, and the job stays open until the letter is recorded.
pub const TRANSIENT_RETRY_SECONDS: i32 = 10;

/// A letter whose write DynamoDB refused as such (access denied, an item over 400 KB) comes back
/// after this long: sending it again fails again until someone fixes the cause, so trying every
/// few seconds would only repeat the error; every 15 minutes costs a few requests an hour and
/// records the job soon after a fix.
pub const REFUSED_RETRY_SECONDS: i32 = 900;

#[derive(Debug, Clone)]
pub struct DeadLetterHandler {
    store: DynamoJobStore,
    /// The tier queues, where a completed job's letter goes back (see [`DeadLetterHandler::record`]).
    queues: TierQueues,
    clock: Arc<dyn Clock>,
    /// The DLQs it consumes, to bring a letter back early; without them a letter that could not
    /// be recorded waits out the queue's visibility timeout.
    dlqs: Option<DeadLetterQueues>,
}

#[derive(Debug, Clone)]
struct DeadLetterQueues {
    queues: TierQueues,
    /// Each tier's DLQ name, to know a record's queue from its event source ARN.
    names: PerTier<String>,
}

/// Why a dead letter could not be handled now; it comes back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A completed job's letter could not be sent back to its tier queue.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl RecordError {
    /// The same letter may be handled later (throttled, unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            RecordError::Store(err) => err.is_transient(),
            RecordError::Queue(err) => err.is_transient(),
        }
    }
}

/// What became of one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterOutcome {
    /// The job was not terminal and is now `failed`.
    RecordedFailed { job_id: String },
    /// Already terminal (the worker recorded it first).
    AlreadyTerminal { job_id: String, status: JobStatus },
    /// Completed: the letter went back to its tier queue, for the worker to make the job's next
    /// pipeline step if it is missing.
    SentBack { job_id: String },
    /// Not an envelope, or no such job: nothing to record beyond the log line.
    Unrecordable { reason: String },
    /// The letter is from an earlier generation (the job was retried since): the job's new life
    /// is left alone.
    Stale { job_id: String, delivered: u64, current: u64 },
    /// A run holds the job under a live lease: the letter was a copy of its message (a
    /// duplicate, a resend), not a crash loop, and the run records the job's outcome.
    RunAlive { job_id: String },
    /// The job waits parked while paused (its deliveries were dropped, and a copy a delete missed
    /// came back until SQS moved it): the scheduler sends it a message on resume.
    Parked { job_id: String },
    /// The job is still queued, never run: its message reached the DLQ by Lambda's throttles or
    /// a missed delete (each counts a receive), not by the job. The lost-message walk sends it a
    /// message again.
    NeverRan { job_id: String },
}

impl DeadLetterHandler {
    /// Recording dead letters' jobs in `store`, at times from `clock`; a completed job's letter
    /// goes back to the tier `queues` (see [`DeadLetterHandler::record`]).
    pub fn new(store: DynamoJobStore, queues: TierQueues, clock: Arc<dyn Clock>) -> Self {
        DeadLetterHandler { store, queues, clock, dlqs: None }
    }

    /// The same handler, bringing letters it could not record back early on `dlqs` (the queues
    /// its records come from).
    pub fn with_dead_letter_queues(mut self, dlqs: TierQueues) -> Self {
        let names = PerTier::from_fn(|tier| queue_name(dlqs.url(tier)).to_owned());
        self.dlqs = Some(DeadLetterQueues { queues: dlqs, names });
        self
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let failed: Vec<String> = futures::stream::iter(event.records)
            .map(|record: SqsMessage| async move {
                let err = self.record(&record).await.err()?;
                let job_id = Envelope::decode(record.body.as_deref().unwrap_or_default()).map(|e| e.id).ok();
                let message_id = record.message_id.clone().unwrap_or_default();
                let wait = if err.is_transient() {
                    warn!(error = %err, job_id, message_id, retry_in_seconds = TRANSIENT_RETRY_SECONDS, "could not record a dead letter; it will be retried");
                    TRANSIENT_RETRY_SECONDS
                } else {
                    error!(error = %err, job_id, message_id, retry_in_seconds = REFUSED_RETRY_SECONDS, "could not record a dead letter; it will be retried");
                    REFUSED_RETRY_SECONDS
                };
                self.come_back_after(&record, wait).await;
                Some(message_id)
            })
            .buffer_unordered(10)
            .filter_map(std::future::ready)
            .collect()
            .await;
        crate::handlers::worker::batch_response(failed)
    }

    /// Best effort: without it the letter returns after the DLQ's visibility timeout.
    async fn come_back_after(&self, record: &SqsMessage, seconds: i32) {
        let Some(dlqs) = &self.dlqs else { return };
        let tier = record.event_source_arn.as_deref().and_then(|arn| dlqs.tier_of_arn(arn));
        let (Some(tier), Some(receipt)) = (tier, record.receipt_handle.as_deref()) else {
            warn!(arn = ?record.event_source_arn, "dead letter from a queue not known as a DLQ; it returns after its visibility timeout");
            return;
        };
        if let Err(err) = dlqs.queues.change_visibility(tier, receipt, seconds).await {
            warn!(error = %err, "could not set the dead letter's visibility; it returns after the queue's timeout");
        }
    }

    /// Record the letter's job `failed`, unless it ended (or a run, a pause or the lost-message
    /// walk is in charge of it). A completed job's letter goes back to its tier queue: its next
    /// step, if missing, is made by whoever handles the job's message once it completed, and
    /// without this the message would come no more. One request, for a rare letter: the
    /// worker's answer (acknowledged, the step made) costs less than reading the job here.
    pub async fn record(&self, record: &SqsMessage) -> Result<DeadLetterOutcome, RecordError> {
        let reason = record
            .message_attributes
            .get(REASON_ATTRIBUTE)
            .and_then(|a| a.string_value.clone())
            .unwrap_or_else(|| REDRIVE_REASON.to_owned());
        let body = record.body.as_deref().unwrap_or_default();
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(err) => {
                // One JSON line per dead letter: the metric filter / alarm counts these.
                warn!(dead_letter = true, reason = %reason, error = %err, "dead letter: not a job envelope");
                return Ok(DeadLetterOutcome::Unrecordable { reason });
            }
        };
        let job_id = envelope.id.clone();
        if reason == DeadLetterReason::MissingRecord.as_str() {
            // There was no record when the worker looked (e.g. an enqueue rolled back after its
            // message went out). A job with this id now is a later one (the client's retry with
            // the same idempotency key), with a message of its own: it is not this letter's.
            warn!(dead_letter = true, job_id = %job_id, reason = %reason, "dead letter: no record at delivery");
            return Ok(DeadLetterOutcome::Unrecordable { reason });
        }
        let failure = JobFailure {
            message: match reason.as_str() {
                REDRIVE_REASON => {
                    "the message was received too many times without finishing (worker crashes or timeouts)"
                        .to_owned()
                }
                r if r == DeadLetterReason::CrashedRepeatedly.as_str() => {
                    "the worker died during every attempt".to_owned()
                }
                other => format!("dead-lettered: {other}"),
            },
            details: Some(serde_json::json!({ "reason": reason, "dead_letter": true })),
        };
        match self.store.fail_generation(&job_id, envelope.generation, &failure, self.clock.now()).await {
            Ok(_) => {
                warn!(dead_letter = true, job_id = %job_id, job_type = %envelope.job_type, queue = %envelope.tier, reason = %reason, "dead letter: job recorded failed");
                Ok(DeadLetterOutcome::RecordedFailed { job_id })
            }
            Err(StoreError::InvalidTransition { from, .. }) => {
                info!(dead_letter = true, job_id = %job_id, status = %from, reason = %reason, "dead letter: job already terminal");
                if from == JobStatus::Completed {
                    self.queues.send(&envelope, 0).await?;
                    return Ok(DeadLetterOutcome::SentBack { job_id });
                }
                Ok(DeadLetterOutcome::AlreadyTerminal { job_id, status: from })
            }
            Err(StoreError::Conflict {
                reason: Conflict::StaleGeneration { delivered, current }, ..
            }) => {
                info!(dead_letter = true, job_id = %job_id, delivered, current, reason = %reason, "dead letter: from before a retry, ignored");
                Ok(DeadLetterOutcome::Stale { job_id, delivered, current })
            }
            Err(StoreError::Conflict { reason: Conflict::LeaseHeld { until }, .. }) => {
                warn!(dead_letter = true, job_id = %job_id, lease_until = %until, reason = %reason, "dead letter: a run holds the job; left to it");
                Ok(DeadLetterOutcome::RunAlive { job_id })
            }
            Err(StoreError::Conflict { reason: Conflict::NeverRan, .. }) => {
                warn!(dead_letter = true, job_id = %job_id, reason = %reason, "dead letter: the job never ran; left queued for the lost-message walk");
                Ok(DeadLetterOutcome::NeverRan { job_id })
            }
            Err(StoreError::Conflict { reason: Conflict::Parked, .. }) => {
                warn!(dead_letter = true, job_id = %job_id, reason = %reason, "dead letter: the job waits parked; left to the resume");
                Ok(DeadLetterOutcome::Parked { job_id })
            }
            Err(StoreError::NotFound { .. }) => {
                warn!(dead_letter = true, job_id = %job_id, reason = %reason, "dead letter: no such job");
                Ok(DeadLetterOutcome::Unrecordable { reason })
            }
            Err(err) => Err(err.into()),
        }
    }
}

impl DeadLetterQueues {
    /// The tier whose DLQ an event source ARN names (its last part is the queue name).
    fn tier_of_arn(&self, arn: &str) -> Option<PriorityTier> {
        let name = arn.rsplit(':').next()?;
        self.names.iter().find(|(_, n)| n.as_str() == name).map(|(tier, _)| tier)
    }
}
