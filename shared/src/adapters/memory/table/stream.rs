//! The table's change stream ([`super::MemoryTable::changes`]), as DynamoDB Streams keeps it.
//!
//! DynamoDB Streams spreads a table's changes over several shards; "for each item that is
//! modified, the stream records appear in the same sequence as the actual modifications", so
//! one item's changes all sit in one shard, in order, while shards are read independently; and
//! "all data in DynamoDB Streams is subject to a 24-hour lifetime": a record not read within a
//! day is gone (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html>).
//! Here an item's shard is drawn from its key, sequence numbers grow across the whole table
//! (so within each shard), and records older than 24 hours are dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::ports::clock::Clock;
use crate::ports::table::{Change, Item, seq_order};

/// Shards the stream spreads changes over.
pub const SHARDS: u32 = 4;

/// How long a record is kept.
pub fn retention() -> Duration {
    Duration::hours(24)
}

/// The shard an item's changes go to.
pub fn shard_of(key: &str) -> String {
    // FNV-1a: stable across runs and platforms.
    let hash =
        key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("shard-{}", hash % u64::from(SHARDS))
}

/// The records kept, shard by shard, with the time each was written.
#[derive(Debug)]
pub(super) struct Stream {
    clock: Arc<dyn Clock>,
    shards: BTreeMap<String, VecDeque<(DateTime<Utc>, Change)>>,
    last_seq: u64,
}

impl Stream {
    pub(super) fn new(clock: Arc<dyn Clock>) -> Self {
        let shards = (0..SHARDS).map(|i| (format!("shard-{i}"), VecDeque::new())).collect();
        Stream { clock, shards, last_seq: 0 }
    }

    pub(super) fn record(&mut self, key: &str, old: Option<Item>, new: Option<Item>) {
        self.last_seq += 1;
        let shard = shard_of(key);
        let change =
            Change { shard: shard.clone(), seq: self.last_seq.to_string(), key: key.to_owned(), old, new };
        let now = self.clock.now();
        self.shards.entry(shard).or_default().push_back((now, change));
        self.trim();
    }

    /// Drop what is past the stream's retention.
    fn trim(&mut self) {
        let cutoff = self.clock.now() - retention();
        for records in self.shards.values_mut() {
            while records.front().is_some_and(|(at, _)| *at < cutoff) {
                records.pop_front();
            }
        }
    }

    pub(super) fn shard_names(&self) -> Vec<String> {
        self.shards.keys().cloned().collect()
    }

    pub(super) fn pending(&self) -> usize {
        self.shards.values().map(VecDeque::len).sum()
    }

    /// Up to `limit` records after `after`, of one shard (`Some`) or of all in sequence order;
    /// what `after` covers is let go of (one reader per shard).
    pub(super) fn read(&mut self, shard: Option<&str>, after: Option<&str>, limit: usize) -> Vec<Change> {
        self.trim();
        let done = |c: &Change| after.is_some_and(|a| seq_order(&c.seq, a).is_le());
        let mut found = Vec::new();
        for (name, records) in &mut self.shards {
            if shard.is_some_and(|s| s != name) {
                continue;
            }
            while records.front().is_some_and(|(_, c)| done(c)) {
                records.pop_front();
            }
            found.extend(records.iter().take(limit).map(|(_, c)| c.clone()));
        }
        found.sort_by(|a, b| seq_order(&a.seq, &b.seq));
        found.truncate(limit);
        found
    }
}
