//! A batch's own note of its jobs, for the reads right after it is enqueued.
//!
//! Until the counter function first counts a batch's jobs (a second or more after they are
//! written), `GET /batches/{id}` reads them from the `by-created` index, and an index is only ever
//! read eventually consistently: just after the batch is written it may hold none of its jobs
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Reads>). So the
//! enqueue notes, on the batch's counter item, how many jobs it made by status, and when the
//! first was created (where a listing of the batch starts reading); a consistent read of that
//! item finds the batch at once. One UpdateItem per batch request (one write unit), none per job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::counters::{Counters, counters_from};
use super::tally;
use super::write::aws;
use super::{JobStore, StoreError};
use crate::domain::model::{format_time, parse_time};
use crate::domain::status::JobStatus;
use crate::ports::table::{Action, Attr, Returns, Update};

/// The attribute counting the jobs a batch's enqueues made in `status`. Not a counter field: the
/// counter function never writes it.
fn declared_field(status: JobStatus) -> String {
    format!("declared_{}", status.as_str())
}

/// When the note was last written (seconds since the epoch).
const DECLARED_AT: &str = "declared_at";

/// A batch's counter item as read consistently.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchCounters {
    /// What the counter function has counted so far.
    pub counted: Counters,
    /// The jobs the batch's enqueues made, by the status each was made in.
    pub declared: BTreeMap<JobStatus, u64>,
    /// When an enqueue last wrote the note: it speaks for the batch only until the counter has
    /// counted its jobs, a short while after.
    pub declared_at: Option<DateTime<Utc>>,
    /// When its first job was created, as the first enqueue or count noted it (none for a
    /// batch noted before this was).
    pub first_created: Option<DateTime<Utc>>,
}

impl JobStore {
    /// Note that an enqueue of `batch_id` made `made` jobs (by status), created at `created`.
    /// One UpdateItem.
    pub async fn declare_batch(
        &self,
        batch_id: &str,
        made: &BTreeMap<JobStatus, u64>,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut actions: Vec<Action> = made
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(status, n)| {
                Action::AddNumber(declared_field(*status), i64::try_from(*n).unwrap_or(i64::MAX))
            })
            .collect();
        if actions.is_empty() {
            return Ok(());
        }
        actions.push(Action::Set(DECLARED_AT.into(), Attr::n(now.timestamp())));
        actions.push(Action::SetIfMissing(tally::FIRST_CREATED.into(), Attr::s(format_time(created))));
        let update = Update::new(actions).returning(Returns::Nothing);
        let key = tally::batch_counter(batch_id);
        self.table.update(&key, &update, None).await.map_err(|e| aws("UpdateItem(declare batch)", e))?;
        Ok(())
    }

    /// The batch's counter item, read consistently (it may have been written just now).
    pub async fn batch_counters(&self, batch_id: &str) -> Result<Option<BatchCounters>, StoreError> {
        let key = tally::batch_counter(batch_id);
        let item = self.table.get(&key, true).await.map_err(|e| aws("GetItem(batch)", e))?;
        Ok(item.map(|item| {
            let declared = JobStatus::ALL
                .into_iter()
                .filter_map(|status| {
                    let n = item.get(&declared_field(status)).and_then(Attr::as_i64)?;
                    Some((status, u64::try_from(n).ok().filter(|n| *n > 0)?))
                })
                .collect();
            let declared_at = item.get(DECLARED_AT).and_then(Attr::as_i64);
            let declared_at = declared_at.and_then(|at| DateTime::from_timestamp(at, 0));
            let first_created =
                item.get(tally::FIRST_CREATED).and_then(Attr::as_str).and_then(|t| parse_time(t).ok());
            BatchCounters { counted: counters_from(&item), declared, declared_at, first_created }
        }))
    }
}
