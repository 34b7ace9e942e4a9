//! S3 uploads become jobs: `ObjectCreated` notifications arrive on the ingest queue, routing rules
//! pick the job type, and the object's version (or ETag) makes the job id, so a notification
//! delivered twice creates one job.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::{error, info, warn};

use crate::service::{JobService, ServiceError};

mod notification;
mod rules;

pub use notification::{CreatedObject, Notification, NotificationError, decode_key};
pub use rules::{IngestRule, IngestRules};

/// The ingest function's handler.
#[derive(Debug, Clone)]
pub struct IngestHandler {
    service: JobService,
    rules: IngestRules,
    /// Where undecodable notifications go, with their reason (the ingest queue's DLQ).
    dead_letters: Option<(std::sync::Arc<dyn crate::queue::MessageQueue>, String)>,
}

impl IngestHandler {
    pub fn new(
        service: JobService,
        rules: IngestRules,
        sqs: aws_sdk_sqs::Client,
        dlq_url: Option<String>,
    ) -> Self {
        let port: std::sync::Arc<dyn crate::queue::MessageQueue> =
            std::sync::Arc::new(crate::queue::SqsMessageQueue::new(sqs));
        Self::with_dead_letters(service, rules, dlq_url.map(|url| (port, url)))
    }

    /// The handler with its dead-letter queue on any queue port (none: poison is logged only).
    pub fn with_dead_letters(
        service: JobService,
        rules: IngestRules,
        dead_letters: Option<(std::sync::Arc<dyn crate::queue::MessageQueue>, String)>,
    ) -> Self {
        IngestHandler { service, rules, dead_letters }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let results: Vec<(String, bool)> = futures::stream::iter(event.records)
            .map(|record: SqsMessage| async move {
                let ok = self.record(&record).await;
                (record.message_id.unwrap_or_default(), ok)
            })
            .buffer_unordered(10)
            .collect()
            .await;
        crate::worker::batch_response(results.into_iter().filter(|(_, ok)| !ok).map(|(id, _)| id))
    }

    /// `true` when the message is done with (jobs created, or nothing to create).
    async fn record(&self, record: &SqsMessage) -> bool {
        let body = record.body.as_deref().unwrap_or_default();
        let objects = match Notification::parse(body) {
            Ok(Notification::Test) => {
                info!("S3 test event acknowledged");
                return true;
            }
            Ok(Notification::Objects(objects)) => objects,
            Err(err) => {
                error!(error = %err, "poison ingest message");
                return self.dead_letter(body, &format!("poison_message: {err}")).await;
            }
        };
        for object in objects {
            // The store's own objects (large payloads and results) share the bucket: never jobs.
            if object.key.starts_with(crate::store::BLOB_PREFIX) {
                continue;
            }
            let Some(rule) = self.rules.route(&object.bucket, &object.key) else {
                info!(bucket = %object.bucket, key = %object.key, "no ingest rule matches: skipped");
                continue;
            };
            match self.service.enqueue_once(object.job(rule)).await {
                Ok(Some(job)) => {
                    info!(job_id = %job.id, job_type = %job.job_type, key = %object.key, "upload enqueued")
                }
                Ok(None) => info!(key = %object.key, "upload already enqueued (duplicate notification)"),
                Err(ServiceError::Store(crate::store::StoreError::Corrupt { .. })) => {}
                Err(err) => {
                    warn!(error = %err, key = %object.key, "could not enqueue the upload; the notification will return");
                    return false;
                }
            }
        }
        true
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> bool {
        let Some((queue, url)) = &self.dead_letters else { return true };
        match crate::queue::send_reason(queue.as_ref(), url, body, reason).await {
            Ok(()) => true,
            Err(err) => {
                error!(error = %err, "could not reach the ingest DLQ; the message will return");
                false
            }
        }
    }
}
