//! The message-queue conformance suite: every case runs against [`MemoryQueues`] (time moved on
//! a `ManualClock`) and against [`SqsMessageQueue`] on the emulator (time passing in real sleeps,
//! so visibility timeouts and delays here are 1 to 3 seconds).
//!
//! Behaviours only the memory side models, so not cases here (its unit tests cover them):
//! - a duplicate delivery on demand (`MemoryQueues::duplicate_next`), as SQS's at-least-once
//!   delivery sometimes hands out;
//! - throttling on demand (`MemoryQueues::throttle_next`), failing calls as transient;
//! - ChangeMessageVisibility on a message whose visibility already ran out is refused
//!   (`MessageNotInflight`), as SQS documents; moto applies the change;
//! - the 12-hour limit on a message's total visibility counted from the receive that hid it, as
//!   SQS documents; moto counts it from the send;
//! - a DeleteMessageBatch of more than ten entries is refused (`TooManyEntriesInBatchRequest`), as
//!   SQS documents; moto deletes them all;
//! - switched on for the simulation (`MemoryQueues::set_stale_receipts_kept`): a delete by a
//!   receipt from an earlier receive of a message received again since succeeds and the message
//!   stays, as SQS documents for DeleteMessage; moto deletes it (`stale_receipt_delete` below);
//! - a copy a delete missed, delivered again (`MemoryQueues::keep_next_deletes`), as SQS's
//!   at-least-once delivery documents; and depths counted late (`MemoryQueues::set_depth_lag`),
//!   as SQS's approximate counts are; moto's are exact.
//!
//! Where moto and SQS's documentation leave a choice, the memory side follows moto, checked here:
//! - a receipt handle from an earlier receive still changes the message's visibility and deletes
//!   it (SQS says the delete succeeds but the message "might not be deleted"), and deleting a
//!   deleted message again succeeds;
//! - a message moved to its dead-letter queue keeps its id, body and attributes.
//!
//! Other differences: moto's default MaximumMessageSize is 1 MiB, as SQS's is for queues created
//! since 2025, so the fixtures create every queue with an explicit maximum (256 KiB by default);
//! moto refuses the same receipt twice in one DeleteMessageBatch even under distinct entry ids,
//! where the memory side deletes once (`TierQueues::delete_batch` never sends a receipt twice).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_sqs::types::QueueAttributeName;
use jobq::adapters::aws::SqsMessageQueue;
use jobq::adapters::memory::{MemoryQueues, QueueSettings};
use jobq::ports::ManualClock;
use jobq::queue::{BatchEntry, MessageQueue, NewMessage, QueueDepth, QueueError, Receive, Refusal};

/// What the cases need from an adapter under test.
pub trait QueueFixture: Sync {
    fn port(&self) -> &dyn MessageQueue;

    /// A fresh queue with these settings; returns its URL.
    fn create_queue(&self, settings: QueueSettings) -> impl Future<Output = String> + Send;

    /// Let at least `seconds` pass.
    fn pass(&self, seconds: u64) -> impl Future<Output = ()> + Send;

    /// The time by the adapter's clock.
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// The in-memory adapter on a manual clock.
#[derive(Debug)]
pub struct MemoryQueueFixture {
    pub clock: ManualClock,
    pub queues: Arc<MemoryQueues>,
    next: AtomicU32,
}

impl MemoryQueueFixture {
    pub fn new() -> Self {
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let queues = Arc::new(MemoryQueues::new(Arc::new(clock.clone())));
        MemoryQueueFixture { clock, queues, next: AtomicU32::new(0) }
    }
}

impl Default for MemoryQueueFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueFixture for MemoryQueueFixture {
    fn port(&self) -> &dyn MessageQueue {
        self.queues.as_ref()
    }

    async fn create_queue(&self, settings: QueueSettings) -> String {
        let name = format!("conformance-{}", self.next.fetch_add(1, Ordering::Relaxed));
        self.queues.create_queue(&name, settings).expect("create queue")
    }

    async fn pass(&self, seconds: u64) {
        self.clock.advance(chrono::Duration::seconds(i64::try_from(seconds).expect("seconds")));
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        jobq::ports::Clock::now(&self.clock)
    }
}

/// The SQS adapter on the emulator at `AWS_ENDPOINT_URL`, its queues under a unique prefix.
#[derive(Debug)]
pub struct EmulatorQueueFixture {
    client: aws_sdk_sqs::Client,
    port: SqsMessageQueue,
    prefix: String,
    next: AtomicU32,
}

impl EmulatorQueueFixture {
    pub async fn new() -> Self {
        let (sdk, _endpoint) = crate::emulator_sdk().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        EmulatorQueueFixture {
            port: SqsMessageQueue::new(client.clone()),
            client,
            prefix: crate::unique_prefix(),
            next: AtomicU32::new(0),
        }
    }
}

impl QueueFixture for EmulatorQueueFixture {
    fn port(&self) -> &dyn MessageQueue {
        &self.port
    }

    async fn create_queue(&self, settings: QueueSettings) -> String {
        let name = format!("{}conformance-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        let mut request = self
            .client
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::VisibilityTimeout, settings.visibility_timeout.to_string())
            .attributes(QueueAttributeName::MaximumMessageSize, settings.maximum_message_size.to_string());
        if let Some(redrive) = &settings.redrive {
            let arn = self.port.arn(&redrive.dead_letter_url).await.expect("dead-letter queue arn");
            let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": redrive.max_receive_count });
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let out = request.send().await.expect("create queue");
        out.queue_url().expect("queue url").to_owned()
    }

    /// Real time, with a margin: the emulator makes a message visible only after its moment.
    async fn pass(&self, seconds: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(seconds * 1000 + 300)).await;
    }

    /// The emulator runs on this machine's clock.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

fn refusal<T: std::fmt::Debug>(result: Result<T, QueueError>) -> Refusal {
    let err = result.expect_err("the request should be refused");
    err.refusal().unwrap_or_else(|| panic!("a refusal, not a transient failure: {err}"))
}

async fn receive(f: &impl QueueFixture, url: &str, visibility: Option<i32>) -> Vec<jobq::queue::Received> {
    f.port().receive(url, &Receive::new(10, 0, visibility)).await.expect("receive")
}

async fn send(f: &impl QueueFixture, url: &str, body: &str, delay: i32) -> String {
    f.port().send(url, &NewMessage::new(body, delay)).await.expect("send")
}

async fn depth(f: &impl QueueFixture, url: &str) -> QueueDepth {
    f.port().depth(url).await.expect("depth")
}

/// Send with attributes, receive them back, delete; the queue is empty after, and its ARN ends
/// with its name.
pub async fn round_trip_with_attributes(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let message =
        NewMessage::new("hello", 0).with_attribute("jobq-reason", "because").with_attribute("n", "1");
    let id = f.port().send(&url, &message).await.expect("send");
    let got = receive(f, &url, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].message_id.as_str(), got[0].body.as_str(), got[0].receive_count),
        (id.as_str(), "hello", 1)
    );
    assert_eq!(got[0].attributes, message.attributes);
    let failures = f.port().delete_batch(&url, &[got[0].receipt_handle.clone()]).await.expect("delete");
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(depth(f, &url).await, QueueDepth::default());
    assert!(receive(f, &url, Some(0)).await.is_empty());
    let name = url.rsplit('/').next().expect("queue name");
    let arn = f.port().arn(&url).await.expect("arn");
    assert!(arn.starts_with("arn:aws:sqs:") && arn.ends_with(&format!(":{name}")), "{arn}");
}

/// A received message stays hidden for the visibility timeout, then comes back with a new
/// receipt and a higher receive count.
pub async fn visibility_hides_and_returns(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(2)).await;
    send(f, &url, "m", 0).await;
    let first = receive(f, &url, None).await;
    assert_eq!(first.len(), 1);
    assert!(receive(f, &url, None).await.is_empty());
    f.pass(1).await;
    assert!(receive(f, &url, None).await.is_empty(), "hidden before the timeout");
    f.pass(1).await;
    let again = receive(f, &url, None).await;
    assert_eq!(again.len(), 1, "back after the timeout");
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
}

/// ChangeMessageVisibility extends the hiding; 0 releases the message now; beyond 12 hours is
/// refused.
pub async fn change_visibility_extends_and_releases(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(1)).await;
    send(f, &url, "m", 0).await;
    let receipt = receive(f, &url, None).await[0].receipt_handle.clone();
    f.port().change_visibility(&url, &receipt, 3).await.expect("extend");
    f.pass(2).await;
    assert!(receive(f, &url, None).await.is_empty(), "the extension holds past the queue's timeout");
    f.port().change_visibility(&url, &receipt, 0).await.expect("release");
    let again = receive(f, &url, Some(30)).await;
    assert_eq!((again.len(), again[0].receive_count), (1, 2));
    let refused = f.port().change_visibility(&url, &again[0].receipt_handle, 43_201).await;
    assert_eq!(refusal(refused), Refusal::InvalidRequest);
}

/// ChangeMessageVisibilityBatch changes each message's hiding in one request; an entry whose
/// receipt is not valid fails alone, named by its index, and the others still change.
pub async fn change_visibility_batch_reports_failures_by_entry(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    send(f, &url, "a", 0).await;
    send(f, &url, "b", 0).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        if got.len() < 2 {
            got.extend(receive(f, &url, None).await);
        }
    }
    assert_eq!(got.len(), 2, "both received");
    let receipts = [got[0].receipt_handle.clone(), "not-a-receipt".to_owned(), got[1].receipt_handle.clone()];
    let failed = f.port().change_visibility_batch(&url, &receipts, 0).await.expect("batch");
    assert_eq!(failed.iter().map(|e| e.index).collect::<Vec<_>>(), [1], "{failed:?}");
    assert!(failed[0].sender_fault);
    let mut again = Vec::new();
    for _ in 0..3 {
        if again.len() < 2 {
            again.extend(receive(f, &url, None).await);
        }
    }
    assert_eq!(again.len(), 2, "both released at once");
}

/// A delayed message is counted as delayed, not delivered before its delay, delivered after;
/// a delay beyond 900 s is refused.
pub async fn delay_hides_until_due(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    send(f, &url, "later", 2).await;
    assert_eq!(depth(f, &url).await, QueueDepth { visible: 0, in_flight: 0, delayed: 1 });
    assert!(receive(f, &url, None).await.is_empty());
    f.pass(1).await;
    assert!(receive(f, &url, None).await.is_empty(), "not before its delay");
    f.pass(1).await;
    assert_eq!(receive(f, &url, None).await[0].body, "later");
    let refused = f.port().send(&url, &NewMessage::new("m", 901)).await;
    assert_eq!(refusal(refused), Refusal::InvalidRequest);
}

/// Every receive counts.
pub async fn receive_count_grows(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let id = send(f, &url, "m", 0).await;
    for count in 1..=3 {
        let got = receive(f, &url, Some(0)).await;
        assert_eq!((got[0].message_id.as_str(), got[0].receive_count), (id.as_str(), count));
    }
}

/// A message received maxReceiveCount times goes to the dead-letter queue at the next receive,
/// keeping its id, body and attributes.
pub async fn redrive_at_max_receive_count(f: &impl QueueFixture) {
    let dlq = f.create_queue(QueueSettings::new(30)).await;
    let url = f.create_queue(QueueSettings::new(30).with_redrive(&dlq, 2)).await;
    let message = NewMessage::new("poison", 0).with_attribute("kind", "test");
    let id = f.port().send(&url, &message).await.expect("send");
    for count in 1..=2 {
        assert_eq!(receive(f, &url, Some(0)).await[0].receive_count, count);
    }
    assert!(receive(f, &url, Some(0)).await.is_empty(), "not delivered a third time");
    assert_eq!(depth(f, &url).await, QueueDepth::default());
    let dead = receive(f, &dlq, None).await;
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].message_id.as_str(), dead[0].body.as_str()), (id.as_str(), "poison"));
    assert_eq!(dead[0].attributes, message.attributes);
}

fn entry(id: &str, delay_seconds: i32) -> BatchEntry {
    BatchEntry { id: id.into(), body: format!("body-{id}"), delay_seconds }
}

/// A batch with one bad entry sends the others and reports that one, by position.
pub async fn batch_send_reports_entry_failures(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let entries = [entry("a", 0), entry("b", 901), entry("c", 0)];
    let failures = f.port().send_batch(&url, &entries).await.expect("send batch");
    let reported: Vec<_> = failures.iter().map(|e| (e.index, e.code.as_str(), e.sender_fault)).collect();
    assert_eq!(reported, [(1, "InvalidParameterValue", true)]);
    let mut bodies: Vec<String> = receive(f, &url, None).await.into_iter().map(|m| m.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["body-a", "body-c"]);
}

/// Eleven entries, or two with one id, are refused whole: nothing is sent.
pub async fn batch_of_eleven_refused(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let eleven: Vec<BatchEntry> = (0..11).map(|i| entry(&format!("e{i}"), 0)).collect();
    assert_eq!(refusal(f.port().send_batch(&url, &eleven).await), Refusal::TooManyEntries);
    let twice = [entry("same", 0), entry("same", 0)];
    assert_eq!(refusal(f.port().send_batch(&url, &twice).await), Refusal::DuplicateEntryIds);
    assert_eq!(depth(f, &url).await, QueueDepth::default());
}

/// A message over the queue's maximum size is refused; one of exactly the maximum is taken.
pub async fn oversize_message_refused(f: &impl QueueFixture) {
    let max = 262_144;
    let url = f.create_queue(QueueSettings::new(30).with_maximum_message_size(max)).await;
    let refused = f.port().send(&url, &NewMessage::new("x".repeat(max + 1), 0)).await;
    assert_eq!(refusal(refused), Refusal::InvalidRequest);
    send(f, &url, &"x".repeat(max), 0).await;
    assert_eq!(depth(f, &url).await.visible, 1);
}

/// Receipts: an earlier one still changes the visibility of and deletes the message, deleting it
/// again succeeds, a receipt never handed out is refused per entry, and a deleted message's
/// visibility cannot change.
pub async fn stale_receipt_delete(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    send(f, &url, "m", 0).await;
    let old = receive(f, &url, Some(0)).await[0].receipt_handle.clone();
    let current = receive(f, &url, None).await[0].receipt_handle.clone();
    assert_ne!(old, current);
    f.port().change_visibility(&url, &old, 0).await.expect("an earlier receipt releases it too");
    assert_eq!(depth(f, &url).await.visible, 1);
    assert!(f.port().delete_batch(&url, &[old]).await.expect("delete").is_empty());
    assert_eq!(depth(f, &url).await, QueueDepth::default(), "the old receipt deleted it");
    let bogus = "AQEBbogus-receipt-handle".to_owned();
    let failures = f.port().delete_batch(&url, &[current.clone(), bogus]).await.expect("delete");
    let reported: Vec<_> = failures.iter().map(|e| (e.index, e.code.as_str(), e.sender_fault)).collect();
    assert_eq!(reported, [(1, "ReceiptHandleIsInvalid", true)]);
    assert_eq!(refusal(f.port().change_visibility(&url, &current, 5).await), Refusal::InvalidReceipt);
}

/// A received message carries when it was sent (SQS's `SentTimestamp`, to the millisecond), the
/// same on every receive: what the worker judges cached pause flags by.
pub async fn received_messages_carry_their_send_time(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let before = f.now() - chrono::Duration::milliseconds(1);
    send(f, &url, "m", 0).await;
    let after = f.now();
    let first = receive(f, &url, Some(0)).await[0].sent_at.expect("a send time");
    assert!(before <= first && first <= after, "{before} <= {first} <= {after}");
    assert_eq!(first.timestamp_subsec_nanos() % 1_000_000, 0, "whole milliseconds: {first}");
    f.pass(1).await;
    let again = receive(f, &url, None).await[0].sent_at;
    assert_eq!(again, Some(first), "a later receive keeps the send time");
}

/// Depth counts visible, in-flight and delayed messages apart.
pub async fn depth_counts(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    for (body, delay) in [("a", 0), ("b", 0), ("c", 0), ("d", 60)] {
        send(f, &url, body, delay).await;
    }
    let got = f.port().receive(&url, &Receive::new(1, 0, None)).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(depth(f, &url).await, QueueDepth { visible: 2, in_flight: 1, delayed: 1 });
}

/// Calls on a queue that does not exist are refused as such.
pub async fn missing_queue_refused(f: &impl QueueFixture) {
    let url = f.create_queue(QueueSettings::new(30)).await;
    let missing = format!("{url}-missing");
    assert_eq!(refusal(f.port().send(&missing, &NewMessage::new("m", 0)).await), Refusal::NoSuchQueue);
    assert_eq!(refusal(f.port().depth(&missing).await), Refusal::NoSuchQueue);
}
