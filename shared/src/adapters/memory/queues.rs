//! `MemoryQueues`: SQS standard queues in memory, with time from the clock port, so a test can
//! let a visibility timeout or a delay pass in a moment. Held to the SQS adapter by the
//! conformance suite (`tests/src/conformance/queue.rs`).
//!
//! What it models, as SQS documents it (and as moto answers where SQS leaves it open):
//! - each queue's visibility timeout, overridden per receive; ChangeMessageVisibility within
//!   0..=43,200 s, with a message hidden at most 12 hours in total from the receive that hid it;
//!   changing a message whose visibility ran out is refused (`NotInFlight`);
//! - receive counts; with a redrive policy, a visible message already received maxReceiveCount
//!   times moves to the dead-letter queue (keeping its id, body, attributes and count) at the next
//!   receive instead of being delivered again;
//! - DelaySeconds 0..=900; batches of 1..=10 entries with distinct ids; the queue's maximum message
//!   size (body and attributes; 256 KiB unless set), all refused beyond;
//! - receipt handles: a new one on every receive. Like moto, any handle a message was ever given
//!   deletes it or changes its visibility while it is in the queue; deleting it again succeeds
//!   and does nothing; a handle this queue never gave out (or, for a visibility change, one of a
//!   deleted message) is refused as `InvalidReceipt`.
//!
//! Receive never waits: it returns what is visible now (`wait_seconds` is checked, then
//! ignored); a test moves its `ManualClock` instead. On demand it also treats stale receipts as
//! SQS does ([`MemoryQueues::set_stale_receipts_kept`]), leaves a copy a delete missed
//! ([`MemoryQueues::keep_next_deletes`]), counts depths late ([`MemoryQueues::set_depth_lag`]),
//! hands out a duplicate delivery ([`MemoryQueues::duplicate_next`]), fails calls as throttled
//! ([`MemoryQueues::throttle_next`], [`MemoryQueues::set_throttled`]) and deletes a queue
//! ([`MemoryQueues::delete_queue`]); every call is counted per operation, as the SDK's are.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use crate::adapters::aws::requests::RequestCounter;
use crate::ports::Clock;
use crate::ports::queue::{
    BatchEntry, EntryFailure, MessageQueue, NewMessage, QueueDepth, QueueError, Receive, Received, Refusal,
};
use limits::{check_delay, check_message, check_send_batch, invalid};
pub use settings::{DEFAULT_MAXIMUM_MESSAGE_SIZE, QueueSettings, Redrive};

mod controls;
mod limits;
mod receipts;
mod settings;

/// The account id in memory queues' URLs and ARNs.
const ACCOUNT: &str = "000000000000";
/// The code SQS gives a batch entry it refused for a value out of range.
const INVALID_PARAMETER: &str = "InvalidParameterValue";

/// In-memory SQS standard queues; see the module documentation for what is modelled.
#[derive(Debug)]
pub struct MemoryQueues {
    clock: Arc<dyn Clock>,
    requests: RequestCounter,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<String, Queue>,
    /// Calls still to fail as throttled.
    throttle_next: u32,
    /// Every call fails as throttled while set.
    throttled: bool,
    /// SQS's receipts (not moto's): a delete by a stale receipt succeeds and deletes nothing.
    stale_receipts_kept: bool,
    /// Depths are counted as of this long ago (SQS's are approximate).
    depth_lag: Duration,
}

#[derive(Debug)]
struct Queue {
    name: String,
    settings: QueueSettings,
    /// In the order sent: oldest delivered first.
    messages: Vec<Stored>,
    /// Every receipt handle of a deleted message.
    deleted: HashSet<String>,
    /// Duplicate deliveries still to hand out.
    duplicates: u32,
    /// Deletes still to leave a copy behind, delivered again once its visibility runs out.
    deletes_kept: u32,
    /// Numbers message ids and receipt handles.
    sequence: u64,
    sent: u64, // Messages ever sent to it, batch entries too: `messages_sent`.
}

#[derive(Debug, Clone)]
struct Stored {
    id: String,
    body: String,
    attributes: HashMap<String, String>,
    /// When it was sent (kept through a redrive, as SQS keeps `SentTimestamp`).
    sent_at: DateTime<Utc>,
    delayed_until: DateTime<Utc>,
    visible_at: DateTime<Utc>,
    /// When the receive that hid it happened.
    received_at: Option<DateTime<Utc>>,
    receive_count: u32,
    /// Every handle it was given, the latest last.
    receipts: Vec<String>,
    /// A delete of it was missed once already (see `keep_next_deletes`): the next one holds.
    missed_delete: bool,
}

impl Stored {
    fn is_delayed(&self, now: DateTime<Utc>) -> bool {
        now < self.delayed_until
    }

    fn is_in_flight(&self, now: DateTime<Utc>) -> bool {
        now < self.visible_at
    }

    fn is_visible(&self, now: DateTime<Utc>) -> bool {
        !self.is_delayed(now) && !self.is_in_flight(now)
    }
}

fn seconds(s: i32) -> Duration {
    Duration::seconds(i64::from(s))
}

impl Queue {
    fn new(name: &str, settings: QueueSettings) -> Self {
        Queue {
            name: name.to_owned(),
            settings,
            messages: Vec::new(),
            deleted: HashSet::new(),
            duplicates: 0,
            deletes_kept: 0,
            sequence: 0,
            sent: 0,
        }
    }

    fn arn(&self) -> String {
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{}", self.name)
    }

    /// A new message id or receipt handle, never given out before by this queue.
    fn next(&mut self, kind: &str) -> String {
        self.sequence += 1;
        format!("{}-{kind}-{:08}", self.name, self.sequence)
    }

    fn push(
        &mut self,
        body: &str,
        attributes: HashMap<String, String>,
        delay: i32,
        now: DateTime<Utc>,
    ) -> String {
        let id = self.next("message");
        self.sent += 1;
        self.messages.push(Stored {
            id: id.clone(),
            body: body.to_owned(),
            attributes,
            sent_at: now,
            delayed_until: now + seconds(delay),
            visible_at: now,
            received_at: None,
            receive_count: 0,
            receipts: Vec::new(),
            missed_delete: false,
        });
        id
    }

    /// Hand out message `index` once more, hidden for `visibility` seconds.
    fn deliver(&mut self, index: usize, visibility: i32, now: DateTime<Utc>) -> Received {
        let receipt = self.next("receipt");
        let message = &mut self.messages[index];
        message.receive_count += 1;
        message.receipts.push(receipt.clone());
        message.received_at = Some(now);
        message.visible_at = message.visible_at.max(now + seconds(visibility));
        Received {
            message_id: message.id.clone(),
            receipt_handle: receipt,
            body: message.body.clone(),
            receive_count: message.receive_count,
            attributes: message.attributes.clone(),
            // SQS's SentTimestamp is in milliseconds.
            sent_at: DateTime::from_timestamp_millis(message.sent_at.timestamp_millis()),
        }
    }

    fn find(&self, receipt: &str) -> Option<usize> {
        self.messages.iter().position(|m| m.receipts.iter().any(|r| r == receipt))
    }

    /// Take out the visible messages the redrive policy says are spent.
    fn take_spent(&mut self, now: DateTime<Utc>) -> Vec<Stored> {
        let Some(max) = self.settings.redrive.as_ref().map(|r| r.max_receive_count) else {
            return Vec::new();
        };
        let (spent, kept) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| m.is_visible(now) && m.receive_count >= max);
        self.messages = kept;
        spent
    }

    /// The counts now, of the messages sent at least `lag` ago: a message is counted only a
    /// while after its send, one deleted is gone at once (approximate, as SQS's
    /// `ApproximateNumberOfMessages*` are).
    fn depth(&self, now: DateTime<Utc>, lag: Duration) -> QueueDepth {
        let counted = |m: &&Stored| m.sent_at <= now - lag;
        let count = |f: &dyn Fn(&Stored) -> bool| {
            self.messages.iter().filter(counted).filter(|m| f(m)).count() as u64
        };
        QueueDepth {
            visible: count(&|m| m.is_visible(now)),
            in_flight: count(&|m| m.is_in_flight(now)),
            delayed: count(&|m| m.is_delayed(now)),
        }
    }
}

impl State {
    fn queue(&mut self, operation: &'static str, url: &str) -> Result<&mut Queue, QueueError> {
        self.queues
            .get_mut(url)
            .ok_or_else(|| QueueError::refused(operation, Refusal::NoSuchQueue, format!("no queue at {url}")))
    }

    /// Move the source queue's spent messages to its dead-letter queue, as SQS does when a
    /// receive meets them.
    fn redrive(&mut self, url: &str, now: DateTime<Utc>) {
        let Some(queue) = self.queues.get(url) else { return };
        let Some(dlq_url) = queue.settings.redrive.as_ref().map(|r| r.dead_letter_url.clone()) else {
            return;
        };
        if !self.queues.contains_key(&dlq_url) {
            return; // a deleted dead-letter queue: the messages stay where they are
        }
        let spent = self.queues.get_mut(url).map(|q| q.take_spent(now)).unwrap_or_default();
        if let Some(dlq) = self.queues.get_mut(&dlq_url) {
            dlq.messages.extend(spent.into_iter().map(|m| Stored {
                visible_at: now,
                received_at: None,
                ..m
            }));
        }
    }

    fn receive(
        &mut self,
        url: &str,
        max: i32,
        wait_seconds: i32,
        visibility: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Received>, QueueError> {
        const OPERATION: &str = "ReceiveMessage";
        limits::check_receive(max, wait_seconds, visibility)?;
        self.queue(OPERATION, url)?;
        self.redrive(url, now);
        let queue = self.queue(OPERATION, url)?;
        let visibility = visibility.unwrap_or(queue.settings.visibility_timeout);
        let want = usize::try_from(max).unwrap_or(1);
        let ready: Vec<usize> =
            (0..queue.messages.len()).filter(|&i| queue.messages[i].is_visible(now)).take(want).collect();
        let mut out: Vec<Received> = ready.into_iter().map(|i| queue.deliver(i, visibility, now)).collect();
        if queue.duplicates > 0
            && out.len() < want
            && let Some(i) = queue.messages.iter().position(|m| m.is_in_flight(now))
        {
            queue.duplicates -= 1;
            out.push(queue.deliver(i, visibility, now));
        }
        Ok(out)
    }
}

impl MemoryQueues {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_requests(clock, RequestCounter::default())
    }

    /// Counting its calls on `requests` (shared with other adapters or SDK clients).
    pub fn with_requests(clock: Arc<dyn Clock>, requests: RequestCounter) -> Self {
        MemoryQueues { clock, requests, state: Mutex::new(State::default()) }
    }

    /// Calls so far, keyed `SQS:Operation` as the SDK's are.
    pub fn requests(&self) -> &RequestCounter {
        &self.requests
    }

    /// CreateQueue; returns its URL. The same name with the same settings returns the same queue.
    pub fn create_queue(&self, name: &str, settings: QueueSettings) -> Result<String, QueueError> {
        const OPERATION: &str = "CreateQueue";
        let mut state = self.begin(OPERATION)?;
        limits::check_queue(name, &settings)?;
        if let Some(redrive) = &settings.redrive {
            state.queue(OPERATION, &redrive.dead_letter_url)?;
        }
        let url = format!("memory://sqs/{ACCOUNT}/{name}");
        match state.queues.get(&url) {
            Some(queue) if queue.settings != settings => {
                Err(invalid(OPERATION, format!("queue {name} exists with other settings")))
            }
            Some(_) => Ok(url),
            None => {
                state.queues.insert(url.clone(), Queue::new(name, settings));
                Ok(url)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Count the call and take the lock, or fail it if throttling was asked for.
    fn begin(&self, operation: &'static str) -> Result<MutexGuard<'_, State>, QueueError> {
        self.requests.count("SQS", operation);
        let mut state = self.lock();
        let once = state.throttle_next > 0 && !state.throttled;
        if once {
            state.throttle_next -= 1;
        }
        if once || state.throttled {
            return Err(QueueError::transient(operation, "RequestThrottled (injected)"));
        }
        Ok(state)
    }
}

#[async_trait::async_trait]
impl MessageQueue for MemoryQueues {
    async fn send(&self, url: &str, message: &NewMessage) -> Result<String, QueueError> {
        const OPERATION: &str = "SendMessage";
        let now = self.clock.now();
        let mut state = self.begin(OPERATION)?;
        let queue = state.queue(OPERATION, url)?;
        check_message(OPERATION, &queue.settings, &message.body, &message.attributes)?;
        check_delay(OPERATION, message.delay_seconds)?;
        Ok(queue.push(&message.body, message.attributes.clone(), message.delay_seconds, now))
    }

    async fn send_batch(&self, url: &str, entries: &[BatchEntry]) -> Result<Vec<EntryFailure>, QueueError> {
        const OPERATION: &str = "SendMessageBatch";
        let now = self.clock.now();
        let mut state = self.begin(OPERATION)?;
        let queue = state.queue(OPERATION, url)?;
        check_send_batch(OPERATION, &queue.settings, entries)?;
        let mut failures = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            match check_delay(OPERATION, entry.delay_seconds) {
                Ok(()) => {
                    queue.push(&entry.body, HashMap::new(), entry.delay_seconds, now);
                }
                Err(err) => failures.push(EntryFailure {
                    index,
                    code: INVALID_PARAMETER.into(),
                    message: err.to_string(),
                    sender_fault: true,
                }),
            }
        }
        Ok(failures)
    }

    async fn receive(&self, url: &str, request: &Receive) -> Result<Vec<Received>, QueueError> {
        let now = self.clock.now();
        let Receive { max, wait_seconds, visibility } = *request;
        self.begin("ReceiveMessage")?.receive(url, max, wait_seconds, visibility, now)
    }

    async fn change_visibility(&self, url: &str, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        let now = self.clock.now();
        self.begin("ChangeMessageVisibility")?.change_visibility(url, receipt, seconds, now)
    }

    async fn change_visibility_batch(
        &self,
        url: &str,
        receipts: &[String],
        seconds: i32,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        let now = self.clock.now();
        self.begin("ChangeMessageVisibilityBatch")?.change_visibility_batch(url, receipts, seconds, now)
    }

    async fn delete_batch(&self, url: &str, receipts: &[String]) -> Result<Vec<EntryFailure>, QueueError> {
        self.begin("DeleteMessageBatch")?.delete_batch(url, receipts)
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError> {
        const OPERATION: &str = "GetQueueAttributes";
        let now = self.clock.now();
        let mut state = self.begin(OPERATION)?;
        let lag = state.depth_lag;
        Ok(state.queue(OPERATION, url)?.depth(now, lag))
    }

    async fn arn(&self, url: &str) -> Result<String, QueueError> {
        const OPERATION: &str = "GetQueueAttributes";
        Ok(self.begin(OPERATION)?.queue(OPERATION, url)?.arn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ManualClock;

    const MAX: usize = DEFAULT_MAXIMUM_MESSAGE_SIZE;

    fn setup() -> (ManualClock, MemoryQueues) {
        let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let queues = MemoryQueues::new(Arc::new(clock.clone()));
        (clock, queues)
    }

    fn pass(clock: &ManualClock, secs: i64) {
        clock.advance(Duration::seconds(secs));
    }

    async fn send(queues: &MemoryQueues, url: &str, body: &str, delay: i32) -> String {
        queues.send(url, &NewMessage::new(body, delay)).await.expect("send")
    }

    fn refusal<T: std::fmt::Debug>(result: Result<T, QueueError>) -> Refusal {
        result.expect_err("refused").refusal().expect("a refusal, not a transient failure")
    }

    #[tokio::test]
    async fn a_received_message_is_hidden_for_the_visibility_timeout_then_returns_with_a_new_receipt() {
        let (clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        let id = send(&queues, &url, "hello", 0).await;
        let first = queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive");
        assert_eq!((first.len(), first[0].message_id.as_str(), first[0].receive_count), (1, id.as_str(), 1));
        assert!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive").is_empty());
        assert_eq!(
            queues.depth(&url).await.expect("depth"),
            QueueDepth { visible: 0, in_flight: 1, delayed: 0 }
        );
        pass(&clock, 29);
        assert!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive").is_empty());
        pass(&clock, 1);
        let again = queues.receive(&url, &Receive::new(10, 0, Some(5))).await.expect("receive");
        assert_eq!((again[0].message_id.as_str(), again[0].receive_count), (id.as_str(), 2));
        assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
        pass(&clock, 5);
        queues.set_visibility_timeout(&url, 10).expect("set visibility");
        assert_eq!(
            queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive")[0].receive_count,
            3
        );
        pass(&clock, 9);
        assert!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive").is_empty());
        pass(&clock, 1);
        assert_eq!(
            queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive")[0].receive_count,
            4
        );
    }

    #[tokio::test]
    async fn change_visibility_extends_releases_and_refuses_out_of_range() {
        let (clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        send(&queues, &url, "m", 0).await;
        let receipt =
            queues.receive(&url, &Receive::new(1, 0, None)).await.expect("receive")[0].receipt_handle.clone();
        pass(&clock, 20);
        queues.change_visibility(&url, &receipt, 60).await.expect("extend");
        pass(&clock, 59);
        assert!(queues.receive(&url, &Receive::new(1, 0, None)).await.expect("receive").is_empty());
        queues.change_visibility(&url, &receipt, 0).await.expect("release");
        assert_eq!(queues.depth(&url).await.expect("depth").visible, 1);
        assert_eq!(refusal(queues.change_visibility(&url, &receipt, 10).await), Refusal::NotInFlight);
        let receipt = queues.receive(&url, &Receive::new(1, 0, Some(43_000))).await.expect("receive")[0]
            .receipt_handle
            .clone();
        assert_eq!(refusal(queues.change_visibility(&url, &receipt, 43_201).await), Refusal::InvalidRequest);
        pass(&clock, 1_000);
        // 12 hours in total from the receive: 1,000 s have gone, 42,200 s remain.
        assert_eq!(refusal(queues.change_visibility(&url, &receipt, 42_201).await), Refusal::InvalidRequest);
        queues.change_visibility(&url, &receipt, 42_200).await.expect("up to 12 hours in total");
        assert_eq!(refusal(queues.change_visibility(&url, "never-given", 1).await), Refusal::InvalidReceipt);
    }

    #[tokio::test]
    async fn a_delayed_message_is_counted_delayed_and_delivered_when_due() {
        let (clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        send(&queues, &url, "later", 900).await;
        assert_eq!(
            queues.depth(&url).await.expect("depth"),
            QueueDepth { visible: 0, in_flight: 0, delayed: 1 }
        );
        pass(&clock, 899);
        assert!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive").is_empty());
        pass(&clock, 1);
        assert_eq!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive")[0].body, "later");
        for delay in [901, -1] {
            let refused = queues.send(&url, &NewMessage::new("x", delay)).await;
            assert_eq!(refusal(refused), Refusal::InvalidRequest, "{delay}");
        }
    }

    #[tokio::test]
    async fn a_message_received_max_receive_count_times_moves_to_its_dead_letter_queue() {
        let (_clock, queues) = setup();
        let dlq = queues.create_queue("dlq", QueueSettings::new(30)).expect("dlq");
        let url = queues.create_queue("q", QueueSettings::new(30).with_redrive(&dlq, 3)).expect("create");
        let message = NewMessage::new("poison", 0).with_attribute("why", "test");
        let id = queues.send(&url, &message).await.expect("send");
        for count in 1..=3 {
            let got = queues.receive(&url, &Receive::new(10, 0, Some(0))).await.expect("receive");
            assert_eq!(got[0].receive_count, count);
        }
        assert!(queues.receive(&url, &Receive::new(10, 0, Some(0))).await.expect("receive").is_empty());
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default());
        let dead = queues.receive(&dlq, &Receive::new(10, 0, None)).await.expect("receive dlq");
        assert_eq!((dead[0].message_id.as_str(), dead[0].body.as_str()), (id.as_str(), "poison"));
        assert_eq!(dead[0].attributes.get("why").map(String::as_str), Some("test"));
        assert_eq!(dead[0].receive_count, 4, "the count carries over, as moto keeps it");
        let missing_dlq = QueueSettings::new(30).with_redrive("memory://sqs/000000000000/none", 3);
        assert_eq!(refusal(queues.create_queue("other", missing_dlq)), Refusal::NoSuchQueue);
    }

    #[tokio::test]
    async fn sizes_counts_and_ids_beyond_the_limits_are_refused() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        let entry = |id: &str, delay| BatchEntry { id: id.into(), body: "b".into(), delay_seconds: delay };
        let eleven: Vec<BatchEntry> = (0..11).map(|i| entry(&i.to_string(), 0)).collect();
        assert_eq!(refusal(queues.send_batch(&url, &eleven).await), Refusal::TooManyEntries);
        assert_eq!(
            refusal(queues.send_batch(&url, &[entry("a", 0), entry("a", 0)]).await),
            Refusal::DuplicateEntryIds
        );
        assert_eq!(refusal(queues.send_batch(&url, &[]).await), Refusal::EmptyBatch);
        assert_eq!(refusal(queues.send_batch(&url, &[entry("a b", 0)]).await), Refusal::InvalidEntryId);
        let failures =
            queues.send_batch(&url, &[entry("a", 0), entry("b", 901), entry("c", 3)]).await.expect("batch");
        assert_eq!(failures.iter().map(|f| (f.index, f.sender_fault)).collect::<Vec<_>>(), [(1, true)]);
        assert_eq!(failures[0].code, "InvalidParameterValue");
        assert_eq!(
            queues.depth(&url).await.expect("depth"),
            QueueDepth { visible: 1, in_flight: 0, delayed: 1 }
        );

        send(&queues, &url, &"x".repeat(MAX), 0).await;
        let over = queues.send(&url, &NewMessage::new("x".repeat(MAX + 1), 0)).await;
        assert_eq!(refusal(over), Refusal::InvalidRequest);
        // Attributes count toward the size: name, type ("String") and value, 8 bytes: one too many.
        let with_attribute = NewMessage::new("x".repeat(MAX - 7), 0).with_attribute("k", "v");
        assert_eq!(refusal(queues.send(&url, &with_attribute).await), Refusal::InvalidRequest);
        assert_eq!(refusal(queues.send(&url, &NewMessage::new("", 0)).await), Refusal::InvalidRequest);
        let receipts: Vec<String> = (0..11).map(|i| format!("r{i}")).collect();
        assert_eq!(refusal(queues.delete_batch(&url, &receipts).await), Refusal::TooManyEntries);
        assert_eq!(refusal(queues.receive(&url, &Receive::new(11, 0, None)).await), Refusal::InvalidRequest);
        assert_eq!(
            refusal(queues.receive(&url, &Receive::new(1, 0, Some(43_201))).await),
            Refusal::InvalidRequest
        );
        assert_eq!(refusal(queues.depth("memory://sqs/000000000000/none").await), Refusal::NoSuchQueue);
    }

    #[tokio::test]
    async fn duplicate_next_hands_out_a_second_copy_once() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        let id = send(&queues, &url, "m", 0).await;
        queues.duplicate_next(&url).expect("duplicate");
        let got = queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive");
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|m| m.message_id == id && m.body == "m"));
        assert_ne!(got[0].receipt_handle, got[1].receipt_handle);
        assert_eq!((got[0].receive_count, got[1].receive_count), (1, 2));
        assert!(queues.receive(&url, &Receive::new(10, 0, None)).await.expect("receive").is_empty());
        assert!(
            queues.delete_batch(&url, &[got[1].receipt_handle.clone()]).await.expect("delete").is_empty()
        );
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default());
    }

    #[tokio::test]
    async fn old_receipts_delete_and_deleting_twice_succeeds_but_unknown_receipts_are_refused() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        send(&queues, &url, "m", 0).await;
        let old = queues.receive(&url, &Receive::new(1, 0, Some(0))).await.expect("receive")[0]
            .receipt_handle
            .clone();
        let new =
            queues.receive(&url, &Receive::new(1, 0, None)).await.expect("receive")[0].receipt_handle.clone();
        assert!(queues.delete_batch(&url, &[old]).await.expect("delete").is_empty());
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default());
        let failures = queues.delete_batch(&url, &[new.clone(), "bogus".into()]).await.expect("delete");
        assert_eq!(
            failures.iter().map(|f| (f.index, f.code.as_str())).collect::<Vec<_>>(),
            [(1, "ReceiptHandleIsInvalid")]
        );
        assert_eq!(refusal(queues.change_visibility(&url, &new, 5).await), Refusal::InvalidReceipt);
    }

    #[tokio::test]
    async fn injected_throttling_fails_the_next_calls_as_transient_and_every_call_is_counted() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        queues.throttle_next(2);
        for _ in 0..2 {
            let err = queues.send(&url, &NewMessage::new("m", 0)).await.expect_err("throttled");
            assert!(err.is_transient(), "{err}");
        }
        send(&queues, &url, "m", 0).await;
        assert_eq!(queues.depth(&url).await.expect("depth").visible, 1);
        let counts = queues.requests().snapshot();
        assert_eq!(counts.get("SQS:SendMessage"), Some(&3));
        assert_eq!(counts.get("SQS:GetQueueAttributes"), Some(&1));
    }

    #[tokio::test]
    async fn a_throttled_or_deleted_queue_fails_every_call_until_it_is_back() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        queues.set_throttled(true);
        for _ in 0..3 {
            assert!(queues.send(&url, &NewMessage::new("m", 0)).await.expect_err("throttled").is_transient());
        }
        queues.set_throttled(false);
        send(&queues, &url, "m", 0).await;
        queues.delete_queue(&url).expect("delete");
        assert_eq!(refusal(queues.send(&url, &NewMessage::new("m", 0)).await), Refusal::NoSuchQueue);
        assert_eq!(queues.create_queue("q", QueueSettings::new(30)).expect("create again"), url);
        assert_eq!(
            queues.depth(&url).await.expect("depth"),
            QueueDepth::default(),
            "its messages went with it"
        );
    }

    async fn receive_one(queues: &MemoryQueues, url: &str, visibility: Option<i32>) -> Received {
        let mut got = queues.receive(url, &Receive::new(1, 0, visibility)).await.expect("receive");
        assert_eq!(got.len(), 1, "{got:?}");
        got.remove(0)
    }

    #[tokio::test]
    async fn with_sqs_receipts_a_stale_receipt_deletes_nothing_and_the_latest_does() {
        let (_clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        queues.set_stale_receipts_kept(true);
        send(&queues, &url, "m", 0).await;
        let old = receive_one(&queues, &url, Some(0)).await;
        let latest = receive_one(&queues, &url, Some(0)).await;
        assert!(queues.delete_batch(&url, &[old.receipt_handle]).await.expect("delete").is_empty());
        let again = receive_one(&queues, &url, None).await;
        assert_eq!((again.message_id.as_str(), again.receive_count), (latest.message_id.as_str(), 3));
        assert!(queues.delete_batch(&url, &[again.receipt_handle]).await.expect("delete").is_empty());
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default());
    }

    #[tokio::test]
    async fn a_copy_a_delete_missed_is_delivered_again_once_its_visibility_runs_out() {
        let (clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        queues.keep_next_deletes(&url, 1).expect("keep");
        send(&queues, &url, "a", 0).await;
        send(&queues, &url, "b", 0).await;
        let a = receive_one(&queues, &url, None).await;
        assert!(queues.delete_batch(&url, &[a.receipt_handle]).await.expect("delete").is_empty());
        let b = receive_one(&queues, &url, None).await;
        assert!(queues.delete_batch(&url, &[b.receipt_handle]).await.expect("delete").is_empty());
        pass(&clock, 30);
        let back = receive_one(&queues, &url, None).await;
        assert_eq!((back.body.as_str(), back.receive_count), ("a", 2), "only the first delete missed");
        assert!(queues.delete_batch(&url, &[back.receipt_handle]).await.expect("delete").is_empty());
        pass(&clock, 30);
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default());

        // Misses are rare and independent: one message's delete is missed once, not each time.
        queues.keep_next_deletes(&url, 3).expect("keep");
        send(&queues, &url, "c", 0).await;
        let c = receive_one(&queues, &url, None).await;
        assert!(queues.delete_batch(&url, &[c.receipt_handle]).await.expect("delete").is_empty());
        pass(&clock, 30);
        let back = receive_one(&queues, &url, None).await;
        assert!(queues.delete_batch(&url, &[back.receipt_handle]).await.expect("delete").is_empty());
        pass(&clock, 30);
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default(), "its second delete held");
    }

    #[tokio::test]
    async fn lagging_depths_count_messages_only_a_while_after_they_were_sent() {
        let (clock, queues) = setup();
        let url = queues.create_queue("q", QueueSettings::new(30)).expect("create");
        queues.set_depth_lag(std::time::Duration::from_secs(60));
        send(&queues, &url, "a", 0).await;
        pass(&clock, 30);
        send(&queues, &url, "b", 0).await;
        assert_eq!(receive_one(&queues, &url, Some(120)).await.body, "a");
        assert_eq!(queues.depth(&url).await.expect("depth"), QueueDepth::default(), "not counted yet");
        pass(&clock, 31);
        let depth = queues.depth(&url).await.expect("depth");
        assert_eq!(depth, QueueDepth { visible: 0, in_flight: 1, delayed: 0 }, "a, not yet b");
        queues.set_depth_lag(std::time::Duration::ZERO);
        let depth = queues.depth(&url).await.expect("depth");
        assert_eq!(depth, QueueDepth { visible: 1, in_flight: 1, delayed: 0 });
    }
}
