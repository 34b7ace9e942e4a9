//! What Lambda's SQS event source mapping does, for the local poller and the tests: receive
//! messages, hand them to the worker as an `SqsEvent`, delete the ones not reported as failures.

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::sqs::{
    BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute,
};
use tracing::warn;

use crate::domain::priority::PriorityTier;
use crate::queue::{QueueError, Received, TierQueues};

/// The record attribute Lambda's event carries a message's send time in (epoch milliseconds).
pub const SENT_TIMESTAMP: &str = "SentTimestamp";

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
pub fn sqs_event(messages: &[Received], arn: &str, region: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = Some(m.message_id.clone());
            record.receipt_handle = Some(m.receipt_handle.clone());
            record.body = Some(m.body.clone());
            let mut attributes =
                HashMap::from([("ApproximateReceiveCount".to_owned(), m.receive_count.to_string())]);
            if let Some(sent) = m.sent_at {
                // Epoch milliseconds, as Lambda passes it.
                attributes.insert(SENT_TIMESTAMP.to_owned(), sent.timestamp_millis().to_string());
            }
            record.attributes = attributes;
            record.message_attributes = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    let mut attribute = SqsMessageAttribute::default();
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

/// What the event source mapping does until no tier queue has a visible message: batches of 10
/// from each tier to `worker`, in tier order. Returns how many messages were received. For tests
/// and the simulation, where the queues are in memory and nothing arrives meanwhile.
pub async fn drain(queues: &TierQueues, worker: &super::Worker) -> Result<usize, QueueError> {
    let mut received = 0;
    for tier in PriorityTier::ALL {
        let arn = queues.arn(tier).await?;
        loop {
            let polled = poll_once(queues, tier, &arn, 10, 0, |event| worker.handle(event, None)).await?;
            if polled.received == 0 {
                break;
            }
            received += polled.received;
        }
    }
    Ok(received)
}

/// One round of what Lambda's SQS event source mapping does: receive up to `max` messages,
/// hand them to `handler` as an `SqsEvent`, delete those not reported as failures.
pub async fn poll_once<F, Fut>(
    queue: &TierQueues,
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
    queue: &TierQueues,
    tier: PriorityTier,
    arn: &str,
    messages: &[Received],
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
    let failed: HashSet<&str> =
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
    fn an_event_carries_each_message_as_lambda_would_deliver_it() {
        let received = Received {
            message_id: "m1".into(),
            receipt_handle: "r1".into(),
            body: "{}".into(),
            receive_count: 3,
            attributes: HashMap::from([("jobq-reason".to_owned(), "fatal_error".to_owned())]),
            sent_at: chrono::DateTime::from_timestamp_millis(1_800_000_000_123),
        };
        let event = sqs_event(&[received], "arn:aws:sqs:us-east-1:1:jobq-high", "local");
        let [record] = event.records.as_slice() else { panic!("one record: {event:?}") };
        assert_eq!(record.message_id.as_deref(), Some("m1"));
        assert_eq!(record.receipt_handle.as_deref(), Some("r1"));
        assert_eq!(record.body.as_deref(), Some("{}"));
        assert_eq!(record.attributes["ApproximateReceiveCount"], "3");
        assert_eq!(record.attributes["SentTimestamp"], "1800000000123");
        let reason = &record.message_attributes["jobq-reason"];
        assert_eq!(reason.string_value.as_deref(), Some("fatal_error"));
        assert_eq!(reason.data_type.as_deref(), Some("String"));
        assert_eq!(record.event_source_arn.as_deref(), Some("arn:aws:sqs:us-east-1:1:jobq-high"));
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    }

    #[test]
    fn a_batch_response_names_exactly_the_failed_messages() {
        let response = batch_response(["m2".to_owned(), "m5".to_owned()]);
        let ids: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["m2", "m5"]);
        assert!(batch_response(Vec::new()).batch_item_failures.is_empty());
    }
}
