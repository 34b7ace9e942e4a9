//! The SQS adapter: one standard queue per priority tier. Sends and deletes are batched ten to a
//! request, the most SQS takes.

use std::collections::HashSet;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::envelope::Envelope;
use crate::priority::{PerTier, PriorityTier};

/// SQS's limit on entries per batch request.
pub const SQS_BATCH_MAX: usize = 10;

#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} failed: {source}")]
pub struct QueueError {
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn aws(operation: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> QueueError {
    QueueError { operation, source: crate::aws::with_context(source.into()) }
}

/// One entry of a batch request that SQS refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// Position in the caller's slice.
    pub index: usize,
    pub code: String,
    pub message: String,
    /// SQS says the fault was the caller's: sending the same entry again will fail again.
    pub sender_fault: bool,
}

/// Approximate message counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A message as a poller or test receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    /// String message attributes (e.g. [`REASON_ATTRIBUTE`] on dead letters).
    pub attributes: std::collections::HashMap<String, String>,
}

/// Message attribute that says why a message was dead-lettered by the worker.
pub const REASON_ATTRIBUTE: &str = "jobq-reason";

/// The queues of the three tiers (or, built over DLQ URLs, their dead-letter queues).
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    client: Client,
    urls: PerTier<String>,
}

impl SqsJobQueue {
    pub fn new(client: Client, urls: PerTier<String>) -> Self {
        SqsJobQueue { client, urls }
    }

    pub fn url(&self, tier: PriorityTier) -> &str {
        self.urls.get(tier)
    }

    /// One envelope to its tier's queue, visible after `delay_seconds` (0..=900).
    pub async fn send(&self, envelope: &Envelope, delay_seconds: i32) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(self.url(envelope.tier))
            .message_body(envelope.encode())
            .delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| aws("SendMessage", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    /// Many envelopes, grouped by tier and sent ten to a request, the requests concurrently.
    /// Returns the entries SQS refused (empty when all were sent).
    pub async fn send_batch(&self, messages: &[(Envelope, i32)]) -> Result<Vec<EntryFailure>, QueueError> {
        let mut requests = Vec::new();
        for tier in PriorityTier::ALL {
            let indexes: Vec<usize> = (0..messages.len()).filter(|i| messages[*i].0.tier == tier).collect();
            for chunk in indexes.chunks(SQS_BATCH_MAX) {
                requests.push((tier, chunk.to_vec()));
            }
        }
        let failures: Vec<Vec<EntryFailure>> = futures::stream::iter(requests)
            .map(|(tier, indexes)| async move {
                let entries = indexes
                    .iter()
                    .map(|&i| {
                        let (envelope, delay) = &messages[i];
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(envelope.encode())
                            .delay_seconds(*delay)
                            .build()
                            .map_err(|e| aws("SendMessageBatch", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(self.url(tier))
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| aws("SendMessageBatch", e))?;
                Ok::<_, QueueError>(
                    out.failed()
                        .iter()
                        .map(|f| EntryFailure {
                            index: f.id().parse().unwrap_or(usize::MAX),
                            code: f.code().to_owned(),
                            message: f.message().unwrap_or_default().to_owned(),
                            sender_fault: f.sender_fault(),
                        })
                        .collect(),
                )
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        Ok(failures.into_iter().flatten().collect())
    }

    /// Put a message body (possibly not an envelope) on this tier's queue with the reason it is
    /// there; built over DLQ URLs, this is the worker's dead-letter path.
    pub async fn send_with_reason(
        &self,
        tier: PriorityTier,
        body: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        send_with_reason(&self.client, self.url(tier), body, reason).await
    }

    /// The queue's ARN, as Lambda event records carry it in `eventSourceARN`.
    pub async fn arn(&self, tier: PriorityTier) -> Result<String, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(tier))
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| aws("GetQueueAttributes", e))?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| aws("GetQueueAttributes", "no QueueArn"))
    }

    /// Long-poll up to `max` (1..=10) messages; `visibility` overrides the queue's timeout.
    pub async fn receive(
        &self,
        tier: PriorityTier,
        max: i32,
        wait_seconds: i32,
        visibility: Option<i32>,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(tier))
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds)
            .set_visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| aws("ReceiveMessage", e))?;
        Ok(out.messages().iter().map(received).collect())
    }

    /// Keep a message hidden for `seconds` more (a long job's heartbeat), or 0 to release it now.
    pub async fn change_visibility(
        &self,
        tier: PriorityTier,
        receipt: &str,
        seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(self.url(tier))
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| aws("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Delete messages ten to a request. The same receipt twice is sent once, so a duplicate
    /// delivery in one batch never trips `BatchEntryIdsNotDistinct`.
    pub async fn delete_batch(
        &self,
        tier: PriorityTier,
        receipts: &[String],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let mut seen = HashSet::new();
        let unique: Vec<(usize, &String)> =
            receipts.iter().enumerate().filter(|(_, r)| seen.insert(*r)).collect();
        let mut failures = Vec::new();
        for chunk in unique.chunks(SQS_BATCH_MAX) {
            let entries = chunk
                .iter()
                .map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .build()
                        .map_err(|e| aws("DeleteMessageBatch", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(self.url(tier))
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws("DeleteMessageBatch", e))?;
            failures.extend(out.failed().iter().map(|f| EntryFailure {
                index: f.id().parse().unwrap_or(usize::MAX),
                code: f.code().to_owned(),
                message: f.message().unwrap_or_default().to_owned(),
                sender_fault: f.sender_fault(),
            }));
        }
        Ok(failures)
    }

    pub async fn depth(&self, tier: PriorityTier) -> Result<QueueDepth, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(tier))
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| aws("GetQueueAttributes", e))?;
        let count = |name: QueueAttributeName| {
            out.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

/// Put `body` on the queue at `url` with the reason it is there (a dead-letter path).
pub async fn send_with_reason(
    client: &Client,
    url: &str,
    body: &str,
    reason: &str,
) -> Result<(), QueueError> {
    let attribute = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(reason)
        .build()
        .map_err(|e| aws("SendMessage", e))?;
    client
        .send_message()
        .queue_url(url)
        // SQS refuses empty bodies; keep the message (and its reason) anyway.
        .message_body(if body.is_empty() { "(empty body)" } else { body })
        .message_attributes(REASON_ATTRIBUTE, attribute)
        .send()
        .await
        .map_err(|e| aws("SendMessage", e))?;
    Ok(())
}

fn received(m: &Message) -> Received {
    Received {
        message_id: m.message_id().unwrap_or_default().to_owned(),
        receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
        body: m.body().unwrap_or_default().to_owned(),
        receive_count: m
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        attributes: m
            .message_attributes()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_owned())))
            .collect(),
    }
}
