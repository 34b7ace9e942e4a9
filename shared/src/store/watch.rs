//! The sweeps' side of `by-due` (see [`keys::Watch`]): the jobs due under a watch, page by page,
//! and the moves a sweep (or a paused delivery) makes: park, release, send again.
//!
//! Every move is conditional on the row the sweep read (its watch and time), so two sweeps at
//! once (two scheduler invocations for one minute) move each job once.

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::attrs::{GENERATION, LEASE, RESENT, RUN, RUN_AT, STATUS, TIER, TYPE};
use super::codec::{Item, n, s};
use super::keys::{self, BY_DUE, PK, Watch};
use super::write::{Write, aws, changed, decode, millis, status_in};
use super::{JobStore, StoreError};
use crate::domain::model::Job;
use crate::domain::priority::PriorityTier;
use crate::domain::status::JobStatus;
use crate::ports::table::{Attr, Cond, IndexQuery};

/// Concurrent shard queries of one sweep page.
const SHARD_FANOUT: usize = 8;

/// One row of `by-due`: the job it points at, as the index saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRow {
    pub id: String,
    pub job_type: String,
    pub tier: Option<PriorityTier>,
    /// The row's sort key: a move is conditional on it.
    pub sort_key: String,
    pub due: DateTime<Utc>,
}

/// Where a sweep of one watch goes on: per shard, the last row read (none: from the start),
/// and the shards that have no rows left.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DueCursor {
    after: Vec<Option<Item>>,
    done: Vec<bool>,
}

impl DueCursor {
    /// Every shard read to its end.
    pub fn is_done(&self) -> bool {
        !self.done.is_empty() && self.done.iter().all(|d| *d)
    }
}

impl JobStore {
    /// The next rows due under `watch` before `before`: up to `per_shard` from each shard not yet
    /// finished, earliest first, continuing from `cursor` (which it advances). A shard whose query
    /// fails (its partition hot, say) is left for the next sweep and the others are read all the
    /// same: an error only when every shard queried failed.
    pub async fn due_rows(
        &self,
        watch: Watch,
        before: DateTime<Utc>,
        per_shard: usize,
        cursor: &mut DueCursor,
    ) -> Result<Vec<DueRow>, StoreError> {
        let shards = keys::INDEX_SHARDS as usize;
        cursor.after.resize(shards, None);
        cursor.done.resize(shards, false);
        let below = keys::due_prefix(before);
        let pages: super::created::ShardPages<(Vec<Item>, Option<Item>)> = futures::stream::iter(0..shards)
            .filter(|shard| std::future::ready(!cursor.done[*shard]))
            .map(|shard| {
                let mut q = IndexQuery::new(BY_DUE, format!("{}#{shard}", watch.as_str()));
                q.sort_below = Some(below.clone());
                q.limit = Some(per_shard.max(1));
                q.start_after = cursor.after[shard].clone();
                async move {
                    let page = self.table.query(&q).await.map_err(|e| aws("Query(due)", e));
                    (shard, page.map(|page| (page.items, page.last_key)))
                }
            })
            .buffer_unordered(SHARD_FANOUT)
            .collect()
            .await;
        let (mut rows, mut failed, queried) = (Vec::new(), None, pages.len());
        for (shard, page) in pages {
            match page {
                Ok((items, last_key)) => {
                    cursor.done[shard] = last_key.is_none();
                    cursor.after[shard] = last_key;
                    rows.extend(items.iter().filter_map(due_row));
                }
                Err(err) => {
                    tracing::warn!(watch = watch.as_str(), shard, error = %err, "sweep: a shard is left for the next run");
                    cursor.done[shard] = true;
                    failed.get_or_insert((err, 0)).1 += 1;
                }
            }
        }
        rows.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
        match failed {
            Some((err, n)) if n == queried => Err(err),
            _ => Ok(rows),
        }
    }

    /// The jobs of `rows`, read in full, in the rows' order. A row whose job is gone is dropped;
    /// so is one whose item does not decode (logged: one bad item must not stop a sweep).
    pub async fn jobs_of_rows(&self, rows: &[DueRow]) -> Result<Vec<(DueRow, Job)>, StoreError> {
        let keys: Vec<String> = rows.iter().map(|r| keys::job_pk(&r.id)).collect();
        let mut jobs = std::collections::HashMap::new();
        for item in self.batch_get_items(keys).await? {
            let Some(id) = item.get(PK).and_then(Attr::as_str).and_then(keys::id_from_pk) else { continue };
            match decode(id, &item) {
                Ok(job) => {
                    jobs.insert(job.id.clone(), job);
                }
                Err(err) => {
                    tracing::error!(job_id = id, error = %err, "sweep: a job item does not decode; skipped")
                }
            }
        }
        Ok(rows.iter().filter_map(|r| jobs.remove(&r.id).map(|j| (r.clone(), j))).collect())
    }

    /// Park a waiting job whose delivery came while its tier or type is paused: its message is
    /// dropped, and the scheduler sends a new one once the pause is over. One write, however
    /// long the pause.
    pub async fn park(&self, id: &str, generation: u64, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        w.condition(
            Cond::eq(GENERATION, n(generation))
                .and(status_in(&[JobStatus::Queued, JobStatus::Retrying]))
                .and(Cond::not_exists(BY_DUE.pk).or(Cond::eq(BY_DUE.pk, s(keys::due_pk(Watch::Sent, id))))),
        );
        w.watch(id, Watch::Paused, now);
        let item = self.write(id, w, "UpdateItem(park)", changed).await?;
        decode(id, &item)
    }

    /// Put a running job's lease in the lease-end index, if its run has not yet (a run is watched
    /// from its first heartbeat): for a delivery about to be dropped that may be the run's only
    /// trace, so a run that died is still found. Whether the job is running; nothing is written
    /// for one that is not, or is watched already.
    pub async fn watch_run(&self, id: &str) -> Result<bool, StoreError> {
        let Some(job) = self.get(id, true).await? else { return Ok(false) };
        let (JobStatus::Processing, Some(lease), Some(run)) = (job.status, job.lease_until, &job.run_id)
        else {
            return Ok(false);
        };
        let mut w = Write::default();
        w.condition(
            Cond::eq(STATUS, s(JobStatus::Processing.as_str()))
                .and(Cond::eq(RUN, s(run)))
                .and(Cond::eq(LEASE, millis(lease)))
                .and(Cond::not_exists(BY_DUE.pk)),
        );
        w.watch(id, Watch::Lease, lease);
        w.returning_nothing();
        match self.write(id, w, "UpdateItem(watch run)", changed).await {
            Ok(_) | Err(StoreError::Conflict { .. } | StoreError::InvalidTransition { .. }) => Ok(true),
            Err(err) => Err(err),
        }
    }

    /// Whether the job is under a watch of `by-due` (a sweep will look at it), read consistently.
    pub async fn is_watched(&self, id: &str) -> Result<bool, StoreError> {
        let item = self.table.get(&keys::job_pk(id), true).await.map_err(|e| aws("GetItem(watched)", e))?;
        Ok(item.is_some_and(|item| item.contains_key(BY_DUE.pk)))
    }

    /// A running job found under `row` (another watch, or a lease since renewed): watched under
    /// the lease watch at `at` (its lease end, or later) instead. Refused unless the row is still
    /// as read.
    pub async fn rewatch_run(
        &self,
        row: &DueRow,
        job: &Job,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let Some(at) = at else { return Ok(()) };
        let mut w = Write::default();
        w.condition(unchanged(row, job));
        w.watch(&job.id, Watch::Lease, at);
        w.returning_nothing();
        self.write(&job.id, w, "UpdateItem(rewatch)", changed).await.map(drop)
    }

    /// A `queued` job the lost-message walk found not yet due (a delay): watched as sent at
    /// `due`, so it is sent again a period after that if nobody claims it. Nothing is written
    /// for a job that moved on or is watched already.
    pub async fn watch_sent(&self, id: &str, due: DateTime<Utc>) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.condition(Cond::eq(STATUS, s(JobStatus::Queued.as_str())).and(Cond::not_exists(BY_DUE.pk)));
        w.watch(id, Watch::Sent, due);
        w.returning_nothing();
        match self.write(id, w, "UpdateItem(watch sent)", changed).await {
            Ok(_) | Err(StoreError::Conflict { .. } | StoreError::InvalidTransition { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Move the job of `row` from its watch to what follows once its message is sent: watched
    /// for a lost message, a `retrying` job from its `run_at` on, a `queued` one from `now`.
    /// Refused unless the row is still as read (so each release sends one message).
    pub async fn release_row(&self, row: &DueRow, job: &Job, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        w.condition(unchanged(row, job));
        w.set(RESENT, millis(now));
        let sent_check = match (job.status, job.run_at) {
            (JobStatus::Retrying, Some(run_at)) => run_at,
            _ => now,
        };
        w.watch(&job.id, Watch::Sent, sent_check);
        let item = self.write(&job.id, w, "UpdateItem(release)", changed).await?;
        decode(&job.id, &item)
    }

    /// A waiting job whose message is still in line (a deep queue, not a lost message): looked
    /// at again from `due` on, with nothing sent. Refused unless the row is still as read.
    pub async fn watch_later(&self, row: &DueRow, job: &Job, due: DateTime<Utc>) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.condition(unchanged(row, job));
        w.watch(&job.id, Watch::Sent, due);
        w.returning_nothing();
        self.write(&job.id, w, "UpdateItem(watch later)", changed).await.map(drop)
    }

    /// A job whose message seems lost (sent at `row.due`, a period ago, and nobody claimed it):
    /// watched again as sent `now`, so it is sent again once per period while it waits.
    pub async fn watch_again(&self, row: &DueRow, job: &Job, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        w.condition(unchanged(row, job));
        w.set(RESENT, millis(now));
        w.watch(&job.id, Watch::Sent, now);
        let item = self.write(&job.id, w, "UpdateItem(resend)", changed).await?;
        decode(&job.id, &item)
    }
}

/// The job is as the sweep read it: same status, generation and `run_at`, same place in `by-due`.
fn unchanged(row: &DueRow, job: &Job) -> Cond {
    let run_at = match job.run_at {
        Some(at) => Cond::eq(RUN_AT, s(crate::domain::model::format_time(at))),
        None => Cond::not_exists(RUN_AT),
    };
    Cond::eq(STATUS, s(job.status.as_str()))
        .and(Cond::eq(GENERATION, n(job.generation)))
        .and(run_at)
        .and(Cond::eq(BY_DUE.sk, s(&row.sort_key)))
}

fn due_row(item: &Item) -> Option<DueRow> {
    let text = |name: &str| item.get(name).and_then(Attr::as_str);
    let sort_key = text(BY_DUE.sk)?.to_owned();
    Some(DueRow {
        id: keys::id_from_pk(text(PK)?)?.to_owned(),
        job_type: text(TYPE).unwrap_or_default().to_owned(),
        tier: text(TIER).and_then(|t| t.parse().ok()),
        due: keys::due_of_sort_key(&sort_key)?,
        sort_key,
    })
}
