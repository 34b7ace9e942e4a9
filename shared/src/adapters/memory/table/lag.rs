//! Eventually consistent reads, on demand ([`super::MemoryTable::set_read_lag`]).
//!
//! DynamoDB answers a GetItem, BatchGetItem or Query without `ConsistentRead` from a replica that
//! may not have the latest writes yet: "the response might not reflect the results of a recently
//! completed write operation", usually consistent within a second
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html>).
//! A global secondary index is always read that way, and trails the table by "a fraction of a
//! second" under normal conditions, longer under load
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Reads>). So a
//! lagging read here sees the table as it was `lag` ago, the lag drawn per read from a seeded
//! source: under a second mostly, a few seconds now and then. `ConsistentRead` reads and every
//! write's condition see the latest state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::ports::clock::Clock;
use crate::ports::table::Item;

/// The longest lag drawn: versions older than this are let go of.
pub const MAX_LAG_MILLIS: i64 = 5_000;
/// Most reads lag less than this.
const USUAL_LAG_MILLIS: i64 = 1_000;
/// One read in this many lags longer than usual (up to [`MAX_LAG_MILLIS`]).
const LONG_ONE_IN: u32 = 20;

/// A write's time and the item it replaced (none: there was none).
type Replaced = (DateTime<Utc>, Option<Item>);

/// The lag source and the recent versions of every item written within the longest lag.
#[derive(Debug)]
pub(super) struct Lag {
    clock: Arc<dyn Clock>,
    rng: fastrand::Rng,
    /// Per key: what each recent write replaced, oldest first.
    before: HashMap<String, VecDeque<Replaced>>,
    /// Every recent write's time and key, oldest first, to let old versions go.
    order: VecDeque<(DateTime<Utc>, String)>,
}

impl Lag {
    pub(super) fn new(clock: Arc<dyn Clock>, seed: u64) -> Lag {
        Lag { clock, rng: fastrand::Rng::with_seed(seed), before: HashMap::new(), order: VecDeque::new() }
    }

    /// The instant a lagging read sees, drawn now.
    pub(super) fn read_at(&mut self) -> DateTime<Utc> {
        let millis = match self.rng.u32(..LONG_ONE_IN) {
            0 => self.rng.i64(USUAL_LAG_MILLIS..=MAX_LAG_MILLIS),
            _ => self.rng.i64(0..USUAL_LAG_MILLIS),
        };
        self.clock.now() - Duration::milliseconds(millis)
    }

    /// `key` is written now; it held `old` until now.
    pub(super) fn record(&mut self, key: &str, old: Option<Item>) {
        let now = self.clock.now();
        self.let_go(now - Duration::milliseconds(MAX_LAG_MILLIS));
        self.before.entry(key.to_owned()).or_default().push_back((now, old));
        self.order.push_back((now, key.to_owned()));
    }

    /// Forget writes before `cutoff`: no read sees that far back.
    fn let_go(&mut self, cutoff: DateTime<Utc>) {
        while let Some((at, _)) = self.order.front()
            && *at < cutoff
        {
            let Some((_, key)) = self.order.pop_front() else { break };
            if let Some(versions) = self.before.get_mut(&key) {
                versions.pop_front();
                if versions.is_empty() {
                    self.before.remove(&key);
                }
            }
        }
    }

    /// `key` as it was at `at`, given that it is `current` now.
    pub(super) fn as_of<'a>(
        &'a self,
        key: &str,
        current: Option<&'a Item>,
        at: DateTime<Utc>,
    ) -> Option<&'a Item> {
        // The item a later write replaced is the one there was at `at`.
        match self.before.get(key).and_then(|versions| versions.iter().find(|(written, _)| *written > at)) {
            Some((_, old)) => old.as_ref(),
            None => current,
        }
    }

    /// The keys written after `at`: the only ones a read at `at` sees otherwise than they are.
    pub(super) fn written_after(&self, at: DateTime<Utc>) -> HashSet<&str> {
        self.order.iter().rev().take_while(|(written, _)| *written > at).map(|(_, k)| k.as_str()).collect()
    }
}
