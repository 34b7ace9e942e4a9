//! An in-memory DynamoDB table behind the table port, for tests and the simulation.
//!
//! What it keeps of DynamoDB: conditional writes applied atomically (one lock), conditions and
//! updates evaluated by [`crate::ports::eval`] from the same typed values DynamoDB receives, the
//! 400 KB item limit (an oversize write is refused whole), ReturnValues, listing indexes with their
//! projections, Limit before the filter and 1 MB pages, BatchGetItem and BatchWriteItem limits,
//! and TTL deletion that lags. What it adds on demand: throttling of the whole table or of hot
//! partitions ([`hot`]), writes whose response is lost after they took effect, and eventually
//! consistent reads ([`lag`]): off, every read sees the latest write.

mod changes;
mod hot;
mod lag;
mod query;
pub mod stream;
mod transact;
mod ttl;

pub use changes::MemoryChanges;
pub use hot::HotPartition;
pub use ttl::TtlLag;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::capacity::{Classifier, Meter, WriteUnits};
use crate::ports::clock::{Clock, SystemClock};
use crate::ports::eval::{self, ITEM_SIZE_MAX, Invalid};
use crate::ports::table::IndexDef;
use crate::ports::table::{
    Attr, BatchGot, Cond, IndexQuery, Item, QueryPage, Returns, Table, TableError, TransactUpdate, Update,
};
use crate::store::keys::{INDEXES, PK, TTL_ATTRIBUTE};

/// DynamoDB's limits per request.
const BATCH_GET_MAX: usize = 100;
const BATCH_PUT_MAX: usize = 25;
const PAGE_BYTES_MAX: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct State {
    items: HashMap<String, Item>,
    /// Per index name: (index partition, index sort key) -> table key.
    indexes: HashMap<&'static str, BTreeMap<(String, String), String>>,
    requests: BTreeMap<&'static str, u64>,
    /// The change stream, when one is read ([`MemoryTable::changes`]).
    changes: Option<stream::Stream>,
    /// Keys a transaction is writing now ([`MemoryTable::set_transaction_time`]).
    transacting: std::collections::HashSet<String>,
    /// Transactions cancelled for a conflict, by the item they met another on.
    conflicts: BTreeMap<String, u64>,
    /// Write units charged (see [`super::capacity`]).
    meter: Meter,
    /// Recent versions, when default reads lag ([`MemoryTable::set_read_lag`]).
    lag: Option<lag::Lag>,
    /// Partitions throttled while the rest is served ([`MemoryTable::set_hot`]).
    hot: hot::Hot,
    /// How late expired items are deleted ([`MemoryTable::expire`]).
    ttl: TtlLag,
}

#[derive(Debug, Default)]
struct Faults {
    throttle_next: AtomicU32,
    throttled: AtomicBool,
    refusing: AtomicBool,
    lose_next: AtomicU32,
    /// Each request's service time, in microseconds (tokio's time: free under a paused runtime).
    latency_micros: std::sync::atomic::AtomicU64,
    /// How long a transaction holds its items, in microseconds (0: it takes no time).
    transaction_micros: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone)]
pub struct MemoryTable {
    state: Arc<Mutex<State>>,
    faults: Arc<Faults>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryTable {
    fn default() -> Self {
        MemoryTable::new(Arc::new(SystemClock))
    }
}

impl MemoryTable {
    /// An empty table whose TTL deletions follow `clock` (DynamoDB's lag: hours to two days;
    /// here one hour unless [`MemoryTable::with_ttl_lag`] or [`MemoryTable::set_ttl_lag`] says
    /// otherwise).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryTable { state: Arc::default(), faults: Arc::default(), clock }
    }

    pub fn with_ttl_lag(self, lag: Duration) -> Self {
        self.set_ttl_lag(TtlLag::Fixed(lag));
        self
    }

    /// From now on, expired items are deleted `lag` after their expiry (see [`ttl`]).
    pub fn set_ttl_lag(&self, lag: TtlLag) {
        self.lock().ttl = lag;
    }

    /// With a seed: from now on, reads without `ConsistentRead` (GetItem, BatchGetItem, and every
    /// index Query) see the table as it was a moment ago, the moment drawn per read from `seed`
    /// (see [`lag`]). `None`: every read sees the latest write again.
    pub fn set_read_lag(&self, seed: Option<u64>) {
        self.lock().lag = seed.map(|seed| lag::Lag::new(self.clock.clone(), seed));
    }

    /// The next `n` requests are throttled (nothing applied).
    pub fn throttle_next(&self, n: u32) {
        self.faults.throttle_next.store(n, Ordering::SeqCst);
    }

    /// Every request takes `latency` (of tokio's time) before it is served, as DynamoDB's
    /// few milliseconds do: what a sweep or a release can do in a minute depends on it.
    pub fn set_latency(&self, latency: std::time::Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.faults.latency_micros.store(micros, Ordering::SeqCst);
    }

    async fn wait(&self) {
        let micros = self.faults.latency_micros.load(Ordering::SeqCst);
        if micros > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
        }
    }

    /// Requests touching `partition` (its item, or for an index partition its Query and the
    /// writes that move an entry in or out of it) are throttled until called with `false`; the
    /// rest of the table is served ([`hot`]).
    pub fn set_hot(&self, partition: HotPartition, on: bool) {
        self.lock().hot.set(partition, on);
    }

    /// No partition is hot any more.
    pub fn clear_hot(&self) {
        self.lock().hot.clear();
    }

    /// Every request is throttled until this is called with `false`.
    pub fn set_throttled(&self, on: bool) {
        self.faults.throttled.store(on, Ordering::SeqCst);
    }

    /// Every request is refused as such (as with a missing IAM permission) until this is called
    /// with `false`: an error that sending again does not cure.
    pub fn set_refusing(&self, on: bool) {
        self.faults.refusing.store(on, Ordering::SeqCst);
    }

    /// The next `n` writes take effect, but their answer is lost (the caller sees a transient error).
    pub fn lose_next_responses(&self, n: u32) {
        self.faults.lose_next.store(n, Ordering::SeqCst);
    }

    /// Every transaction from now on takes `time` (of tokio's time) between taking its items and
    /// writing them; another transaction on one of them meanwhile is cancelled, as DynamoDB
    /// cancels it with the reason `TransactionConflict`
    /// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling>).
    pub fn set_transaction_time(&self, time: std::time::Duration) {
        let micros = u64::try_from(time.as_micros()).unwrap_or(u64::MAX);
        self.faults.transaction_micros.store(micros, Ordering::SeqCst);
    }

    /// The table's change stream, recorded from now on (as enabling DynamoDB Streams with new and
    /// old images), spread over [`stream::SHARDS`] shards and kept 24 hours ([`stream`]). One
    /// reader per shard: a read after a sequence number lets go of the changes up to it.
    pub fn changes(&self) -> MemoryChanges {
        let mut state = self.lock();
        state.changes.get_or_insert_with(|| stream::Stream::new(self.clock.clone()));
        MemoryChanges { table: self.clone(), shard: None }
    }

    /// Transactions cancelled for a conflict so far, by the item they met another on.
    pub fn conflicts(&self) -> BTreeMap<String, u64> {
        self.lock().conflicts.clone()
    }

    /// Changes recorded and not yet let go of.
    pub fn changes_pending(&self) -> usize {
        self.lock().changes.as_ref().map_or(0, stream::Stream::pending)
    }

    /// Requests answered so far, by operation (throttled ones included).
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.lock().requests.clone()
    }

    /// Write units charged so far, as DynamoDB would charge them (see [`super::capacity`]).
    pub fn write_units(&self) -> WriteUnits {
        self.lock().meter.units.clone()
    }

    pub fn reset_write_units(&self) {
        self.lock().meter.units = WriteUnits::default();
    }

    /// From now on, write units are also tallied by step, as `classify` names each write
    /// (e.g. [`super::capacity::job_step`]).
    pub fn classify_writes(&self, classify: Classifier) {
        self.lock().meter.classify = Some(classify);
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What DynamoDB's TTL process does, late: delete items whose expiry passed over the lag ago.
    /// Returns how many were deleted.
    pub fn expire(&self) -> usize {
        let now = self.clock.now();
        let mut state = self.lock();
        let lag = state.ttl;
        let expired: Vec<String> = state
            .items
            .iter()
            .filter(|(key, item)| {
                let expiry = item.get(TTL_ATTRIBUTE).and_then(Attr::as_i64);
                expiry.is_some_and(|t| t < (now - lag.of(key, t)).timestamp())
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            state.store(key, None);
        }
        expired.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count the request and apply an injected throttle, if any.
    fn begin(&self, operation: &'static str) -> Result<std::sync::MutexGuard<'_, State>, TableError> {
        let mut state = self.lock();
        *state.requests.entry(operation).or_default() += 1;
        let once =
            self.faults.throttle_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if self.faults.throttled.load(Ordering::SeqCst) || once.is_ok() {
            return Err(TableError::Transient {
                operation,
                source: "ThrottlingException: rate exceeded".into(),
            });
        }
        if self.faults.refusing.load(Ordering::SeqCst) {
            return Err(TableError::Rejected {
                operation,
                source: "AccessDeniedException: not authorized".into(),
            });
        }
        Ok(state)
    }

    /// After a write took effect: its answer may be lost on demand.
    fn answer<T>(&self, operation: &'static str, value: T) -> Result<T, TableError> {
        match self.faults.lose_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => {
                Err(TableError::Transient { operation, source: "connection lost after the write".into() })
            }
            Err(_) => Ok(value),
        }
    }
}

impl State {
    /// Replace (or delete) the item at `key`, moving its index entries with it.
    fn store(&mut self, key: &str, item: Option<Item>) {
        let old = self.items.remove(key);
        if let Some(lag) = &mut self.lag
            && (old.is_some() || item.is_some())
        {
            lag.record(key, old.clone());
        }
        if let Some(old) = &old {
            for index in INDEXES {
                if let Some(entry) = index_entry(&index, old) {
                    self.indexes.entry(index.name).or_default().remove(&entry);
                }
            }
        }
        if let Some(changes) = &mut self.changes
            && (old.is_some() || item.is_some())
        {
            changes.record(key, old, item.clone());
        }
        if let Some(item) = item {
            for index in INDEXES {
                if let Some(entry) = index_entry(&index, &item) {
                    self.indexes.entry(index.name).or_default().insert(entry, key.to_owned());
                }
            }
            self.items.insert(key.to_owned(), item);
        }
    }

    /// A write that took effect (TTL deletions use [`State::store`]: they are free).
    fn write(&mut self, operation: &'static str, key: &str, item: Option<Item>) {
        self.meter.applied(operation, key, self.items.get(key), item.as_ref());
        self.store(key, item);
    }

    /// The instant a read sees: `None` for the latest (a consistent read, or no lag).
    fn read_at(&mut self, consistent: bool) -> Option<DateTime<Utc>> {
        self.lag.as_mut().filter(|_| !consistent).map(lag::Lag::read_at)
    }

    /// The item at `key` as a read at `at` sees it.
    fn item_at(&self, key: &str, at: Option<DateTime<Utc>>) -> Option<&Item> {
        match (at, &self.lag) {
            (Some(at), Some(lag)) => lag.as_of(key, self.items.get(key), at),
            _ => self.items.get(key),
        }
    }

    fn check(
        &mut self,
        operation: &'static str,
        key: &str,
        condition: Option<&Cond>,
    ) -> Result<(), TableError> {
        let current = self.items.get(key);
        match condition {
            Some(condition) if !eval::holds(condition, current) => {
                self.meter.refused(operation, current);
                Err(TableError::ConditionFailed { operation, current: current.cloned().map(Box::new) })
            }
            _ => Ok(()),
        }
    }
}

/// An item's place in an index: present only when it has both index keys (sparse indexes).
fn index_entry(index: &IndexDef, item: &Item) -> Option<(String, String)> {
    Some((item.get(index.pk)?.as_str()?.to_owned(), item.get(index.sk)?.as_str()?.to_owned()))
}

/// What an index holds of an item: the table and index keys and the projected attributes.
fn project(index: &IndexDef, item: &Item) -> Item {
    [PK, index.pk, index.sk]
        .iter()
        .chain(index.projected)
        .filter_map(|name| item.get(*name).map(|v| ((*name).to_owned(), v.clone())))
        .collect()
}

fn rejected(operation: &'static str, invalid: Invalid) -> TableError {
    TableError::Rejected { operation, source: format!("ValidationException: {invalid}").into() }
}

fn key_of(item: &Item) -> Option<String> {
    item.get(PK).and_then(Attr::as_str).map(str::to_owned)
}

#[async_trait::async_trait]
impl Table for MemoryTable {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.wait().await;
        const OP: &str = "PutItem";
        let mut state = self.begin(OP)?;
        let key = key_of(&item).ok_or_else(|| rejected(OP, Invalid::Missing(PK.to_owned())))?;
        let size = eval::item_size(&item);
        if size > ITEM_SIZE_MAX {
            return Err(rejected(OP, Invalid::TooLarge(size)));
        }
        state.hot_write(OP, &key, Some(&item))?;
        state.check(OP, &key, condition)?;
        state.write(OP, &key, Some(item));
        drop(state);
        self.answer(OP, ())
    }

    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        self.wait().await;
        let mut state = self.begin("GetItem")?;
        state.hot_item("GetItem", key)?;
        let at = state.read_at(consistent);
        Ok(state.item_at(key, at).cloned())
    }

    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        self.wait().await;
        const OP: &str = "UpdateItem";
        let mut state = self.begin(OP)?;
        state.hot_item(OP, key)?;
        state.check(OP, key, cond)?;
        let next = eval::apply(update, state.items.get(key), (PK, key)).map_err(|e| rejected(OP, e))?;
        state.hot_write(OP, key, Some(&next))?;
        state.write(OP, key, Some(next.clone()));
        drop(state);
        self.answer(OP, (update.returns == Returns::AllNew).then_some(next))
    }

    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.wait().await;
        const OP: &str = "DeleteItem";
        let mut state = self.begin(OP)?;
        state.hot_write(OP, key, None)?;
        state.check(OP, key, condition)?;
        state.write(OP, key, None);
        drop(state);
        self.answer(OP, ())
    }

    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.wait().await;
        const OP: &str = "BatchGetItem";
        if keys.len() > BATCH_GET_MAX {
            return Err(rejected(OP, Invalid::TooLarge(keys.len())));
        }
        let mut state = self.begin(OP)?;
        // Without ConsistentRead, as the adapter sends it.
        let at = state.read_at(false);
        let (unprocessed, served): (Vec<&String>, Vec<&String>) =
            keys.iter().partition(|k| state.hot.item(k));
        let items = served.into_iter().filter_map(|k| state.item_at(k, at).cloned()).collect();
        Ok(BatchGot { items, unprocessed: unprocessed.into_iter().cloned().collect() })
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.wait().await;
        const OP: &str = "BatchWriteItem";
        if items.len() > BATCH_PUT_MAX {
            return Err(rejected(OP, Invalid::TooLarge(items.len())));
        }
        let mut state = self.begin(OP)?;
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let key = key_of(&item).ok_or_else(|| rejected(OP, Invalid::Missing(PK.to_owned())))?;
            let size = eval::item_size(&item);
            if size > ITEM_SIZE_MAX {
                return Err(rejected(OP, Invalid::TooLarge(size)));
            }
            keyed.push((key, item));
        }
        let mut unprocessed = Vec::new();
        for (key, item) in keyed {
            match state.hot.write(&key, state.items.get(&key), Some(&item)) {
                true => unprocessed.push(item),
                false => state.write(OP, &key, Some(item)),
            }
        }
        drop(state);
        self.answer(OP, unprocessed)
    }

    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.wait().await;
        let mut state = self.begin("Query")?;
        state.hot_query(query)?;
        // An index is never read consistently.
        let at = state.read_at(false);
        Ok(query::run(&state, query, at))
    }

    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.wait().await;
        let held = self.take(updates)?;
        let micros = self.faults.transaction_micros.load(Ordering::SeqCst);
        if micros > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
        }
        let written = self.transact(updates);
        drop(held);
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::clock::ManualClock;
    use crate::ports::table::{Action, ChangeFeed, seq_order};

    fn job(key: &str, expires: Option<i64>) -> Item {
        let mut item = Item::from([(PK.to_owned(), Attr::s(key))]);
        if let Some(at) = expires {
            item.insert(TTL_ATTRIBUTE.to_owned(), Attr::n(at));
        }
        item
    }

    #[tokio::test]
    async fn throttled_requests_apply_nothing_and_are_counted() {
        let table = MemoryTable::default();
        table.throttle_next(2);
        for _ in 0..2 {
            let err = table.put(job("job#1", None), None).await.expect_err("throttled");
            assert!(err.is_transient(), "{err}");
        }
        assert!(table.is_empty());
        table.put(job("job#1", None), None).await.expect("third goes through");
        table.set_throttled(true);
        assert!(table.get("job#1", true).await.is_err());
        table.set_throttled(false);
        assert!(table.get("job#1", true).await.expect("get").is_some());
        assert_eq!(table.requests().get("PutItem"), Some(&3));
        assert_eq!(table.requests().get("GetItem"), Some(&2));
    }

    /// One hot partition is throttled while the rest of the table is served: its item, the
    /// Query of a hot index partition and the writes moving an entry into it; batches hand the
    /// hot keys back unprocessed.
    #[tokio::test]
    async fn a_hot_partition_is_throttled_and_the_rest_is_served() {
        let table = MemoryTable::default();
        table.put(job("pause", None), None).await.expect("put");
        table.set_hot(HotPartition::Item("pause".into()), true);
        let err = table.get("pause", true).await.expect_err("the hot item");
        assert!(err.is_transient() && err.to_string().contains("ProvisionedThroughputExceeded"), "{err}");
        let set = Update::new(vec![Action::Set("a".into(), Attr::n(1))]);
        assert!(table.update("pause", &set, None).await.expect_err("hot").is_transient());
        table.put(job("job#1", None), None).await.expect("another key is served");
        let got = table.batch_get(&["pause".into(), "job#1".into()]).await.expect("batch get");
        assert_eq!((got.items.len(), got.unprocessed), (1, vec!["pause".to_owned()]));
        let left = table.batch_put(vec![job("pause", None), job("job#2", None)]).await.expect("batch put");
        assert_eq!(left, vec![job("pause", None)], "the hot item comes back unprocessed");

        let by_due = crate::store::keys::BY_DUE;
        table.set_hot(HotPartition::Index { index: by_due.name, partition: "release#3".into() }, true);
        let due = |pk: &str| {
            Update::new(vec![
                Action::Set("d_pk".into(), Attr::s(pk)),
                Action::Set("d_sk".into(), Attr::s("t#1")),
            ])
        };
        let err = table.query(&IndexQuery::new(by_due, "release#3")).await.expect_err("hot shard");
        assert!(err.is_transient(), "{err}");
        table.query(&IndexQuery::new(by_due, "release#4")).await.expect("another shard is served");
        assert!(
            table.update("job#1", &due("release#3"), None).await.expect_err("into the shard").is_transient()
        );
        table.update("job#1", &due("release#4"), None).await.expect("into another shard");
        table.update("job#1", &set, None).await.expect("an update leaving its entry as it is");

        table.clear_hot();
        assert!(table.get("pause", true).await.expect("served again").is_some());
        table.update("job#1", &due("release#3"), None).await.expect("served again");
        assert_eq!(table.query(&IndexQuery::new(by_due, "release#3")).await.expect("query").items.len(), 1);
    }

    #[tokio::test]
    async fn a_lost_response_still_applies_the_write() {
        let table = MemoryTable::default();
        table.lose_next_responses(1);
        let set = Update::new(vec![Action::Set("a".into(), Attr::n(1))]);
        let err = table.update("job#1", &set, None).await.expect_err("answer lost");
        assert!(err.is_transient(), "{err}");
        let stored = table.get("job#1", true).await.expect("get").expect("written");
        assert_eq!(stored.get("a"), Some(&Attr::n(1)));
    }

    #[tokio::test]
    async fn ttl_deletes_only_after_the_lag() {
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let table = MemoryTable::new(Arc::new(clock.clone())).with_ttl_lag(Duration::hours(6));
        let expiry = clock.now().timestamp() + 60;
        table.put(job("job#old", Some(expiry)), None).await.expect("put");
        table.put(job("job#kept", None), None).await.expect("put");
        clock.advance(Duration::hours(1));
        assert_eq!(table.expire(), 0, "expired, but DynamoDB's TTL runs late");
        assert!(table.get("job#old", true).await.expect("get").is_some(), "still readable meanwhile");
        clock.advance(Duration::hours(6));
        assert_eq!(table.expire(), 1);
        assert_eq!(table.len(), 1);
    }

    /// Seeded, each expired item is deleted its own while later (hours to two days), and is read
    /// and queried as any other until then.
    #[tokio::test]
    async fn expired_items_are_read_and_queried_until_their_own_late_deletion() {
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let table = MemoryTable::new(Arc::new(clock.clone()));
        table.set_ttl_lag(TtlLag::Seeded(11));
        let expiry = clock.now().timestamp();
        let by_status = crate::store::keys::BY_STATUS;
        for i in 0..40 {
            let mut item = job(&format!("job#{i}"), Some(expiry));
            item.insert(by_status.pk.into(), Attr::s("completed"));
            item.insert(by_status.sk.into(), Attr::s(format!("{i:03}")));
            table.put(item, None).await.expect("put");
        }
        clock.advance(Duration::minutes(59));
        assert_eq!(table.expire(), 0, "none within the hour");
        assert!(table.get("job#0", false).await.expect("get").is_some(), "expired, still read");
        let page = table.query(&IndexQuery::new(by_status, "completed")).await.expect("query");
        assert_eq!(page.items.len(), 40, "and queried");
        let mut deleted = Vec::new();
        for _ in 0..48 {
            clock.advance(Duration::hours(1));
            deleted.push(table.expire());
        }
        assert_eq!(deleted.iter().sum::<usize>(), 40, "all gone within two days: {deleted:?}");
        assert!(deleted.iter().filter(|n| **n > 0).count() > 10, "each at its own time: {deleted:?}");
    }

    #[tokio::test]
    async fn a_page_reads_only_its_rows_of_a_large_partition() {
        let table = MemoryTable::default();
        let by_status = crate::store::keys::BY_STATUS;
        {
            let mut state = table.lock();
            for i in 0..20_000u32 {
                let mut item = job(&format!("job#{i}"), None);
                item.insert("s_pk".into(), Attr::s(if i % 2 == 0 { "queued#1" } else { "queued#2" }));
                item.insert("s_sk".into(), Attr::s(format!("t{i:06}")));
                state.store(&format!("job#{i}"), Some(item));
            }
        }
        let sk = |page: &QueryPage| -> Vec<String> {
            page.items.iter().filter_map(|i| i.get("s_sk")?.as_str().map(str::to_owned)).collect()
        };
        let mut q = IndexQuery::new(by_status, "queued#1");
        q.ascending = false;
        q.limit = Some(2);
        q.sort_below = Some("t010000".into());
        let page = table.query(&q).await.expect("query");
        assert_eq!(sk(&page), ["t009998", "t009996"]);
        q.start_after = page.last_key.clone();
        assert_eq!(sk(&table.query(&q).await.expect("next")), ["t009994", "t009992"]);

        let mut forward = IndexQuery::new(by_status, "queued#2");
        forward.limit = Some(1);
        forward.sort_below = Some("t000005".into());
        forward.start_after = Some(Item::from([("s_sk".to_owned(), Attr::s("t000009"))]));
        assert!(table.query(&forward).await.expect("past the end").items.is_empty(), "no panic, no rows");
    }

    #[tokio::test]
    async fn index_entries_follow_their_item() {
        let table = MemoryTable::default();
        let mut item = job("job#1", None);
        item.insert("s_pk".into(), Attr::s("queued#1"));
        item.insert("s_sk".into(), Attr::s("t#1"));
        table.put(item, None).await.expect("put");
        let moved = Update::new(vec![Action::Set("s_pk".into(), Attr::s("completed#1"))]);
        table.update("job#1", &moved.returning(Returns::Nothing), None).await.expect("update");
        let by_status = crate::store::keys::BY_STATUS;
        let queued = table.query(&IndexQuery::new(by_status, "queued#1")).await.expect("query");
        let completed = table.query(&IndexQuery::new(by_status, "completed#1")).await.expect("query");
        assert_eq!((queued.items.len(), completed.items.len()), (0, 1));
        table.delete("job#1", None).await.expect("delete");
        let completed = table.query(&IndexQuery::new(by_status, "completed#1")).await.expect("query");
        assert!(completed.items.is_empty());
    }

    fn at_epoch() -> ManualClock {
        ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"))
    }

    async fn lagging_reads(table: &MemoryTable, key: &str, n: usize) -> usize {
        let mut found = 0;
        for _ in 0..n {
            found += usize::from(table.get(key, false).await.expect("get").is_some());
        }
        found
    }

    #[tokio::test]
    async fn default_reads_may_miss_a_recent_write_and_consistent_ones_never_do() {
        let clock = at_epoch();
        let table = MemoryTable::new(Arc::new(clock.clone()));
        table.put(job("job#1", None), None).await.expect("put");
        assert_eq!(lagging_reads(&table, "job#1", 20).await, 20, "off by default: reads are current");

        table.set_read_lag(Some(7));
        table.put(job("job#2", None), None).await.expect("put");
        assert!(table.get("job#2", true).await.expect("get").is_some(), "ConsistentRead sees it");
        let seen = lagging_reads(&table, "job#2", 40).await;
        assert!(seen < 5, "just written: a default read sees the table of a moment ago ({seen} of 40)");
        let got = table.batch_get(&["job#1".into(), "job#2".into()]).await.expect("batch get");
        assert_eq!(got.items.len(), 1, "BatchGetItem lags too");

        clock.advance(Duration::milliseconds(900));
        let seen = lagging_reads(&table, "job#2", 200).await;
        assert!((100..200).contains(&seen), "most reads lag under a second, some longer ({seen} of 200)");
        clock.advance(Duration::milliseconds(lag::MAX_LAG_MILLIS));
        assert_eq!(lagging_reads(&table, "job#2", 40).await, 40, "no read lags longer than the maximum");

        table.delete("job#2", None).await.expect("delete");
        assert!(table.get("job#2", true).await.expect("get").is_none());
        assert!(lagging_reads(&table, "job#2", 20).await > 15, "a delete is seen late too");
        table.set_read_lag(None);
        assert_eq!(lagging_reads(&table, "job#2", 20).await, 0, "switched off: current again");
    }

    #[tokio::test]
    async fn a_lagging_index_query_sees_the_entries_of_a_moment_ago() {
        let clock = at_epoch();
        let table = MemoryTable::new(Arc::new(clock.clone()));
        table.set_read_lag(Some(3));
        let by_status = crate::store::keys::BY_STATUS;
        for (key, sk) in [("job#1", "t#1"), ("job#2", "t#2"), ("job#3", "t#3")] {
            let mut item = job(key, None);
            item.insert("s_pk".into(), Attr::s("queued#1"));
            item.insert("s_sk".into(), Attr::s(sk));
            table.put(item, None).await.expect("put");
        }
        clock.advance(Duration::seconds(10));
        let moved = Update::new(vec![Action::Set("s_pk".into(), Attr::s("completed#1"))]);
        table.update("job#2", &moved, None).await.expect("update");
        let sks = |page: QueryPage| -> Vec<String> {
            page.items.iter().filter_map(|i| Some(i.get("s_sk")?.as_str()?.to_owned())).collect()
        };
        let mut queued = IndexQuery::new(by_status, "queued#1");
        queued.ascending = false;
        let page = table.query(&queued).await.expect("query");
        assert_eq!(sks(page), ["t#3", "t#2", "t#1"], "the move is not in the index yet, in order");
        let completed = IndexQuery::new(by_status, "completed#1");
        assert!(table.query(&completed).await.expect("query").items.is_empty());

        clock.advance(Duration::milliseconds(lag::MAX_LAG_MILLIS));
        assert_eq!(sks(table.query(&queued).await.expect("query")), ["t#3", "t#1"]);
        assert_eq!(sks(table.query(&completed).await.expect("query")), ["t#2"]);
    }

    #[tokio::test]
    async fn the_stream_keeps_each_item_in_one_shard_in_order_and_a_day_at_most() {
        let clock = at_epoch();
        let table = MemoryTable::new(Arc::new(clock.clone()));
        let feed = table.changes();
        let keys: Vec<String> = (0..40).map(|i| format!("job#{i}")).collect();
        for round in 0..3 {
            for key in &keys {
                table
                    .update(key, &Update::new(vec![Action::Set("r".into(), Attr::n(round))]), None)
                    .await
                    .expect("write");
            }
        }
        let shards = feed.shards();
        assert_eq!(shards.len(), stream::SHARDS as usize);
        let mut seen = 0;
        for shard in &shards {
            let changes = feed.shard(shard).read(None, usize::MAX).await.expect("read");
            assert!(!changes.is_empty(), "{shard}: keys spread over every shard");
            assert!(changes.windows(2).all(|w| seq_order(&w[0].seq, &w[1].seq).is_lt()), "in order");
            for key in &keys {
                let rounds: Vec<Option<&Attr>> = changes
                    .iter()
                    .filter(|c| &c.key == key)
                    .map(|c| c.new.as_ref().and_then(|n| n.get("r")))
                    .collect();
                assert!(
                    rounds.is_empty() || rounds == [Some(&Attr::n(0)), Some(&Attr::n(1)), Some(&Attr::n(2))]
                );
            }
            seen += changes.len();
        }
        assert_eq!(seen, 120, "each change in exactly one shard");
        let all = feed.read(None, usize::MAX).await.expect("read all");
        assert_eq!(all.len(), 120);
        assert!(all.windows(2).all(|w| seq_order(&w[0].seq, &w[1].seq).is_lt()), "the whole stream in order");

        // A shard read after a change lets go of that shard's changes up to it, and only those.
        let first = feed.shard(&shards[0]).read(None, 1).await.expect("read")[0].seq.clone();
        let rest = feed.shard(&shards[0]).read(Some(&first), usize::MAX).await.expect("read");
        assert_eq!(table.changes_pending(), 119);
        assert!(rest.iter().all(|c| seq_order(&c.seq, &first).is_gt()));

        clock.advance(Duration::hours(23));
        table.put(job("job#late", None), None).await.expect("put");
        assert_eq!(table.changes_pending(), 120, "a day not yet over");
        clock.advance(Duration::hours(2));
        let left = feed.read(None, usize::MAX).await.expect("read");
        assert_eq!(
            left.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["job#late"],
            "older than 24 h: gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_transaction_meeting_another_on_an_item_is_cancelled_for_the_conflict() {
        let table = MemoryTable::default();
        table.set_transaction_time(std::time::Duration::from_millis(30));
        let add = |key: &str| TransactUpdate {
            key: key.to_owned(),
            update: Update::new(vec![Action::AddNumber("n".into(), 1)]),
            condition: None,
        };
        let (a, b, c) = (
            vec![add("count#all"), add("tally#1")],
            vec![add("count#all"), add("tally#2")],
            vec![add("tally#3")],
        );
        let (first, second, apart) =
            tokio::join!(table.transact_update(&a), table.transact_update(&b), table.transact_update(&c));
        first.expect("the first takes its items");
        let err = second.expect_err("meets the first on count#all");
        assert!(err.is_transient() && err.to_string().contains("TransactionConflict"), "{err}");
        apart.expect("no item in common");
        assert_eq!(table.conflicts(), BTreeMap::from([("count#all".to_owned(), 1)]));
        let all = table.get("count#all", true).await.expect("get").expect("item");
        assert_eq!(all.get("n"), Some(&Attr::n(1)), "the cancelled one wrote nothing");
        assert!(table.get("tally#2", true).await.expect("get").is_none());
        table.transact_update(&b).await.expect("once the first ended, the second goes through");
    }
}
