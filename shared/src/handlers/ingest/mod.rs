//! S3 uploads become jobs: `ObjectCreated` notifications arrive on the ingest queue, routing rules
//! pick the job type, and what names the upload ([`CreatedObject::upload`]: its version, else S3's
//! sequencer) makes the job id, so a notification delivered twice creates one job and the same
//! bytes uploaded again another.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::{error, info, warn};

use crate::handlers::service::{JobService, ServiceError};
use crate::queue::NewMessage;

mod notification;
mod rules;

pub use notification::{CreatedObject, Notification, NotificationError, decode_key};
pub use rules::{IngestRule, IngestRules};

pub use crate::resources::UPLOADS_PREFIX;

/// The message attribute counting how often AWS failed a notification sent back, for its wait.
pub const AGAIN_ATTRIBUTE: &str = "jobq-again";
/// The wait after AWS first failed a notification; it doubles each time after, up to the cap:
/// minutes, not the ingest queue's 90-minute visibility.
const AGAIN_FIRST_SECONDS: i32 = 10;
const AGAIN_CAP_SECONDS: i32 = 300;
/// A refused request comes back after this (it will most likely be refused again).
const REFUSED_WAIT_SECONDS: i32 = 900;

/// The wait of a notification AWS failed `again` times before.
fn wait_after(again: u32) -> i32 {
    AGAIN_FIRST_SECONDS.saturating_mul(1 << again.min(10)).min(AGAIN_CAP_SECONDS)
}

/// Whether the same request may succeed later (throttled, unavailable, no answer).
fn may_pass(err: &ServiceError) -> bool {
    match err {
        ServiceError::Store(err) => err.is_transient(),
        ServiceError::Queue(err) => matches!(err, crate::queue::QueueError::Transient { .. }),
        ServiceError::Unavailable { .. } => true,
        ServiceError::BatchIncomplete(_) | ServiceError::BatchNotFound(_) | ServiceError::Refused { .. } => {
            false
        }
    }
}

/// The ingest function's handler.
#[derive(Debug, Clone)]
pub struct IngestHandler {
    service: JobService,
    rules: IngestRules,
    /// Where undecodable notifications go, with their reason (the ingest queue's DLQ).
    dead_letters: Option<(std::sync::Arc<dyn crate::queue::MessageQueue>, String)>,
    /// The ingest queue itself: a notification AWS kept from becoming jobs is sent back there.
    returns: Option<(std::sync::Arc<dyn crate::queue::MessageQueue>, String)>,
}

impl IngestHandler {
    /// The handler making jobs through `service` by `rules`, with its dead-letter queue on any
    /// queue port (none: poison is logged only).
    pub fn new(
        service: JobService,
        rules: IngestRules,
        dead_letters: Option<(std::sync::Arc<dyn crate::queue::MessageQueue>, String)>,
    ) -> Self {
        IngestHandler { service, rules, dead_letters, returns: None }
    }

    /// The same handler, sending a notification AWS failed (throttled, unavailable) back to
    /// `url`, the ingest queue, to be tried again within minutes.
    pub fn returning_to(
        mut self,
        queue: std::sync::Arc<dyn crate::queue::MessageQueue>,
        url: String,
    ) -> Self {
        self.returns = Some((queue, url));
        self
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
        crate::handlers::worker::batch_response(results.into_iter().filter(|(_, ok)| !ok).map(|(id, _)| id))
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
        // Uploads whose job the deployment refuses (its payload does not fit the rule's type):
        // the notification goes to the DLQ with why, once the others became jobs.
        let mut refused = Vec::new();
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
                Err(ServiceError::Refused { refusal, .. }) => {
                    error!(error = %refusal, key = %object.key, "the upload cannot become a job");
                    refused.push(format!("s3://{}/{}: {refusal}", object.bucket, object.key));
                }
                Err(err) => {
                    warn!(error = %err, key = %object.key, "could not enqueue the upload");
                    return self.again(record, &err).await;
                }
            }
        }
        if !refused.is_empty() {
            return self.dead_letter(body, &format!("invalid_job: {}", refused.join("; "))).await;
        }
        true
    }

    /// AWS kept `record`'s uploads from becoming jobs. A failure that may pass (throttled,
    /// unavailable) sends the notification back as a fresh message, delayed by a wait that
    /// doubles each time, as the worker does: its receive count starts again, so no throttle,
    /// however long, walks it to the DLQ. A refusal, or a failed send, brings the original back
    /// after the wait instead of the queue's 90-minute visibility (a refusal every time reaches
    /// the DLQ after maxReceiveCount receives). `true` when the original is done with.
    async fn again(&self, record: &SqsMessage, err: &ServiceError) -> bool {
        let Some((queue, url)) = &self.returns else { return false };
        let again = record
            .message_attributes
            .get(AGAIN_ATTRIBUTE)
            .and_then(|a| a.string_value.as_deref())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        let passing = may_pass(err);
        let wait = if passing { wait_after(again) } else { REFUSED_WAIT_SECONDS };
        if passing {
            let body = record.body.as_deref().unwrap_or_default();
            let message =
                NewMessage::new(body, wait).with_attribute(AGAIN_ATTRIBUTE, (again + 1).to_string());
            match queue.send(url, &message).await {
                Ok(_) => {
                    warn!(retry_in_seconds = wait, failed_before = again, "the notification is sent again");
                    return true;
                }
                Err(send) => {
                    warn!(error = %send, "could not send the notification again; it comes back instead")
                }
            }
        }
        warn!(retry_in_seconds = wait, "the notification will return");
        if let Some(receipt) = record.receipt_handle.as_deref()
            && let Err(err) = queue.change_visibility(url, receipt, wait).await
        {
            warn!(error = %err, "could not set the notification's visibility; it returns after the queue's timeout");
        }
        false
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::adapters::memory::QueueSettings;
    use crate::ports::{Clock, ManualClock};
    use crate::queue::{MessageQueue, NewMessage, Receive, Received};

    const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobq-ingest";

    /// The messages of `url` visible within `limit`, the clock moved on in 10 s steps to find them.
    async fn visible_within(
        port: &dyn MessageQueue,
        url: &str,
        clock: &ManualClock,
        limit: chrono::Duration,
    ) -> Vec<Received> {
        let started = clock.now();
        loop {
            let got = port.receive(url, &Receive::new(10, 0, None)).await.expect("receive");
            if !got.is_empty() || clock.now() - started >= limit {
                return got;
            }
            clock.advance(chrono::Duration::seconds(10));
        }
    }

    /// Run `messages` through `handler` as the event source mapping does: delete what succeeded.
    async fn deliver(handler: &IngestHandler, port: &dyn MessageQueue, url: &str, messages: &[Received]) {
        let response = handler.handle(crate::handlers::worker::sqs_event(messages, ARN, "local")).await;
        let failed: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let done: Vec<String> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id.as_str()))
            .map(|m| m.receipt_handle.clone())
            .collect();
        if !done.is_empty() {
            port.delete_batch(url, &done).await.expect("delete");
        }
    }

    /// While the table throttles, the notification returns within minutes (not the queue's 90),
    /// however long the throttle lasts, and never reaches the ingest DLQ; once it ends, the job
    /// is made, once.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_notification_comes_back_soon_and_never_reaches_the_dlq() {
        let clock = ManualClock::new(chrono::Utc::now());
        let (ports, memory) = crate::Ports::memory(Arc::new(clock.clone())).expect("memory ports");
        // As the template makes them: a 90-minute visibility, the DLQ after five receives.
        let dlq = memory.queues.create_queue("jobq-ingest-dlq", QueueSettings::new(5400)).expect("dlq");
        let settings = QueueSettings::new(5400).with_redrive(dlq.clone(), 5);
        let ingest = memory.queues.create_queue("jobq-ingest", settings).expect("queue");
        let port: Arc<dyn MessageQueue> = memory.queues.clone();
        let service =
            ports.service(&memory.config, crate::domain::task::Registry::with_builtins().job_types());
        let rules = IngestRules::parse("T", r#"[{"type": "echo"}]"#).expect("rules");
        let handler = IngestHandler::new(service, rules, Some((port.clone(), dlq.clone())))
            .returning_to(port.clone(), ingest.clone());
        let object = json!({"key": "uploads/a.pdf", "size": 3, "eTag": "e1", "sequencer": "0A"});
        let body = json!({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-12-07T03:00:00.000Z",
            "s3": {"bucket": {"name": "b"}, "object": object}}]});
        port.send(&ingest, &NewMessage::new(body.to_string(), 0)).await.expect("notify");

        memory.table.set_throttled(true);
        for round in 0..8 {
            let got = visible_within(port.as_ref(), &ingest, &clock, chrono::Duration::minutes(10)).await;
            assert_eq!(got.len(), 1, "round {round}: the notification is back within 10 minutes");
            deliver(&handler, port.as_ref(), &ingest, &got).await;
        }
        memory.table.set_throttled(false);
        let got = visible_within(port.as_ref(), &ingest, &clock, chrono::Duration::minutes(10)).await;
        assert_eq!(got.len(), 1, "back once the throttle ended");
        deliver(&handler, port.as_ref(), &ingest, &got).await;
        assert_eq!(
            port.depth(&dlq).await.expect("depth"),
            crate::queue::QueueDepth::default(),
            "no dead letter"
        );
        let depth = port.depth(&ingest).await.expect("depth");
        assert_eq!(depth, crate::queue::QueueDepth::default(), "the notification is done with");
        let queued = ports.store.count(crate::JobStatus::Queued, None).await.expect("count");
        assert_eq!(queued, 1, "one job");
    }
}
