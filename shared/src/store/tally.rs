//! What a run of the table's change stream adds to the counters: pure, so every rule is
//! unit-tested without a table.
//!
//! Every job write shows in the stream with the item before and after, whoever made it (worker,
//! API, scheduler, dead-letter function, TTL), so counting from the stream counts every outcome,
//! once, and nothing is lost when a process dies: the stream keeps the change until it is counted.
//!
//! Counters, one item each:
//! - `count#all`: jobs kept, by status (`n_<status>`);
//! - `count#type#<type>`: the same for one type, plus totals since the start (`completed`,
//!   `partial`, `failed`, `retried`, and `runs` with their summed `processing_ms` and `wait_ms`);
//! - `count#batch#<batch id>`: the batch's jobs by status, its summed progress (terminal jobs count
//!   100), when its first run started and its last job finished.

use std::collections::BTreeMap;

use super::attrs::{BATCH_ID, COMPLETED_AT, DURATION_MS, PROGRESS, STARTED_AT, STATUS, TYPE, WAIT_MS};
use super::keys::TTL_ATTRIBUTE;
use crate::ports::table::{Action, Attr, Change, Item, TRANSACT_MAX};
use crate::status::JobStatus;

pub const ALL_COUNTER: &str = "count#all";
/// Summed progress of a batch's jobs.
pub const PROGRESS_SUM: &str = "progress_sum";
pub const FINISHED_AT: &str = "finished_at";

pub fn type_counter(job_type: &str) -> String {
    format!("count#type#{job_type}")
}

pub fn batch_counter(batch_id: &str) -> String {
    format!("count#batch#{batch_id}")
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
    expires_at: Option<i64>,
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
            expires_at: number(TTL_ATTRIBUTE),
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
        let mut keys = vec![ALL_COUNTER.to_owned(), type_counter(view.job_type)];
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
        if was != is {
            for key in [ALL_COUNTER.to_owned(), type_counter(view.job_type)]
                .into_iter()
                .chain(view.batch.map(batch_counter))
            {
                let delta = self.counters.entry(key).or_default();
                was.into_iter().for_each(|s| delta.add(status_field(s), -1));
                is.into_iter().for_each(|s| delta.add(status_field(s), 1));
            }
        }
        if let Some(after) = &after
            && was != is
        {
            self.outcome(after, was);
        }
        if let Some(batch) = view.batch {
            self.batch(batch, before.as_ref(), after.as_ref());
        }
    }

    /// Totals of the job's type: outcomes, and a run that ended.
    fn outcome(&mut self, after: &JobView<'_>, was: Option<JobStatus>) {
        let delta = self.counters.entry(type_counter(after.job_type)).or_default();
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
        if let Some(started) = after.started_at.filter(|_| after.status == JobStatus::Processing) {
            delta.firsts.insert(STARTED_AT, Attr::s(started));
        }
        if after.status.is_terminal() && before.is_none_or(|b| !b.status.is_terminal()) {
            if let Some(done) = after.completed_at {
                delta.sets.insert(FINISHED_AT, Attr::s(done));
            }
            // Kept a day past its jobs, which go with their own expiry.
            if let Some(expires) = after.expires_at {
                delta.sets.insert(TTL_ATTRIBUTE, Attr::n(expires + 86_400));
            }
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
        assert_eq!(adds(&tally, ALL_COUNTER), BTreeMap::from([("n_completed".to_owned(), 1)]));
        let noop = adds(&tally, &type_counter("noop"));
        assert_eq!(noop["completed"], 1);
        assert_eq!((noop["runs"], noop["processing_ms"], noop["wait_ms"]), (1, 40, 7));
        let batch = &tally.counters[&batch_counter("b1")];
        assert_eq!(batch.adds[PROGRESS_SUM], 100);
        assert_eq!(batch.firsts[STARTED_AT], Attr::s("2026-01-01T00:00:00.000Z"));
        assert_eq!(batch.sets[FINISHED_AT], Attr::s("2026-01-01T00:00:01.000Z"));
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
        let noop = adds(&tally, &type_counter("noop"));
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
        assert_eq!(adds(&tally, ALL_COUNTER), BTreeMap::from([("n_completed".into(), -1)]));
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
}
