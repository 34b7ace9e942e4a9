//! Latency and interleaving (issue 25, item 1): every call the handlers make to the table, the
//! queues and the bucket takes a seeded time on the way there and on the way back, and yields
//! meanwhile, so another actor's writes land between a read and the write that follows it, as
//! they do between two round trips to AWS.
//!
//! The draws: most calls take a few milliseconds (DynamoDB answers in "single-digit
//! milliseconds": <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Introduction.html>);
//! one in 50 is slow (up to a second) and one in 1,000 takes seconds, as a call the SDK retried
//! with backoff does before it answers
//! (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jobq::ports::blobs::{BlobError, Blobs};
use jobq::ports::table::{
    BatchGot, Cond, IndexQuery, Item, QueryPage, Table, TableError, TransactUpdate, Update,
};
use jobq::queue::{
    BatchEntry, EntryFailure, MessageQueue, NewMessage, QueueDepth, QueueError, Receive, Received,
};

/// The seeded latencies of one run, shared by every decorated port.
#[derive(Debug)]
pub struct Latency {
    rng: Mutex<fastrand::Rng>,
    calls: AtomicU64,
    slow: AtomicU64,
}

impl Latency {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Latency {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            calls: AtomicU64::new(0),
            slow: AtomicU64::new(0),
        })
    }

    /// One leg of a round trip.
    fn draw(&self) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let micros = match rng.u32(..1000) {
            0 => rng.u64(1_000_000..=4_000_000),
            1..=20 => rng.u64(50_000..=1_000_000),
            _ => rng.u64(1_000..=12_000),
        };
        if micros >= 50_000 {
            self.slow.fetch_add(1, Ordering::Relaxed);
        }
        Duration::from_micros(micros)
    }

    /// Wait the request's way there, make the call, wait the answer's way back.
    async fn around<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.draw()).await;
        let answer = call.await;
        tokio::time::sleep(self.draw()).await;
        answer
    }

    /// Calls delayed so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Legs that took 50 ms or more.
    pub fn slow_legs(&self) -> u64 {
        self.slow.load(Ordering::Relaxed)
    }
}

/// The table, each call delayed.
#[derive(Debug)]
pub struct SlowTable(pub Arc<dyn Table>, pub Arc<Latency>);

#[async_trait::async_trait]
impl Table for SlowTable {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.1.around(self.0.put(item, condition)).await
    }

    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        self.1.around(self.0.get(key, consistent)).await
    }

    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        self.1.around(self.0.update(key, update, cond)).await
    }

    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.1.around(self.0.delete(key, condition)).await
    }

    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.1.around(self.0.batch_get(keys)).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.1.around(self.0.batch_put(items)).await
    }

    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.1.around(self.0.query(query)).await
    }

    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.1.around(self.0.transact_update(updates)).await
    }
}

/// The message queues, each call delayed.
#[derive(Debug)]
pub struct SlowQueues(pub Arc<dyn MessageQueue>, pub Arc<Latency>);

#[async_trait::async_trait]
impl MessageQueue for SlowQueues {
    async fn send(&self, url: &str, message: &NewMessage) -> Result<String, QueueError> {
        self.1.around(self.0.send(url, message)).await
    }

    async fn send_batch(&self, url: &str, entries: &[BatchEntry]) -> Result<Vec<EntryFailure>, QueueError> {
        self.1.around(self.0.send_batch(url, entries)).await
    }

    async fn receive(&self, url: &str, request: &Receive) -> Result<Vec<Received>, QueueError> {
        self.1.around(self.0.receive(url, request)).await
    }

    async fn change_visibility(&self, url: &str, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        self.1.around(self.0.change_visibility(url, receipt, seconds)).await
    }

    async fn change_visibility_batch(
        &self,
        url: &str,
        receipts: &[String],
        seconds: i32,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        self.1.around(self.0.change_visibility_batch(url, receipts, seconds)).await
    }

    async fn delete_batch(&self, url: &str, receipts: &[String]) -> Result<Vec<EntryFailure>, QueueError> {
        self.1.around(self.0.delete_batch(url, receipts)).await
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError> {
        self.1.around(self.0.depth(url)).await
    }

    async fn arn(&self, url: &str) -> Result<String, QueueError> {
        self.1.around(self.0.arn(url)).await
    }
}

/// The bucket, each call delayed.
#[derive(Debug)]
pub struct SlowBlobs(pub Arc<dyn Blobs>, pub Arc<Latency>);

#[async_trait::async_trait]
impl Blobs for SlowBlobs {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError> {
        self.1.around(self.0.put(key, body)).await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        self.1.around(self.0.get(key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.1.around(self.0.delete(key)).await
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.1.around(self.0.check()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobq::ports::table::Attr;

    fn item(v: i64) -> Item {
        Item::from([("pk".to_owned(), Attr::s("job#1")), ("v".to_owned(), Attr::n(v))])
    }

    /// A reader reads the item and writes it back on condition it is unchanged, while another
    /// writer changes it straight in `memory` every half millisecond: the reader's write.
    async fn read_then_write(
        table: Arc<dyn Table>,
        memory: &jobq::adapters::memory::MemoryTable,
    ) -> Result<(), TableError> {
        table.put(item(0), None).await?;
        let reader = tokio::spawn(async move {
            let seen = table.get("job#1", true).await.ok().flatten();
            let v = seen.and_then(|i| i.get("v").and_then(Attr::as_i64)).unwrap_or(-1);
            table.put(item(v + 1_000), Some(&Cond::eq("v", Attr::n(v)))).await
        });
        let mut other = 0;
        while !reader.is_finished() {
            other += 1;
            let _ = memory.put(item(other), None).await;
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        reader.await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A read and the write that follows it are two round trips: another caller's write lands
    /// between them, and the conditional write that assumed the read finds the item changed.
    /// Without the latency the two calls run back to back and nothing lands between.
    #[tokio::test(start_paused = true)]
    async fn another_write_lands_between_a_read_and_the_write_after_it() {
        let clock: Arc<dyn jobq::ports::Clock> = Arc::new(jobq::ports::TokioClock::starting_at(
            chrono::DateTime::from_timestamp(crate::world::EPOCH_SECONDS, 0).unwrap_or_default(),
        ));
        let memory = jobq::adapters::memory::MemoryTable::new(clock);
        let bare = read_then_write(Arc::new(memory.clone()), &memory).await;
        assert!(bare.is_ok(), "no latency, no interleaving: {bare:?}");

        let started = tokio::time::Instant::now();
        let slow = Arc::new(SlowTable(Arc::new(memory.clone()), Latency::new(1)));
        let wrote = read_then_write(slow, &memory).await;
        assert!(started.elapsed() >= Duration::from_millis(6), "six legs of at least 1 ms each");
        assert!(matches!(wrote, Err(TableError::ConditionFailed { .. })), "{wrote:?}");
    }

    #[test]
    fn most_legs_take_milliseconds_and_some_take_seconds() {
        let latency = Latency::new(7);
        let legs: Vec<Duration> = (0..100_000).map(|_| latency.draw()).collect();
        let fast = legs.iter().filter(|d| **d < Duration::from_millis(13)).count();
        let seconds = legs.iter().filter(|d| **d >= Duration::from_secs(1)).count();
        assert!(fast > 95_000, "{fast} fast legs");
        assert!((50..=200).contains(&seconds), "{seconds} legs of a second or more");
        assert_eq!(latency.slow_legs() as usize, legs.len() - fast);
    }
}
