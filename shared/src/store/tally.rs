//! What a run of the table's change stream adds to the counters: pure, so every rule is
//! unit-tested without a table.
//!
//! Every job write shows in the stream with the item before and after, whoever made it (worker,
//! API, scheduler, dead-letter function, TTL), so counting from the stream counts every outcome,
//! once, and nothing is lost when a process dies: the stream keeps the change until it is counted.
//!
//! Counters:
//! - `count#all`: jobs kept, by status (`n_<status>`);
//! - `count#type#<type>`: the same for one type, plus totals since the start (`completed`,
//!   `partial`, `failed`, `retried`, and `runs` with their summed `processing_ms` and `wait_ms`);
//! - `count#batch#<batch id>`: the batch's jobs by status, its summed progress (terminal jobs count
//!   100), when its first run started and its last job finished (one item).
//!
//! The first two are written by every stream shard, and DynamoDB cancels a transaction that
//! meets another on one of its items (`TransactionConflict`): shards sharing one item would
//! refuse each other's counts, fall behind, and lose what the stream drops after 24 hours. So
//! each is kept in [`BUCKETS`] items (`count#<bucket>#all`, `count#<bucket>#type#<type>`), a
//! shard writing only its own bucket's ([`bucket_of`]); a read sums them ([`bucket_keys`]). A
//! job's changes may move to another shard when its shard splits, so a bucket alone may hold a
//! negative count: only the sum means anything.

use std::collections::BTreeMap;

use super::attrs::{
    BATCH_ID, COMPLETED_AT, CREATED_AT, DURATION_MS, PROGRESS, STARTED_AT, STATUS, TYPE, WAIT_MS,
};
use crate::domain::status::JobStatus;
use crate::ports::table::{Action, Attr, Change, Item, TRANSACT_MAX};

pub const ALL_COUNTER: &str = "count#all";
/// Items each of `count#all` and `count#type#<type>` is kept in.
pub const BUCKETS: u32 = 8;
/// Summed progress of a batch's jobs.
pub const PROGRESS_SUM: &str = "progress_sum";
pub const FINISHED_AT: &str = "finished_at";
/// When the first of a batch's jobs was created, as far as the enqueues and the counter know:
/// a batch's listing reads `by-created` from about then on.
pub const FIRST_CREATED: &str = "first_created";

pub fn type_counter(job_type: &str) -> String {
    format!("count#type#{job_type}")
}

/// What every batch counter's key starts with.
pub const BATCH_PREFIX: &str = "count#batch#";

pub fn batch_counter(batch_id: &str) -> String {
    format!("{BATCH_PREFIX}{batch_id}")
}

/// The bucket a stream shard counts into.
pub fn bucket_of(shard: &str) -> u32 {
    // FNV-1a: the same bucket for a shard in every process.
    let hash = shard
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    u32::try_from(hash % u64::from(BUCKETS)).unwrap_or(0)
}

/// The item of `counter` (`count#all`, `count#type#<type>`) a bucket writes.
fn in_bucket(counter: &str, bucket: u32) -> String {
    let rest = counter.strip_prefix("count#").unwrap_or(counter);
    format!("count#{bucket}#{rest}")
}

/// The items a counter is kept in, to be read and summed: every bucket's for `count#all` and
/// `count#type#<type>`; none (it is one item) for the others.
pub fn bucket_keys(counter: &str) -> Option<Vec<String>> {
    (counter == ALL_COUNTER || counter.starts_with("count#type#"))
        .then(|| (0..BUCKETS).map(|b| in_bucket(counter, b)).collect())
}

/// The attribute holding the number of jobs in `status`.
pub fn status_field(status: JobStatus) -> String {
    format!("n_{}", status.as_str())
}

/// Counters one transaction may change: DynamoDB's limit, less the chunk's own marker.
pub const COUNTERS_PER_CHUNK: usize = TRANSACT_MAX - 1;

/// The fields of a job item the counters depend on.
#[derive(Debug, Clone, PartialEq)]
struct JobView<'a> {
    status: JobStatus,
    job_type: &'a str,
    batch: Option<&'a str>,
    progress: i64,
    duration_ms: i64,
    wait_ms: i64,
    started_at: Option<&'a str>,
    completed_at: Option<&'a str>,
    created_at: Option<&'a str>,
}

impl<'a> JobView<'a> {
    /// None for items that are not jobs (counters, markers, pause flags) or lack a status.
    fn of(key: &str, item: Option<&'a Item>) -> Option<JobView<'a>> {
        let item = item?;
        super::keys::id_from_pk(key)?;
        let text = |name: &str| item.get(name).and_then(Attr::as_str);
        let number = |name: &str| item.get(name).and_then(Attr::as_i64);
        Some(JobView {
            status: text(STATUS)?.parse().ok()?,
            job_type: text(TYPE)?,
            batch: text(BATCH_ID),
            progress: number(PROGRESS).unwrap_or(0),
            duration_ms: number(DURATION_MS).unwrap_or(0).max(0),
            wait_ms: number(WAIT_MS).unwrap_or(0).max(0),
            started_at: text(STARTED_AT),
            completed_at: text(COMPLETED_AT),
            created_at: text(CREATED_AT),
        })
    }

    /// What this job adds to its batch's progress sum.
    fn progress_share(&self) -> i64 {
        if self.status.is_terminal() { 100 } else { self.progress.clamp(0, 100) }
    }
}

/// What one counter item gains.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterDelta {
    /// `ADD` amounts (negative to subtract).
    pub adds: BTreeMap<String, i64>,
    /// Values written whatever was there (the last change counted wins).
    pub sets: BTreeMap<&'static str, Attr>,
    /// Values written only when the item has none yet (the first change counted wins).
    pub firsts: BTreeMap<&'static str, Attr>,
}

impl CounterDelta {
    fn add(&mut self, field: impl Into<String>, by: i64) {
        if by != 0 {
            *self.adds.entry(field.into()).or_default() += by;
        }
    }

    /// The update's actions (additions that cancelled out are left out).
    pub fn actions(&self) -> Vec<Action> {
        let adds = self.adds.iter().filter(|(_, by)| **by != 0);
        adds.map(|(field, by)| Action::AddNumber(field.clone(), *by))
            .chain(self.sets.iter().map(|(field, v)| Action::Set((*field).to_owned(), v.clone())))
            .chain(self.firsts.iter().map(|(field, v)| Action::SetIfMissing((*field).to_owned(), v.clone())))
            .collect()
    }
}

/// What a run of changes adds, counter by counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub counters: BTreeMap<String, CounterDelta>,
}

impl Tally {
    pub fn is_empty(&self) -> bool {
        self.counters.values().all(|delta| delta.actions().is_empty())
    }

    /// The counter items `change` touches (none: it changes no count).
    pub fn keys_of(change: &Change) -> Vec<String> {
        let (before, after) =
            (JobView::of(&change.key, change.old.as_ref()), JobView::of(&change.key, change.new.as_ref()));
        let Some(view) = after.as_ref().or(before.as_ref()) else {
            return Vec::new();
        };
        let bucket = bucket_of(&change.shard);
        let mut keys = vec![in_bucket(ALL_COUNTER, bucket), in_bucket(&type_counter(view.job_type), bucket)];
        keys.extend(view.batch.map(batch_counter));
        keys
    }

    /// Count one change.
    pub fn add(&mut self, change: &Change) {
        let before = JobView::of(&change.key, change.old.as_ref());
        let after = JobView::of(&change.key, change.new.as_ref());
        let Some(view) = after.clone().or_else(|| before.clone()) else {
            return;
        };
        let (was, is) = (before.as_ref().map(|b| b.status), after.as_ref().map(|a| a.status));
        let bucket = bucket_of(&change.shard);
        if was != is {
            let type_key = in_bucket(&type_counter(view.job_type), bucket);
            self.counters.entry(type_key.clone()).or_default().sets.insert(TYPE, Attr::s(view.job_type));
            for key in
                [in_bucket(ALL_COUNTER, bucket), type_key].into_iter().chain(view.batch.map(batch_counter))
            {
                let delta = self.counters.entry(key).or_default();
                was.into_iter().for_each(|s| delta.add(status_field(s), -1));
                is.into_iter().for_each(|s| delta.add(status_field(s), 1));
            }
        }
        if let Some(after) = &after
            && was != is
        {
            self.outcome(after, was, bucket);
        }
        if let Some(batch) = view.batch {
            self.batch(batch, before.as_ref(), after.as_ref());
        }
    }

    /// Totals of the job's type: outcomes, and a run that ended.
    fn outcome(&mut self, after: &JobView<'_>, was: Option<JobStatus>, bucket: u32) {
        let delta = self.counters.entry(in_bucket(&type_counter(after.job_type), bucket)).or_default();
        delta.sets.insert(TYPE, Attr::s(after.job_type));
        match after.status {
            JobStatus::Completed => delta.add("completed", 1),
            JobStatus::Partial => delta.add("partial", 1),
            JobStatus::Failed => delta.add("failed", 1),
            JobStatus::Retrying => delta.add("retried", 1),
            _ => {}
        }
        if was == Some(JobStatus::Processing) {
            delta.add("runs", 1);
            delta.add("processing_ms", after.duration_ms);
            delta.add("wait_ms", after.wait_ms);
        }
    }

    fn batch(&mut self, batch: &str, before: Option<&JobView<'_>>, after: Option<&JobView<'_>>) {
        let delta = self.counters.entry(batch_counter(batch)).or_default();
        delta.sets.insert(BATCH_ID, Attr::s(batch));
        let share = |v: Option<&JobView<'_>>| v.map_or(0, JobView::progress_share);
        delta.add(PROGRESS_SUM, share(after) - share(before));
        let Some(after) = after else { return };
        if let Some(created) = after.created_at.filter(|_| before.is_none()) {
            // The earliest of the run's creations (times are fixed-width text).
            let earlier = delta.firsts.get(FIRST_CREATED).and_then(Attr::as_str).is_none_or(|t| created < t);
            if earlier {
                delta.firsts.insert(FIRST_CREATED, Attr::s(created));
            }
        }
        if let Some(started) = after.started_at.filter(|_| after.status == JobStatus::Processing) {
            delta.firsts.insert(STARTED_AT, Attr::s(started));
        }
        // Its expiry is set as it is written (`JobStore::add_chunk`), past any of its jobs'.
        if after.status.is_terminal()
            && before.is_none_or(|b| !b.status.is_terminal())
            && let Some(done) = after.completed_at
        {
            delta.sets.insert(FINISHED_AT, Attr::s(done));
        }
    }
}

/// How many of `changes` (from the first) make the next chunk, and what they add: as many as
/// keep the counters it touches within one transaction. A chunk starts at a change that counts
/// (callers skip the others first), so a chunk's first change names it however the stream was
/// cut into batches.
pub fn next_chunk(changes: &[Change]) -> (usize, Tally) {
    let mut tally = Tally::default();
    for (taken, change) in changes.iter().enumerate() {
        let keys = Tally::keys_of(change);
        let new = keys.iter().filter(|k| !tally.counters.contains_key(*k)).count();
        if taken > 0 && tally.counters.len() + new > COUNTERS_PER_CHUNK {
            return (taken, tally);
        }
        tally.add(change);
    }
    (changes.len(), tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, status: JobStatus, batch: Option<&str>) -> Item {
        let mut item: Item = [
            ("pk", Attr::s(format!("job#{id}"))),
            (STATUS, Attr::s(status.as_str())),
            (TYPE, Attr::s("noop")),
            (PROGRESS, Attr::n(0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(batch) = batch {
            item.insert(BATCH_ID.into(), Attr::s(batch));
        }
        item
    }

    fn change(seq: u32, id: &str, old: Option<Item>, new: Option<Item>) -> Change {
        Change { shard: "s".into(), seq: seq.to_string(), key: format!("job#{id}"), old, new }
    }

    fn all() -> String {
        in_bucket(ALL_COUNTER, bucket_of("s"))
    }

    fn noop() -> String {
        in_bucket(&type_counter("noop"), bucket_of("s"))
    }

    fn adds(tally: &Tally, key: &str) -> BTreeMap<String, i64> {
        tally
            .counters
            .get(key)
            .map(|d| d.adds.clone().into_iter().filter(|(_, v)| *v != 0).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_job_through_its_life_counts_once_in_its_final_status() {
        let queued = job("a", JobStatus::Queued, Some("b1"));
        let mut running = job("a", JobStatus::Processing, Some("b1"));
        running.insert(STARTED_AT.into(), Attr::s("2026-01-01T00:00:00.000Z"));
        let mut done = job("a", JobStatus::Completed, Some("b1"));
        done.insert(DURATION_MS.into(), Attr::n(40));
        done.insert(WAIT_MS.into(), Attr::n(7));
        done.insert(COMPLETED_AT.into(), Attr::s("2026-01-01T00:00:01.000Z"));
        let mut tally = Tally::default();
        tally.add(&change(1, "a", None, Some(queued)));
        tally.add(&change(2, "a", Some(queued_again()), Some(running.clone())));
        tally.add(&change(3, "a", Some(running), Some(done)));
        assert_eq!(adds(&tally, &all()), BTreeMap::from([("n_completed".to_owned(), 1)]));
        let noop = adds(&tally, &noop());
        assert_eq!(noop["completed"], 1);
        assert_eq!((noop["runs"], noop["processing_ms"], noop["wait_ms"]), (1, 40, 7));
        let batch = &tally.counters[&batch_counter("b1")];
        assert_eq!(batch.adds[PROGRESS_SUM], 100);
        assert_eq!(batch.firsts[STARTED_AT], Attr::s("2026-01-01T00:00:00.000Z"));
        assert_eq!(batch.sets[FINISHED_AT], Attr::s("2026-01-01T00:00:01.000Z"));
    }

    /// A batch's first creation time is the earliest of the run's creations, whatever their
    /// order; a later change of a job (not its creation) leaves it alone.
    #[test]
    fn a_batch_notes_the_earliest_creation_counted() {
        let created = |id: &str, at: &str| {
            let mut item = job(id, JobStatus::Queued, Some("b1"));
            item.insert(CREATED_AT.into(), Attr::s(at));
            item
        };
        let mut tally = Tally::default();
        tally.add(&change(1, "a", None, Some(created("a", "2026-01-01T00:00:02.000Z"))));
        tally.add(&change(2, "b", None, Some(created("b", "2026-01-01T00:00:01.000Z"))));
        tally.add(&change(3, "c", None, Some(created("c", "2026-01-01T00:00:03.000Z"))));
        let older = created("d", "2025-01-01T00:00:00.000Z");
        tally.add(&change(4, "d", Some(older.clone()), Some(older)));
        let batch = &tally.counters[&batch_counter("b1")];
        assert_eq!(batch.firsts[FIRST_CREATED], Attr::s("2026-01-01T00:00:01.000Z"));
        assert!(
            batch
                .actions()
                .contains(&Action::SetIfMissing(FIRST_CREATED.into(), Attr::s("2026-01-01T00:00:01.000Z")))
        );
    }

    fn queued_again() -> Item {
        job("a", JobStatus::Queued, Some("b1"))
    }

    #[test]
    fn outcomes_from_anywhere_count_and_progress_writes_change_no_status_count() {
        let mut tally = Tally::default();
        // The dead-letter function fails a queued job: no run ended, one failure.
        tally.add(&change(
            1,
            "a",
            Some(job("a", JobStatus::Queued, None)),
            Some(job("a", JobStatus::Failed, None)),
        ));
        let mut progressed = job("b", JobStatus::Processing, Some("b1"));
        progressed.insert(PROGRESS.into(), Attr::n(30));
        tally.add(&change(2, "b", Some(job("b", JobStatus::Processing, Some("b1"))), Some(progressed)));
        let noop = adds(&tally, &noop());
        assert_eq!(
            noop,
            BTreeMap::from([("failed".into(), 1), ("n_failed".into(), 1), ("n_queued".into(), -1)])
        );
        assert_eq!(adds(&tally, &batch_counter("b1")), BTreeMap::from([(PROGRESS_SUM.into(), 30)]));
    }

    #[test]
    fn an_expired_job_leaves_the_counts_and_other_items_count_nothing() {
        let mut tally = Tally::default();
        tally.add(&change(1, "a", Some(job("a", JobStatus::Completed, Some("b1"))), None));
        assert_eq!(adds(&tally, &all()), BTreeMap::from([("n_completed".into(), -1)]));
        assert_eq!(adds(&tally, &batch_counter("b1"))[PROGRESS_SUM], -100);
        let counter = Change {
            shard: "s".into(),
            seq: "2".into(),
            key: ALL_COUNTER.into(),
            old: None,
            new: Some(Item::new()),
        };
        assert!(Tally::keys_of(&counter).is_empty());
        let mut other = Tally::default();
        other.add(&counter);
        assert!(other.is_empty());
    }

    #[test]
    fn a_chunk_stops_before_a_transaction_would_hold_too_many_counters() {
        // Each job of its own batch: three counters for the first, one more for each next.
        let changes: Vec<Change> = (0..200)
            .map(|i| {
                change(
                    i,
                    &format!("j{i}"),
                    None,
                    Some(job(&format!("j{i}"), JobStatus::Queued, Some(&format!("b{i}")))),
                )
            })
            .collect();
        let (taken, tally) = next_chunk(&changes);
        assert_eq!(taken, COUNTERS_PER_CHUNK - 2, "all + type + one batch each");
        assert_eq!(tally.counters.len(), COUNTERS_PER_CHUNK);
        let (rest, _) = next_chunk(&changes[taken..]);
        assert_eq!(rest, COUNTERS_PER_CHUNK - 2);
        let same_batch: Vec<Change> = (0..500)
            .map(|i| {
                change(i, &format!("j{i}"), None, Some(job(&format!("j{i}"), JobStatus::Queued, Some("one"))))
            })
            .collect();
        assert_eq!(next_chunk(&same_batch).0, 500);
    }

    #[test]
    fn each_shard_counts_into_its_own_bucket_and_a_read_sums_them_all() {
        let mut tally = Tally::default();
        let mut moved = change(2, "a", Some(job("a", JobStatus::Queued, Some("b1"))), None);
        moved.shard = "shard-1".into();
        tally.add(&change(1, "a", None, Some(job("a", JobStatus::Queued, Some("b1")))));
        tally.add(&moved);
        let (here, there) =
            (in_bucket(ALL_COUNTER, bucket_of("s")), in_bucket(ALL_COUNTER, bucket_of("shard-1")));
        assert_ne!(here, there, "two shards, two buckets");
        assert_eq!(adds(&tally, &here), BTreeMap::from([("n_queued".into(), 1)]));
        assert_eq!(
            adds(&tally, &there),
            BTreeMap::from([("n_queued".into(), -1)]),
            "a bucket may go below 0"
        );
        assert_eq!(adds(&tally, &batch_counter("b1")), BTreeMap::new(), "a batch keeps one item");
        let all = bucket_keys(ALL_COUNTER).expect("in buckets");
        assert!(all.contains(&here) && all.contains(&there) && all.len() == BUCKETS as usize);
        let noop = bucket_keys(&type_counter("noop")).expect("in buckets");
        assert!(noop.contains(&in_bucket(&type_counter("noop"), bucket_of("s"))));
        assert_eq!(
            tally.counters[&noop_in("shard-1")].sets[TYPE],
            Attr::s("noop"),
            "named for a summed read"
        );
        assert!(bucket_keys(&batch_counter("b1")).is_none());
    }

    fn noop_in(shard: &str) -> String {
        in_bucket(&type_counter("noop"), bucket_of(shard))
    }
}
