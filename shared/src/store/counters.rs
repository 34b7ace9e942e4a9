//! The counter items beside the jobs, kept from the change stream: a shard's changes added once,
//! and read back as counts and statistics. (The pause flags' item is `pause`'s.)

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::attrs::{STARTED_AT, TYPE};
use super::codec::{Item, n, s};
use super::keys;
use super::tally::{self, Tally};
use super::write::aws;
use super::{JobStore, StoreError, TypeStats};
use crate::domain::status::JobStatus;
use crate::ports::table::{Action, Attr, Cmp, Cond, Returns, TableError, TransactUpdate, Update, seq_key};

/// How long a shard's checkpoint is kept after its last write: longer than the stream keeps a
/// change (24 hours), so a change delivered again is always recognised.
const CHECKPOINT_KEPT: Duration = Duration::hours(48);
/// The longest a job may wait for its due time: the API's limit on `run_at`
/// (`api::input::MAX_DELAY_SECONDS`, a layer below this one).
pub const LONGEST_DELAY_DAYS: i64 = 365;
/// How long past a change counted a batch's counter is kept, beyond the jobs' retention: a job
/// may wait [`LONGEST_DELAY_DAYS`] for its due time, plus two days for DynamoDB's late TTL
/// deletion of the job. Every change of a batch's job sets the counter's expiry again, so it
/// outlives every job of the batch: a job's next change (its run, its expiry) comes before it.
/// Had it expired first, the next change would make it anew from nothing, with negative counts
/// and no expiry.
fn batch_kept(retention: Duration) -> Duration {
    Duration::days(LONGEST_DELAY_DAYS) + retention + Duration::days(2)
}
/// The checkpoint's last counted change ([`seq_key`] form).
const CHECKPOINT_LAST: &str = "last";

/// The checkpoint of one stream shard: how far its changes are counted.
fn checkpoint_pk(shard: &str) -> String {
    format!("tally#{shard}")
}

/// One counter item as read: jobs by status, the type's totals, a batch's progress and times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub statuses: BTreeMap<JobStatus, u64>,
    pub stats: TypeStats,
    pub progress_sum: u64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Counters {
    pub fn total(&self) -> u64 {
        self.statuses.values().sum()
    }
}

impl JobStore {
    /// Add one chunk of a shard's changes (`first` to `last`) to the counters, once: the shard's
    /// checkpoint moves to `last` in the same transaction, on condition that it is before `first`.
    /// `Ok(false)`: some of the chunk was counted before (a delivery came again);
    /// [`JobStore::counted_to`] says how far.
    pub async fn add_chunk(
        &self,
        shard: &str,
        first: &str,
        last: &str,
        tally: &Tally,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let checkpoint = Update::new(vec![
            Action::Set(CHECKPOINT_LAST.into(), s(seq_key(last))),
            Action::Set(keys::TTL_ATTRIBUTE.into(), n((now + CHECKPOINT_KEPT).timestamp())),
        ])
        .returning(Returns::Nothing);
        let before_first =
            Cond::not_exists(CHECKPOINT_LAST).or(Cond::cmp(CHECKPOINT_LAST, Cmp::Lt, s(seq_key(first))));
        let mut updates = vec![TransactUpdate {
            key: checkpoint_pk(shard),
            update: checkpoint,
            condition: Some(before_first),
        }];
        let batch_expiry = n((now + batch_kept(self.retention)).timestamp());
        updates.extend(tally.counters.iter().filter_map(|(key, delta)| {
            let mut actions = delta.actions();
            if key.starts_with(tally::BATCH_PREFIX) && !actions.is_empty() {
                actions.push(Action::Set(keys::TTL_ATTRIBUTE.into(), batch_expiry.clone()));
            }
            (!actions.is_empty()).then(|| TransactUpdate {
                key: key.clone(),
                update: Update::new(actions).returning(Returns::Nothing),
                condition: None,
            })
        }));
        match self.table.transact_update(&updates).await {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed { .. }) => Ok(false),
            Err(err) => Err(aws("TransactWriteItems(counters)", err)),
        }
    }

    /// The last change of `shard` already counted (none: nothing yet).
    pub async fn counted_to(&self, shard: &str) -> Result<Option<String>, StoreError> {
        let item =
            self.table.get(&checkpoint_pk(shard), true).await.map_err(|e| aws("GetItem(checkpoint)", e))?;
        let last = item.and_then(|i| i.get(CHECKPOINT_LAST).and_then(Attr::as_str).map(str::to_owned));
        Ok(last.map(|l| l.trim_start_matches('0').to_owned()))
    }

    /// One counter (see [`super::tally`] for the keys): its buckets summed, in one BatchGetItem;
    /// none when nothing is counted yet.
    pub async fn counters(&self, key: &str) -> Result<Option<Counters>, StoreError> {
        let Some(buckets) = tally::bucket_keys(key) else {
            let item = self.table.get(key, false).await.map_err(|e| aws("GetItem(counters)", e))?;
            return Ok(item.as_ref().map(counters_from));
        };
        let items = self.batch_get_items(buckets).await?;
        Ok((!items.is_empty()).then(|| counters_from(&summed(&items))))
    }

    pub async fn stats(&self, job_type: &str) -> Result<TypeStats, StoreError> {
        Ok(self.counters(&tally::type_counter(job_type)).await?.unwrap_or_default().stats)
    }

    /// Counters of several job types, their buckets summed (types with none are left out): one
    /// BatchGetItem for up to 12 types.
    pub async fn stats_for(&self, job_types: &[String]) -> Result<Vec<(String, TypeStats)>, StoreError> {
        let keys =
            job_types.iter().filter_map(|t| tally::bucket_keys(&tally::type_counter(t))).flatten().collect();
        let mut by_type: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        for item in self.batch_get_items(keys).await? {
            if let Some(job_type) = item.get(TYPE).and_then(Attr::as_str) {
                by_type.entry(job_type.to_owned()).or_default().push(item);
            }
        }
        Ok(by_type.into_iter().map(|(t, items)| (t, counters_from(&summed(&items)).stats)).collect())
    }
}

/// The buckets of one counter as one item: their numbers summed (a bucket may be below 0).
fn summed(items: &[Item]) -> Item {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for (name, value) in items.iter().flat_map(|item| item.iter()) {
        if let Attr::N(_) = value {
            *sums.entry(name.clone()).or_default() += value.as_i64().unwrap_or(0);
        }
    }
    sums.into_iter().map(|(name, sum)| (name, Attr::n(sum))).collect()
}

/// A counter item's values (missing ones are 0; a count below 0 reads as 0).
pub(super) fn counters_from(item: &Item) -> Counters {
    let number =
        |field: &str| item.get(field).and_then(Attr::as_i64).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    let mut values = [0u64; 7];
    for (slot, field) in values.iter_mut().zip(TypeStats::FIELDS) {
        *slot = number(field);
    }
    let time = |field: &str| {
        item.get(field).and_then(Attr::as_str).and_then(|t| crate::domain::model::parse_time(t).ok())
    };
    Counters {
        statuses: JobStatus::ALL
            .into_iter()
            .map(|s| (s, number(&tally::status_field(s))))
            .filter(|(_, n)| *n > 0)
            .collect(),
        stats: TypeStats::from_values(values),
        progress_sum: number(tally::PROGRESS_SUM),
        started_at: time(STARTED_AT),
        finished_at: time(tally::FINISHED_AT),
    }
}
