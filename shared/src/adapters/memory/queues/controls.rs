//! What tests and the simulation do to the in-memory queues beyond SQS's API: delete a queue,
//! change its visibility timeout, hand out duplicates, throttle calls, look at what it holds, and
//! switch on what SQS does that moto does not (stale receipts, copies a delete missed, depths
//! that lag).

use super::limits::check_visibility;
use super::{MemoryQueues, QueueError};

impl MemoryQueues {
    /// DeleteQueue: the queue and its messages go; calls to its URL fail with `NoSuchQueue` until
    /// a queue of that name is created again (a test's way to fail one tier's sends for good).
    pub fn delete_queue(&self, url: &str) -> Result<(), QueueError> {
        const OPERATION: &str = "DeleteQueue";
        let mut state = self.begin(OPERATION)?;
        state.queue(OPERATION, url)?;
        state.queues.remove(url);
        Ok(())
    }

    /// SetQueueAttributes(VisibilityTimeout).
    pub fn set_visibility_timeout(&self, url: &str, visibility: i32) -> Result<(), QueueError> {
        const OPERATION: &str = "SetQueueAttributes";
        let mut state = self.begin(OPERATION)?;
        check_visibility(OPERATION, visibility)?;
        state.queue(OPERATION, url)?.settings.visibility_timeout = visibility;
        Ok(())
    }

    /// SetQueueAttributes(RedrivePolicy) with a new maxReceiveCount (the queue must have a
    /// redrive policy).
    pub fn set_max_receive_count(&self, url: &str, max_receive_count: u32) -> Result<(), QueueError> {
        const OPERATION: &str = "SetQueueAttributes";
        let mut state = self.begin(OPERATION)?;
        if let Some(redrive) = state.queue(OPERATION, url)?.settings.redrive.as_mut() {
            redrive.max_receive_count = max_receive_count;
        }
        Ok(())
    }

    /// The next receive on `url` that has room also hands out a second copy of a message in
    /// flight (with a receipt of its own, counted as a receive), as SQS's at-least-once delivery
    /// sometimes does. Not counted as a request.
    pub fn duplicate_next(&self, url: &str) -> Result<(), QueueError> {
        self.lock().queue("duplicate_next", url)?.duplicates += 1;
        Ok(())
    }

    /// A message put on `url` by another AWS service (S3's event notifications), after
    /// `delay_seconds`: not a request of the deployment, so neither counted nor throttled (the
    /// sending service retries on its own).
    pub fn deliver_event(&self, url: &str, body: &str, delay_seconds: i32) -> Result<(), QueueError> {
        const OPERATION: &str = "deliver_event";
        let now = self.clock.now();
        let mut state = self.lock();
        let queue = state.queue(OPERATION, url)?;
        super::limits::check_delay(OPERATION, delay_seconds)?;
        queue.push(body, std::collections::HashMap::new(), delay_seconds, now);
        Ok(())
    }

    /// The body of every message `url` holds, visible, in flight or delayed (none for a queue
    /// that does not exist): what a simulation's invariants look at. Not counted as a request.
    pub fn bodies(&self, url: &str) -> Vec<String> {
        let state = self.lock();
        state.queues.get(url).map(|q| q.messages.iter().map(|m| m.body.clone()).collect()).unwrap_or_default()
    }

    /// How many messages were ever sent to `url`, batch entries included (0 for a queue that
    /// does not exist): how many copies a job cost. Not counted as a request.
    pub fn messages_sent(&self, url: &str) -> u64 {
        self.lock().queues.get(url).map_or(0, |q| q.sent)
    }

    /// Receipts as SQS treats them rather than as moto does: a delete by a receipt from an
    /// earlier receive of a message received again since succeeds, and the message stays ("you
    /// must provide the most recently received ReceiptHandle for the message (otherwise, the
    /// request succeeds, but the message will not be deleted)":
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html>).
    /// Off (moto's way, held by the conformance suite) unless set. Not counted as a request.
    pub fn set_stale_receipts_kept(&self, on: bool) {
        self.lock().stale_receipts_kept = on;
    }

    /// The next `deletes` deletes on `url` succeed but leave the message, which is delivered
    /// again once its visibility runs out: a copy on a server that was unavailable when it was
    /// deleted (standard queues deliver at least once:
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues-at-least-once-delivery.html>).
    /// Sets the count (0 ends it). Not counted as a request.
    pub fn keep_next_deletes(&self, url: &str, deletes: u32) -> Result<(), QueueError> {
        self.lock().queue("keep_next_deletes", url)?.deletes_kept = deletes;
        Ok(())
    }

    /// Depths counted as of `lag` ago (zero: exact). SQS's counts are approximate, and may
    /// take a minute after sends stop to settle:
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>.
    /// Not counted as a request.
    pub fn set_depth_lag(&self, lag: std::time::Duration) {
        self.lock().depth_lag = chrono::Duration::from_std(lag).unwrap_or_default();
    }

    /// The next `calls` calls, of any operation on any queue, fail as throttled (transient).
    pub fn throttle_next(&self, calls: u32) {
        self.lock().throttle_next += calls;
    }

    /// Every call fails as throttled (transient) until this is called with `false`.
    pub fn set_throttled(&self, on: bool) {
        self.lock().throttled = on;
    }
}
