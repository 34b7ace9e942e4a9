//! What DynamoDB charges for a write, in write request units (WRU; write capacity units in
//! provisioned mode: the same count), by its documented rules, for the in-memory table to tally.
//!
//! - An item's size is the sum of its attribute names and values ([`eval::item_size`]).
//! - A table write costs one unit per started 1 KB of the larger of the item before and after
//!   (PutItem replacing an item, UpdateItem), of the deleted item (DeleteItem), and at least one.
//!   BatchWriteItem charges each item as its own PutItem, rounded up each.
//! - A write refused by its condition still costs the table: one unit per started 1 KB of the
//!   item it found, at least one (the guide's conditional-writes page; its capacity page counts
//!   the larger of that and the item attempted: the same unless the attempted item spans more
//!   kilobytes). It writes no index.
//! - Each global secondary index costs, per write, by how the item's entry changes: it enters the
//!   index (both index keys now present): one put; it leaves: one delete; an index key changes:
//!   a delete and a put; same keys, a projected attribute changed: one update; nothing projected
//!   changed, or in the index neither before nor after: nothing. An entry's size is the table key,
//!   the index keys and the projected attributes plus 100 bytes of overhead, rounded up to 1 KB
//!   per write like an item.
//! - TTL deletions are free (the in-memory table's `expire` charges nothing).
//!
//! Why computed rather than asked: DynamoDB answers `ReturnConsumedCapacity` with these figures,
//! but the emulator (moto 5.2.5) does not: PutItem and DeleteItem answer a constant 1.0 whatever the
//! item's size and however many indexes the write touched, and UpdateItem answers nothing. So no
//! conformance case can hold these rules to the emulator; they follow the DynamoDB Developer Guide
//! ("Capacity unit consumption for write operations", "Provisioned throughput considerations for
//! Global Secondary Indexes"). Transactions (twice the units) are not charged here yet.

use std::collections::BTreeMap;

use crate::ports::eval;
use crate::ports::table::IndexDef;
use crate::ports::table::{Attr, Item};
use crate::store::keys::{INDEXES, PK};

/// One write unit covers up to this many bytes.
pub const UNIT_BYTES: usize = 1024;
/// What DynamoDB adds to every index entry's size.
pub const INDEX_ENTRY_OVERHEAD: usize = 100;

/// Units for writing `bytes` once: one per started kilobyte, at least one.
pub fn units(bytes: usize) -> u64 {
    bytes.div_ceil(UNIT_BYTES).max(1) as u64
}

/// The units of one write, or of many added up: the table's and each index's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Charge {
    pub table: u64,
    /// By index name; an index this write did not touch is absent.
    pub indexes: BTreeMap<&'static str, u64>,
}

impl Charge {
    pub fn total(&self) -> u64 {
        self.table + self.indexes.values().sum::<u64>()
    }

    pub fn index(&self, name: &str) -> u64 {
        self.indexes.get(name).copied().unwrap_or(0)
    }

    pub fn add(&mut self, other: &Charge) {
        self.table += other.table;
        for (name, units) in &other.indexes {
            *self.indexes.entry(name).or_default() += units;
        }
    }
}

/// What one write did to an item's entry in one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexChange {
    /// Not in the index before or after, or nothing projected changed.
    Unchanged,
    /// Entered the index: one put.
    Put,
    /// Left the index: one delete.
    Delete,
    /// An index key changed: a delete and a put.
    Move,
    /// Same keys, a projected attribute changed: one update.
    Update,
}

/// What `index` holds of `item`: the table key, the index keys and the projected attributes;
/// none when the item lacks an index key (the index is sparse).
pub fn entry(index: &IndexDef, item: &Item) -> Option<Item> {
    let has_key = |name: &str| item.get(name).and_then(Attr::as_str).is_some();
    if !(has_key(index.pk) && has_key(index.sk)) {
        return None;
    }
    let names = [PK, index.pk, index.sk].into_iter().chain(index.projected.iter().copied());
    Some(names.filter_map(|name| item.get(name).map(|v| (name.to_owned(), v.clone()))).collect())
}

/// An index entry's size as DynamoDB counts it for writes.
pub fn entry_size(entry: &Item) -> usize {
    eval::item_size(entry) + INDEX_ENTRY_OVERHEAD
}

/// How a write from `old` to `new` (none: no item) changes the item's entry in `index`.
pub fn index_change(index: &IndexDef, old: Option<&Item>, new: Option<&Item>) -> IndexChange {
    let before = old.and_then(|item| entry(index, item));
    let after = new.and_then(|item| entry(index, item));
    let keys = |e: &Item| (e.get(index.pk).cloned(), e.get(index.sk).cloned());
    match (&before, &after) {
        (None, None) => IndexChange::Unchanged,
        (None, Some(_)) => IndexChange::Put,
        (Some(_), None) => IndexChange::Delete,
        (Some(b), Some(a)) if keys(b) != keys(a) => IndexChange::Move,
        (Some(b), Some(a)) if b != a => IndexChange::Update,
        (Some(_), Some(_)) => IndexChange::Unchanged,
    }
}

/// The units one write from `old` to `new` costs `index`.
pub fn index_units(index: &IndexDef, old: Option<&Item>, new: Option<&Item>) -> u64 {
    let size = |item: Option<&Item>| item.and_then(|i| entry(index, i)).map_or(0, |e| entry_size(&e));
    let (before, after) = (size(old), size(new));
    match index_change(index, old, new) {
        IndexChange::Unchanged => 0,
        IndexChange::Put => units(after),
        IndexChange::Delete => units(before),
        IndexChange::Move => units(before) + units(after),
        IndexChange::Update => units(before.max(after)),
    }
}

/// A write that took effect, from `old` to `new` (none: no item before, or deleted): the table's
/// units and those of every index of [`INDEXES`] it touched.
pub fn applied(old: Option<&Item>, new: Option<&Item>) -> Charge {
    let size = |item: Option<&Item>| item.map_or(0, eval::item_size);
    let mut charge = Charge { table: units(size(old).max(size(new))), indexes: BTreeMap::new() };
    for index in &INDEXES {
        let units = index_units(index, old, new);
        if units > 0 {
            charge.indexes.insert(index.name, units);
        }
    }
    charge
}

/// A write refused by its condition, on `existing` (none: no item): the table only.
pub fn refused(existing: Option<&Item>) -> Charge {
    Charge { table: units(existing.map_or(0, eval::item_size)), indexes: BTreeMap::new() }
}

/// Names a write for the tally by step: the key written, the item before and after (after is
/// none for a delete, and for a write refused by its condition).
pub type Classifier = fn(key: &str, old: Option<&Item>, new: Option<&Item>) -> &'static str;

/// The steps of a job's life, told from the items a write leaves: `enqueue` (a job item
/// created), `claim` (its status becomes `processing`), `finish` (another status change),
/// `counting` (counter items and shard checkpoints), and `other` (a job write that keeps its status,
/// deletes, pause flags). Refused writes are tallied as `refused` whatever this says.
pub fn job_step(key: &str, old: Option<&Item>, new: Option<&Item>) -> &'static str {
    fn status(item: Option<&Item>) -> Option<&str> {
        item?.get(crate::store::attrs::STATUS)?.as_str()
    }
    if key.starts_with("count#") || key.starts_with("tally#") {
        return "counting";
    }
    if !key.starts_with("job#") {
        return "other";
    }
    match (old, new) {
        (None, Some(_)) => "enqueue",
        (Some(_), Some(_)) if status(old) != status(new) => match status(new) {
            Some("processing") => "claim",
            _ => "finish",
        },
        _ => "other",
    }
}

/// Write units charged so far: by target (the table, each index), by operation, and by step
/// when a [`Classifier`] names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteUnits {
    /// The table's and the indexes' units.
    pub charged: Charge,
    /// All units (table and indexes) by operation: `PutItem`, `UpdateItem`, `DeleteItem`,
    /// `BatchWriteItem`.
    pub by_operation: BTreeMap<&'static str, u64>,
    /// By step, when the table classifies its writes (else empty).
    pub by_step: BTreeMap<&'static str, Charge>,
    /// Units of writes refused by their condition (counted in the table's units too).
    pub refused: u64,
}

impl WriteUnits {
    pub fn total(&self) -> u64 {
        self.charged.total()
    }

    pub fn table(&self) -> u64 {
        self.charged.table
    }

    pub fn index(&self, name: &str) -> u64 {
        self.charged.index(name)
    }

    fn add(&mut self, operation: &'static str, step: Option<&'static str>, charge: &Charge) {
        self.charged.add(charge);
        *self.by_operation.entry(operation).or_default() += charge.total();
        if let Some(step) = step {
            self.by_step.entry(step).or_default().add(charge);
        }
    }
}

/// What the in-memory table keeps: the running tally and how it names steps.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    pub units: WriteUnits,
    pub classify: Option<Classifier>,
}

impl Meter {
    /// A write that took effect on `key`, from `old` to `new`.
    pub fn applied(&mut self, operation: &'static str, key: &str, old: Option<&Item>, new: Option<&Item>) {
        let step = self.classify.map(|classify| classify(key, old, new));
        self.units.add(operation, step, &applied(old, new));
    }

    /// A write refused by its condition, on `existing`.
    pub fn refused(&mut self, operation: &'static str, existing: Option<&Item>) {
        let charge = refused(existing);
        self.units.refused += charge.total();
        let step = self.classify.map(|_| "refused");
        self.units.add(operation, step, &charge);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::{BY_CREATED, BY_DUE, BY_STATUS};

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Attr::s(*v))).collect()
    }

    /// An item of exactly `bytes` bytes (its key `pk` = `job#1`, and one padding attribute).
    fn sized(bytes: usize) -> Item {
        let mut it = item(&[("pk", "job#1")]);
        let used = eval::item_size(&it) + "pad".len();
        it.insert("pad".into(), Attr::s("x".repeat(bytes - used)));
        assert_eq!(eval::item_size(&it), bytes);
        it
    }

    #[test]
    fn sizes_round_up_to_the_next_kilobyte() {
        // The guide: "if you put or delete an item of 1.6 KB, DynamoDB rounds the item size up to 2 KB".
        assert_eq!(applied(None, Some(&sized(1638))).table, 2);
        assert_eq!(applied(Some(&sized(1638)), None).table, 2);
        assert_eq!(applied(None, Some(&sized(1024))).table, 1);
        assert_eq!(applied(None, Some(&sized(1025))).table, 2);
        // Deleting nothing still costs a unit.
        assert_eq!(applied(None, None).table, 1);
        // The guide's BatchWriteItem: 500 bytes and 3.5 KB cost 1 + 4, not ceil(4 KB).
        let batch = [sized(500), sized(3584)].iter().map(|i| applied(None, Some(i)).table).sum::<u64>();
        assert_eq!(batch, 5);
    }

    #[test]
    fn an_update_costs_the_larger_of_before_and_after() {
        assert_eq!(applied(Some(&sized(3000)), Some(&sized(500))).table, 3, "shrinking");
        assert_eq!(applied(Some(&sized(500)), Some(&sized(2100))).table, 3, "growing");
    }

    #[test]
    fn a_refused_write_costs_the_item_it_found() {
        // The guide: no item, one unit; an existing item twice 1 KB, two units. Never an index.
        assert_eq!(refused(None), Charge { table: 1, indexes: BTreeMap::new() });
        assert_eq!(refused(Some(&sized(2048))).total(), 2);
    }

    #[test]
    fn numbers_count_about_a_byte_per_two_digits() {
        let it: Item = [("n".to_owned(), Attr::n(123_456))].into();
        assert_eq!(eval::item_size(&it), 1 + 3 + 1);
    }

    fn queued() -> Item {
        item(&[("pk", "job#1"), ("type", "noop"), ("s_pk", "queued#3"), ("s_sk", "t#1")])
    }

    #[test]
    fn an_index_costs_by_how_its_entry_changes() {
        let old = queued();
        // A new item defining the index keys: one put; not in the index at all: nothing.
        assert_eq!(index_change(&BY_STATUS, None, Some(&old)), IndexChange::Put);
        assert_eq!(index_change(&BY_CREATED, None, Some(&old)), IndexChange::Unchanged);
        // An index key from A to B: a delete and a put, two units.
        let mut moved = old.clone();
        moved.insert("s_pk".into(), Attr::s("processing#3"));
        assert_eq!(index_change(&BY_STATUS, Some(&old), Some(&moved)), IndexChange::Move);
        assert_eq!(index_units(&BY_STATUS, Some(&old), Some(&moved)), 2);
        // The index key removed: one delete.
        let mut gone = old.clone();
        gone.remove("s_sk");
        assert_eq!(index_change(&BY_STATUS, Some(&old), Some(&gone)), IndexChange::Delete);
        assert_eq!(index_units(&BY_STATUS, Some(&old), Some(&gone)), 1);
        // Only a projected attribute: one update; an attribute the index does not hold: nothing.
        let mut retyped = old.clone();
        retyped.insert("type".into(), Attr::s("echo"));
        assert_eq!(index_change(&BY_STATUS, Some(&old), Some(&retyped)), IndexChange::Update);
        assert_eq!(index_units(&BY_STATUS, Some(&old), Some(&retyped)), 1);
        let mut progressed = old.clone();
        progressed.insert("progress".into(), Attr::n(50));
        assert_eq!(index_units(&BY_STATUS, Some(&old), Some(&progressed)), 0);
        // Deleting the item deletes its entry.
        assert_eq!(index_units(&BY_STATUS, Some(&old), None), 1);
    }

    #[test]
    fn an_index_entry_counts_its_keys_projection_and_overhead() {
        let mut it = queued();
        it.insert("payload".into(), Attr::s("x".repeat(5000)));
        let e = entry(&BY_STATUS, &it).expect("in by-status");
        assert_eq!(e.len(), 4, "pk, s_pk, s_sk, type; not the payload");
        // pk job#1, s_pk queued#3, s_sk t#1, type noop: names and values, then the overhead.
        assert_eq!(entry_size(&e), (2 + 5) + (4 + 8) + (4 + 3) + (4 + 4) + 100);
        // A projected attribute over 1 KB makes the entry cost two units.
        it.insert("type".into(), Attr::s("t".repeat(1000)));
        assert_eq!(index_units(&BY_STATUS, None, Some(&it)), 2);
    }

    #[test]
    fn one_write_can_move_an_entry_and_put_another() {
        let old = queued();
        let mut claimed = old.clone();
        claimed.insert("s_pk".into(), Attr::s("processing#3"));
        claimed.insert("d_pk".into(), Attr::s("processing#3"));
        claimed.insert("d_sk".into(), Attr::s("000#1"));
        let charge = applied(Some(&old), Some(&claimed));
        assert_eq!(charge.table, 1);
        assert_eq!(charge.index(BY_STATUS.name), 2);
        assert_eq!(charge.index(BY_DUE.name), 1);
        assert_eq!(charge.index(BY_CREATED.name), 0);
        assert_eq!(charge.total(), 4);
    }

    #[test]
    fn steps_are_told_from_the_items() {
        let old = queued();
        let mut claimed = old.clone();
        claimed.insert("status".into(), Attr::s("processing"));
        let mut done = claimed.clone();
        done.insert("status".into(), Attr::s("completed"));
        assert_eq!(job_step("job#1", None, Some(&old)), "enqueue");
        assert_eq!(job_step("job#1", Some(&old), Some(&claimed)), "claim");
        assert_eq!(job_step("job#1", Some(&claimed), Some(&done)), "finish");
        assert_eq!(job_step("job#1", Some(&claimed), Some(&claimed)), "other");
        assert_eq!(job_step("count#type#noop", None, Some(&old)), "counting");
        let mut meter = Meter { classify: Some(job_step), ..Meter::default() };
        meter.applied("PutItem", "job#1", None, Some(&old));
        meter.refused("PutItem", Some(&old));
        assert_eq!(meter.units.by_step["enqueue"].total(), 2, "table and by-status");
        assert_eq!(meter.units.by_step["refused"].total(), 1);
        assert_eq!(
            (meter.units.refused, meter.units.by_operation["PutItem"], meter.units.total()),
            (1, 3, 3)
        );
    }
}
