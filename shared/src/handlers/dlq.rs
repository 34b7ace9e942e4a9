//! Dead letters: make sure every job whose message reached a DLQ is recorded `failed`, with why.
//!
//! Messages arrive two ways: sent by the worker (with a reason attribute, the job usually already
//! `failed`), or moved by SQS's redrive policy after too many receives (the worker kept dying).
//! Idempotent: a job already terminal is left as it is.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::{error, info, warn};

use crate::envelope::Envelope;
use crate::model::JobFailure;
use crate::queue::REASON_ATTRIBUTE;
use crate::status::JobStatus;
use crate::store::{Conflict, DynamoJobStore, StoreError};
use crate::worker::DeadLetterReason;

/// The reason of a message SQS moved by itself (no reason attribute).
pub const REDRIVE_REASON: &str = "redriven_after_max_receives";

#[derive(Debug, Clone)]
pub struct DeadLetterHandler {
    store: DynamoJobStore,
    clock: std::sync::Arc<dyn crate::ports::clock::Clock>,
}

/// What became of one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterOutcome {
    /// The job was not terminal and is now `failed`.
    RecordedFailed { job_id: String },
    /// Already terminal (the worker recorded it first).
    AlreadyTerminal { job_id: String, status: JobStatus },
    /// Not an envelope, or no such job: nothing to record beyond the log line.
    Unrecordable { reason: String },
    /// The letter is from an earlier generation (the job was retried since): the job's new life
    /// is left alone.
    Stale { job_id: String, delivered: u64, current: u64 },
}

impl DeadLetterHandler {
    pub fn new(store: DynamoJobStore) -> Self {
        DeadLetterHandler { store, clock: crate::ports::clock::system() }
    }

    /// The handler on `ports` (its store and clock).
    pub fn from_ports(ports: &crate::wiring::Ports) -> Self {
        DeadLetterHandler { store: ports.store.clone(), clock: ports.clock.clone() }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let results: Vec<(String, Result<DeadLetterOutcome, StoreError>)> =
            futures::stream::iter(event.records)
                .map(|record: SqsMessage| async move {
                    let result = self.record(&record).await;
                    (record.message_id.unwrap_or_default(), result)
                })
                .buffer_unordered(10)
                .collect()
                .await;
        let failed = results.into_iter().filter_map(|(message_id, result)| match result {
            Ok(_) => None,
            Err(err) => {
                error!(error = %err, message_id, "could not record a dead letter; it will be retried");
                Some(message_id)
            }
        });
        crate::worker::batch_response(failed)
    }

    pub async fn record(&self, record: &SqsMessage) -> Result<DeadLetterOutcome, StoreError> {
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
                Ok(DeadLetterOutcome::AlreadyTerminal { job_id, status: from })
            }
            Err(StoreError::Conflict {
                reason: Conflict::StaleGeneration { delivered, current }, ..
            }) => {
                info!(dead_letter = true, job_id = %job_id, delivered, current, reason = %reason, "dead letter: from before a retry, ignored");
                Ok(DeadLetterOutcome::Stale { job_id, delivered, current })
            }
            Err(StoreError::NotFound { .. }) => {
                warn!(dead_letter = true, job_id = %job_id, reason = %reason, "dead letter: no such job");
                Ok(DeadLetterOutcome::Unrecordable { reason })
            }
            Err(err) => Err(err),
        }
    }
}
