//! Hot partitions, on demand ([`super::MemoryTable::set_hot`]).
//!
//! DynamoDB serves each partition at most about 3,000 reads and 1,000 writes a second, whatever
//! the table's capacity: requests beyond that on one partition key fail with
//! `ProvisionedThroughputExceededException` (on-demand: `ThrottlingException`) while the rest of
//! the table is served (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html>).
//! A global secondary index has partitions of its own: a Query of a hot index partition is
//! throttled, and so is a table write that must change an entry there, since "a write to the
//! table is throttled if the index it updates is" (back pressure,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations>).
//! BatchGetItem and BatchWriteItem hand throttled keys back as unprocessed
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html>).

use std::collections::BTreeSet;

use super::{State, index_entry};
use crate::ports::table::{IndexQuery, Item, TableError};
use crate::store::keys::INDEXES;

/// One partition that is hot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum HotPartition {
    /// A table partition: the item of this `pk` (e.g. `pause`, a counter).
    Item(String),
    /// An index partition: this partition key value of this index (e.g. one shard of `by-due`).
    Index { index: &'static str, partition: String },
}

/// The partitions hot now.
#[derive(Debug, Default)]
pub(super) struct Hot {
    partitions: BTreeSet<HotPartition>,
}

impl Hot {
    pub(super) fn set(&mut self, partition: HotPartition, on: bool) {
        match on {
            true => self.partitions.insert(partition),
            false => self.partitions.remove(&partition),
        };
    }

    pub(super) fn clear(&mut self) {
        self.partitions.clear();
    }

    pub(super) fn item(&self, key: &str) -> bool {
        !self.partitions.is_empty() && self.partitions.contains(&HotPartition::Item(key.to_owned()))
    }

    pub(super) fn index(&self, index: &'static str, partition: &str) -> bool {
        !self.partitions.is_empty()
            && self.partitions.contains(&HotPartition::Index { index, partition: partition.to_owned() })
    }

    /// Whether a write of `key` from `old` to `new` touches a hot partition: its own, or an index
    /// entry it adds or removes there (an entry that stays as it is costs the index nothing).
    pub(super) fn write(&self, key: &str, old: Option<&Item>, new: Option<&Item>) -> bool {
        if self.partitions.is_empty() {
            return false;
        }
        if self.item(key) {
            return true;
        }
        INDEXES.iter().any(|index| {
            let before = old.and_then(|item| index_entry(index, item));
            let after = new.and_then(|item| index_entry(index, item));
            before != after
                && [before, after]
                    .into_iter()
                    .flatten()
                    .any(|(partition, _)| self.index(index.name, &partition))
        })
    }
}

impl State {
    /// A request on the item `key`, while its partition is hot, is throttled.
    pub(super) fn hot_item(&self, operation: &'static str, key: &str) -> Result<(), TableError> {
        match self.hot.item(key) {
            true => Err(throttled(operation)),
            false => Ok(()),
        }
    }

    /// A Query of a hot index partition is throttled.
    pub(super) fn hot_query(&self, query: &IndexQuery) -> Result<(), TableError> {
        match self.hot.index(query.index.name, &query.partition) {
            true => Err(throttled("Query")),
            false => Ok(()),
        }
    }

    /// A write of `key` to `new` that meets a hot partition is throttled, nothing applied.
    pub(super) fn hot_write(
        &self,
        operation: &'static str,
        key: &str,
        new: Option<&Item>,
    ) -> Result<(), TableError> {
        match self.hot.write(key, self.items.get(key), new) {
            true => Err(throttled(operation)),
            false => Ok(()),
        }
    }
}

/// The error DynamoDB answers a request on a hot partition with: transient, sent again later.
pub(super) fn throttled(operation: &'static str) -> TableError {
    TableError::Transient {
        operation,
        source: "ProvisionedThroughputExceededException: the partition's throughput is exceeded".into(),
    }
}
