//! The job queues: one standard queue per priority tier, over the message-queue port
//! ([`MessageQueue`]). Sends and deletes are batched ten to a request, the most SQS takes.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;

use crate::domain::envelope::Envelope;
use crate::domain::priority::{PerTier, PriorityTier};

pub use crate::ports::queue::{
    BatchEntry, EntryFailure, MessageQueue, NewMessage, QueueDepth, QueueError, Receive, Received, Refusal,
    SQS_BATCH_MAX,
};

/// Message attribute that says why a message was dead-lettered by the worker.
pub const REASON_ATTRIBUTE: &str = "jobq-reason";

/// The code of an entry whose whole SendMessageBatch request failed (no code of SQS's own).
pub const REQUEST_FAILED: &str = "RequestFailed";

/// What one SendMessageBatch request came to: its refused entries, or its error and the indexes
/// (into the caller's messages) it carried.
type SendResult = Result<Vec<EntryFailure>, (QueueError, Vec<usize>)>;

/// SQS refuses empty bodies; a dead letter keeps its place (and its reason) with this instead.
const EMPTY_BODY: &str = "(empty body)";

/// The queues of the three tiers (or, built over DLQ URLs, their dead-letter queues).
#[derive(Debug, Clone)]
pub struct TierQueues {
    port: Arc<dyn MessageQueue>,
    urls: PerTier<String>,
}

/// The name the tier queues had while they spoke to SQS directly.
pub type SqsJobQueue = TierQueues;

impl TierQueues {
    /// Over any message queue (SQS, or the in-memory queues of the adapters).
    pub fn with_port(port: Arc<dyn MessageQueue>, urls: PerTier<String>) -> Self {
        TierQueues { port, urls }
    }

    pub fn port(&self) -> &Arc<dyn MessageQueue> {
        &self.port
    }

    pub fn url(&self, tier: PriorityTier) -> &str {
        self.urls.get(tier)
    }

    /// One envelope to its tier's queue, visible after `delay_seconds` (0..=900).
    pub async fn send(&self, envelope: &Envelope, delay_seconds: i32) -> Result<String, QueueError> {
        let message = NewMessage::new(envelope.encode(), delay_seconds);
        self.port.send(self.url(envelope.tier), &message).await
    }

    /// Many envelopes, grouped by tier and sent ten to a request, the requests concurrently.
    /// Returns the entries SQS refused (empty when all were sent), `index` into `messages`; a
    /// request that failed whole fails the call, once every request has been answered.
    pub async fn send_batch(&self, messages: &[(Envelope, i32)]) -> Result<Vec<EntryFailure>, QueueError> {
        let mut failures = Vec::new();
        for request in self.send_requests(messages).await {
            failures.extend(request.map_err(|(err, _)| err)?);
        }
        Ok(failures)
    }

    /// As [`TierQueues::send_batch`], but a request that fails whole fails only its own entries,
    /// so the caller learns every message that may not have been sent (a request whose answer was
    /// lost may have been). Their failure is `sender_fault` when SQS refused the request itself:
    /// sending it again would fail again.
    pub async fn send_batch_settled(&self, messages: &[(Envelope, i32)]) -> Vec<EntryFailure> {
        let mut failures = Vec::new();
        for request in self.send_requests(messages).await {
            match request {
                Ok(refused) => failures.extend(refused),
                Err((err, indexes)) => failures.extend(indexes.into_iter().map(|index| EntryFailure {
                    index,
                    code: REQUEST_FAILED.to_owned(),
                    message: err.to_string(),
                    sender_fault: !err.is_transient(),
                })),
            }
        }
        failures.sort_by_key(|f| f.index);
        failures
    }

    /// One SendMessageBatch per ten messages of a tier, all answered (none abandoned half-way):
    /// each request's refused entries, or its error with the indexes it carried.
    async fn send_requests(&self, messages: &[(Envelope, i32)]) -> Vec<SendResult> {
        let mut requests = Vec::new();
        for tier in PriorityTier::ALL {
            let indexes: Vec<usize> = (0..messages.len()).filter(|i| messages[*i].0.tier == tier).collect();
            for chunk in indexes.chunks(SQS_BATCH_MAX) {
                requests.push((tier, chunk.to_vec()));
            }
        }
        futures::stream::iter(requests)
            .map(|(tier, indexes)| async move {
                // The entry id is the caller's index, so a failure names its message.
                let entries: Vec<BatchEntry> = indexes
                    .iter()
                    .map(|&i| BatchEntry {
                        id: i.to_string(),
                        body: messages[i].0.encode(),
                        delay_seconds: messages[i].1,
                    })
                    .collect();
                match self.port.send_batch(self.url(tier), &entries).await {
                    Ok(failures) => Ok(in_caller_order(failures, &indexes)),
                    Err(err) => Err((err, indexes)),
                }
            })
            .buffer_unordered(8)
            .collect()
            .await
    }

    /// Put a message body (possibly not an envelope) on this tier's queue with the reason it is
    /// there; built over DLQ URLs, this is the worker's dead-letter path.
    pub async fn send_with_reason(
        &self,
        tier: PriorityTier,
        body: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        send_reason(self.port.as_ref(), self.url(tier), body, reason).await
    }

    /// The queue's ARN, as Lambda event records carry it in `eventSourceARN`.
    pub async fn arn(&self, tier: PriorityTier) -> Result<String, QueueError> {
        self.port.arn(self.url(tier)).await
    }

    /// Long-poll up to `max` (clamped to 1..=10) messages; `visibility` overrides the queue's
    /// timeout.
    pub async fn receive(
        &self,
        tier: PriorityTier,
        max: i32,
        wait_seconds: i32,
        visibility: Option<i32>,
    ) -> Result<Vec<Received>, QueueError> {
        self.port
            .receive(
                self.url(tier),
                &Receive::new(max.clamp(1, crate::ports::queue::MAX_RECEIVE), wait_seconds, visibility),
            )
            .await
    }

    /// Keep a message hidden for `seconds` more (a long job's heartbeat), or 0 to release it now.
    pub async fn change_visibility(
        &self,
        tier: PriorityTier,
        receipt: &str,
        seconds: i32,
    ) -> Result<(), QueueError> {
        self.port.change_visibility(self.url(tier), receipt, seconds).await
    }

    /// Keep messages hidden for `seconds` from now, ten to a request (the same receipt twice is
    /// sent once). Failures are `index`ed into `receipts`.
    pub async fn change_visibility_batch(
        &self,
        tier: PriorityTier,
        receipts: &[String],
        seconds: i32,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let url = self.url(tier);
        by_ten(receipts, |batch| async move { self.port.change_visibility_batch(url, &batch, seconds).await })
            .await
    }

    /// Delete messages ten to a request. The same receipt twice is sent once, so a duplicate
    /// delivery in one batch never trips `BatchEntryIdsNotDistinct`. Failures are `index`ed into
    /// `receipts`.
    pub async fn delete_batch(
        &self,
        tier: PriorityTier,
        receipts: &[String],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let url = self.url(tier);
        by_ten(receipts, |batch| async move { self.port.delete_batch(url, &batch).await }).await
    }

    pub async fn depth(&self, tier: PriorityTier) -> Result<QueueDepth, QueueError> {
        self.port.depth(self.url(tier)).await
    }
}

/// `receipts` without repeats, ten to a `request`; the entries refused, indexed into `receipts`.
async fn by_ten<F, Fut>(receipts: &[String], mut request: F) -> Result<Vec<EntryFailure>, QueueError>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<EntryFailure>, QueueError>>,
{
    let mut seen = HashSet::new();
    let unique: Vec<usize> = (0..receipts.len()).filter(|&i| seen.insert(&receipts[i])).collect();
    let mut failures = Vec::new();
    for chunk in unique.chunks(SQS_BATCH_MAX) {
        let refused = request(chunk.iter().map(|&i| receipts[i].clone()).collect()).await?;
        failures.extend(in_caller_order(refused, chunk));
    }
    Ok(failures)
}

/// Failures of one request (indexed into the request) indexed into the caller's slice instead.
fn in_caller_order(failures: Vec<EntryFailure>, indexes: &[usize]) -> Vec<EntryFailure> {
    failures
        .into_iter()
        .map(|f| EntryFailure { index: indexes.get(f.index).copied().unwrap_or(usize::MAX), ..f })
        .collect()
}

/// Put `body` on the queue at `url` with the reason it is there (a dead-letter path).
pub async fn send_reason(
    port: &dyn MessageQueue,
    url: &str,
    body: &str,
    reason: &str,
) -> Result<(), QueueError> {
    let body = if body.is_empty() { EMPTY_BODY } else { body };
    let message = NewMessage::new(body, 0).with_attribute(REASON_ATTRIBUTE, reason);
    port.send(url, &message).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryQueues, QueueSettings};
    use crate::ports::ManualClock;

    fn tiers() -> (Arc<MemoryQueues>, TierQueues) {
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let memory = Arc::new(MemoryQueues::new(Arc::new(clock)));
        let urls = PerTier::from_fn(|tier| {
            memory.create_queue(&format!("jobs-{tier}"), QueueSettings::new(30)).expect("create")
        });
        (memory.clone(), TierQueues::with_port(memory, urls))
    }

    fn envelope(i: usize, tier: PriorityTier) -> Envelope {
        Envelope::new(format!("job-{i}"), "noop", tier, 0)
    }

    #[tokio::test]
    async fn a_batch_goes_ten_to_a_request_per_tier_and_failures_name_the_callers_index() {
        let (memory, queues) = tiers();
        let mut messages = Vec::new();
        for (tier, count) in [(PriorityTier::High, 12), (PriorityTier::Normal, 9), (PriorityTier::Low, 4)] {
            for _ in 0..count {
                messages.push((envelope(messages.len(), tier), 0));
            }
        }
        messages[13].1 = 901; // the second normal message: out of range
        let failures = queues.send_batch(&messages).await.expect("send batch");
        assert_eq!(failures.iter().map(|f| f.index).collect::<Vec<_>>(), [13]);
        assert_eq!(memory.requests().snapshot().get("SQS:SendMessageBatch"), Some(&4));
        for (tier, count) in [(PriorityTier::High, 12), (PriorityTier::Normal, 8), (PriorityTier::Low, 4)] {
            assert_eq!(queues.depth(tier).await.expect("depth").visible, count, "{tier}");
        }
    }

    #[tokio::test]
    async fn a_request_that_fails_whole_fails_only_its_own_entries_when_settled() {
        let (memory, queues) = tiers();
        let tiers = [PriorityTier::High, PriorityTier::Normal, PriorityTier::High, PriorityTier::Low];
        let messages: Vec<(Envelope, i32)> =
            tiers.iter().enumerate().map(|(i, &tier)| (envelope(i, tier), 0)).collect();
        memory.delete_queue(queues.url(PriorityTier::Normal)).expect("delete the normal queue");
        let failures = queues.send_batch_settled(&messages).await;
        assert_eq!(
            failures.iter().map(|f| (f.index, f.code.as_str(), f.sender_fault)).collect::<Vec<_>>(),
            [(1, REQUEST_FAILED, true)],
            "refused whole: sending it again would fail again"
        );
        assert_eq!(queues.depth(PriorityTier::High).await.expect("depth").visible, 2);
        assert_eq!(queues.depth(PriorityTier::Low).await.expect("depth").visible, 1);
        // Unsettled, the same failure fails the call, after the other requests were answered.
        let err = queues.send_batch(&messages).await.expect_err("the normal queue is gone");
        assert_eq!(err.refusal(), Some(Refusal::NoSuchQueue));
        assert_eq!(queues.depth(PriorityTier::High).await.expect("depth").visible, 4);
        memory.throttle_next(1);
        let failures = queues.send_batch_settled(&messages[..1]).await;
        assert_eq!(failures.iter().map(|f| (f.index, f.sender_fault)).collect::<Vec<_>>(), [(0, false)]);
    }

    #[tokio::test]
    async fn deletes_send_each_receipt_once_and_failures_name_the_callers_index() {
        let (memory, queues) = tiers();
        let tier = PriorityTier::Normal;
        let sent: Vec<(Envelope, i32)> = (0..12).map(|i| (envelope(i, tier), 0)).collect();
        assert!(queues.send_batch(&sent).await.expect("send").is_empty());
        let mut receipts = Vec::new();
        while receipts.len() < 12 {
            let got = queues.receive(tier, 10, 0, None).await.expect("receive");
            receipts.extend(got.into_iter().map(|m| m.receipt_handle));
        }
        // 12 distinct + a repeat + an invalid one at index 13: two requests, not three.
        receipts.push(receipts[0].clone());
        receipts.push("bogus".into());
        let before = memory.requests().snapshot();
        let failures = queues.delete_batch(tier, &receipts).await.expect("delete");
        assert_eq!(failures.iter().map(|f| f.index).collect::<Vec<_>>(), [13]);
        assert_eq!(memory.requests().since(&before).get("SQS:DeleteMessageBatch"), Some(&2));
        assert_eq!(queues.depth(tier).await.expect("depth"), QueueDepth::default());
    }

    #[tokio::test]
    async fn a_reason_travels_as_an_attribute_and_an_empty_body_is_kept() {
        let (_memory, dlqs) = tiers();
        dlqs.send_with_reason(PriorityTier::Low, "", "handler panicked").await.expect("send");
        let got = dlqs.receive(PriorityTier::Low, 10, 0, None).await.expect("receive");
        assert_eq!(got[0].body, EMPTY_BODY);
        assert_eq!(got[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str), Some("handler panicked"));
        assert!(dlqs.arn(PriorityTier::Low).await.expect("arn").ends_with(":jobs-low"));
    }
}
