//! The message-queue port over `aws_sdk_sqs`: fields in, fields out, and each service error
//! sorted by its type into transient or refused.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchError;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::ports::queue::{
    BatchEntry, EntryFailure, MessageQueue, NewMessage, QueueDepth, QueueError, Receive, Received, Refusal,
};

/// SQS through the SDK.
#[derive(Debug, Clone)]
pub struct SqsMessageQueue {
    client: Client,
}

impl SqsMessageQueue {
    pub fn new(client: Client) -> Self {
        SqsMessageQueue { client }
    }
}

/// What a service error means for the caller.
enum Kind {
    Transient,
    Refused(Refusal),
}

/// A failed SDK call as a [`QueueError`]: no answer or a server error is transient; a client
/// error is whatever `kind` says of it.
fn sdk_error<E>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
    kind: impl FnOnce(&E) -> Kind,
) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let class = match &err {
        SdkError::ServiceError(ctx) if ctx.raw().status().is_server_error() => Kind::Transient,
        SdkError::ServiceError(ctx) => kind(ctx.err()),
        SdkError::ConstructionFailure(_) => Kind::Refused(Refusal::InvalidRequest),
        _ => Kind::Transient,
    };
    let source = crate::adapters::aws::with_context(err.into());
    match class {
        Kind::Transient => QueueError::Transient { operation, source },
        Kind::Refused(refusal) => QueueError::Refused { operation, refusal, source },
    }
}

fn build_error(operation: &'static str, err: impl Into<crate::ports::queue::BoxError>) -> QueueError {
    QueueError::refused(operation, Refusal::InvalidRequest, err)
}

/// How one operation's typed errors sort: the checks that mean "throttled, try later", then each
/// check with the refusal it means; anything else is an invalid request.
macro_rules! error_kinds {
    ($name:ident($error:ty): transient $($t:ident)|+ $(, $check:ident => $refusal:ident)* $(,)?) => {
        fn $name(e: &$error) -> Kind {
            if false $(|| e.$t())+ {
                return Kind::Transient;
            }
            $(if e.$check() {
                return Kind::Refused(Refusal::$refusal);
            })*
            Kind::Refused(Refusal::InvalidRequest)
        }
    };
}

error_kinds!(send_kind(SendMessageError): transient is_request_throttled | is_kms_throttled,
    is_queue_does_not_exist => NoSuchQueue,
    is_invalid_message_contents => InvalidContents,
);

error_kinds!(send_batch_kind(SendMessageBatchError): transient is_request_throttled | is_kms_throttled,
    is_queue_does_not_exist => NoSuchQueue,
    is_too_many_entries_in_batch_request => TooManyEntries,
    is_batch_entry_ids_not_distinct => DuplicateEntryIds,
    is_empty_batch_request => EmptyBatch,
    is_invalid_batch_entry_id => InvalidEntryId,
    is_batch_request_too_long => BatchTooLong,
);

// OverLimit: too many messages in flight; deletes elsewhere make room again.
error_kinds!(receive_kind(ReceiveMessageError): transient is_request_throttled | is_kms_throttled | is_over_limit,
    is_queue_does_not_exist => NoSuchQueue,
);

error_kinds!(visibility_kind(ChangeMessageVisibilityError): transient is_request_throttled,
    is_queue_does_not_exist => NoSuchQueue,
    is_receipt_handle_is_invalid => InvalidReceipt,
    is_message_not_inflight => NotInFlight,
);

error_kinds!(visibility_batch_kind(ChangeMessageVisibilityBatchError): transient is_request_throttled,
    is_too_many_entries_in_batch_request => TooManyEntries,
    is_batch_entry_ids_not_distinct => DuplicateEntryIds,
    is_empty_batch_request => EmptyBatch,
    is_invalid_batch_entry_id => InvalidEntryId,
);

error_kinds!(delete_kind(DeleteMessageBatchError): transient is_request_throttled,
    is_queue_does_not_exist => NoSuchQueue,
    is_too_many_entries_in_batch_request => TooManyEntries,
    is_batch_entry_ids_not_distinct => DuplicateEntryIds,
    is_empty_batch_request => EmptyBatch,
    is_invalid_batch_entry_id => InvalidEntryId,
);

error_kinds!(attributes_kind(GetQueueAttributesError): transient is_request_throttled,
    is_queue_does_not_exist => NoSuchQueue,
);

/// Batch failures by their position in the request, the entry ids being those positions or
/// looked up in `ids`.
fn entry_failures(failed: &[BatchResultErrorEntry], ids: &[&str]) -> Vec<EntryFailure> {
    failed
        .iter()
        .map(|f| EntryFailure {
            index: ids.iter().position(|id| *id == f.id()).unwrap_or(usize::MAX),
            code: f.code().to_owned(),
            message: f.message().unwrap_or_default().to_owned(),
            sender_fault: f.sender_fault(),
        })
        .collect()
}

fn received(m: &Message) -> Received {
    let system = |name: &MessageSystemAttributeName| m.attributes().and_then(|a| a.get(name));
    Received {
        message_id: m.message_id().unwrap_or_default().to_owned(),
        receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
        body: m.body().unwrap_or_default().to_owned(),
        receive_count: system(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        // Epoch milliseconds.
        sent_at: system(&MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok())
            .and_then(chrono::DateTime::from_timestamp_millis),
        attributes: m
            .message_attributes()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_owned())))
            .collect(),
    }
}

impl SqsMessageQueue {
    async fn attributes(
        &self,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<std::collections::HashMap<QueueAttributeName, String>, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error("GetQueueAttributes", e, attributes_kind))?;
        Ok(out.attributes().cloned().unwrap_or_default())
    }
}

#[async_trait::async_trait]
impl MessageQueue for SqsMessageQueue {
    async fn send(&self, url: &str, message: &NewMessage) -> Result<String, QueueError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .delay_seconds(message.delay_seconds);
        for (name, value) in &message.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| build_error("SendMessage", e))?;
            request = request.message_attributes(name, value);
        }
        let out = request.send().await.map_err(|e| sdk_error("SendMessage", e, send_kind))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    async fn send_batch(&self, url: &str, entries: &[BatchEntry]) -> Result<Vec<EntryFailure>, QueueError> {
        let request_entries = entries
            .iter()
            .map(|entry| {
                SendMessageBatchRequestEntry::builder()
                    .id(&entry.id)
                    .message_body(&entry.body)
                    .delay_seconds(entry.delay_seconds)
                    .build()
                    .map_err(|e| build_error("SendMessageBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(request_entries))
            .send()
            .await
            .map_err(|e| sdk_error("SendMessageBatch", e, send_batch_kind))?;
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        Ok(entry_failures(out.failed(), &ids))
    }

    async fn receive(&self, url: &str, request: &Receive) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(request.max)
            .wait_time_seconds(request.wait_seconds)
            .set_visibility_timeout(request.visibility)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error("ReceiveMessage", e, receive_kind))?;
        Ok(out.messages().iter().map(received).collect())
    }

    async fn change_visibility(&self, url: &str, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| sdk_error("ChangeMessageVisibility", e, visibility_kind))?;
        Ok(())
    }

    async fn change_visibility_batch(
        &self,
        url: &str,
        receipts: &[String],
        seconds: i32,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let ids: Vec<String> = (0..receipts.len()).map(|i| i.to_string()).collect();
        let entries = receipts
            .iter()
            .zip(&ids)
            .map(|(receipt, id)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(id)
                    .receipt_handle(receipt)
                    .visibility_timeout(seconds)
                    .build()
                    .map_err(|e| build_error("ChangeMessageVisibilityBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("ChangeMessageVisibilityBatch", e, visibility_batch_kind))?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        Ok(entry_failures(out.failed(), &ids))
    }

    async fn delete_batch(&self, url: &str, receipts: &[String]) -> Result<Vec<EntryFailure>, QueueError> {
        let ids: Vec<String> = (0..receipts.len()).map(|i| i.to_string()).collect();
        let entries = receipts
            .iter()
            .zip(&ids)
            .map(|(receipt, id)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(id)
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|e| build_error("DeleteMessageBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessageBatch", e, delete_kind))?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        Ok(entry_failures(out.failed(), &ids))
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let attributes = self.attributes(url, &names).await?;
        let count =
            |name: &QueueAttributeName| attributes.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth { visible: count(&names[0]), in_flight: count(&names[1]), delayed: count(&names[2]) })
    }

    async fn arn(&self, url: &str) -> Result<String, QueueError> {
        let attributes = self.attributes(url, &[QueueAttributeName::QueueArn]).await?;
        attributes
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .ok_or_else(|| QueueError::transient("GetQueueAttributes", "the answer has no QueueArn"))
    }
}

impl crate::queue::TierQueues {
    /// The tier queues (or, over DLQ URLs, their dead-letter queues) on SQS.
    pub fn new(client: Client, urls: crate::PerTier<String>) -> Self {
        Self::with_port(std::sync::Arc::new(SqsMessageQueue::new(client)), urls)
    }
}
