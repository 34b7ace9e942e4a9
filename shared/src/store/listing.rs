//! Listing across index shards: which partitions to query, how pages merge, and the cursor.
//!
//! Newest first. Every shard is read in descending sort-key order; a merged page may only take
//! items down to the highest point at which some shard stopped early, or that shard's unread items
//! would be skipped. The cursor is one sort key: the next page continues below it in every shard.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use super::attrs::{BATCH_ID, GROUP, OWNER, TYPE};
use super::keys::{self, BY_CREATED, BY_STATUS};
use crate::domain::model::Job;
use crate::domain::status::JobStatus;
use crate::ports::table::{Attr, Cond, IndexDef};

/// Filters of a listing; any combination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub batch_id: Option<String>,
    /// Whose jobs.
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// A page of a listing, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Page {
    pub jobs: Vec<Job>,
    /// Where the next page starts (`cursor`); null after the last.
    pub next_cursor: Option<String>,
}

/// The index and partition keys a query reads, and which filters are left to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub index: IndexDef,
    pub partitions: Vec<String>,
    /// Filters on attributes the index holds ([`keys::LISTED`]), inside the index query.
    pub index_filter: Vec<(&'static str, String)>,
    /// Only rows from this sort key on (a batch: from a little before its first job).
    pub sort_from: Option<String>,
    /// A status `by-created` is read for: filtered on the full items after they are read.
    pub post_status: Option<JobStatus>,
}

impl ListQuery {
    /// A status `by-status` holds is read there; anything else reads `by-created`, its status
    /// filtered on the full items. Type, owner, group and batch are filtered inside the index.
    /// `batch_from`: the earliest sort key the batch's jobs may have (see `JobStore::list`).
    pub(crate) fn plan(&self, batch_from: Option<String>) -> Plan {
        let index_filter: Vec<(&'static str, String)> =
            [(TYPE, &self.job_type), (OWNER, &self.owner), (GROUP, &self.group), (BATCH_ID, &self.batch_id)]
                .into_iter()
                .filter_map(|(attr, value)| value.clone().map(|v| (attr, v)))
                .collect();
        let sort_from = batch_from.filter(|_| self.batch_id.is_some());
        if let Some(status) = self.status.filter(|s| keys::status_indexed(*s)) {
            let partitions = keys::all_shards(status.as_str());
            return Plan { index: BY_STATUS, partitions, index_filter, sort_from, post_status: None };
        }
        let partitions = keys::all_shards(keys::CREATED_VALUE);
        Plan { index: BY_CREATED, partitions, index_filter, sort_from, post_status: self.status }
    }
}

impl Plan {
    /// Whether some rows the index returns may be left out after they are read.
    pub fn filters_items(&self) -> bool {
        self.post_status.is_some()
    }

    /// Whether the index filters rows out: a page may then come back short of its limit.
    pub fn filters_rows(&self) -> bool {
        !self.index_filter.is_empty()
    }

    pub fn keeps(&self, job: &Job) -> bool {
        self.post_status.is_none_or(|s| job.status == s)
    }

    /// The index filter as one condition, if any.
    pub fn index_condition(&self) -> Option<Cond> {
        let mut conds: Vec<Cond> =
            self.index_filter.iter().map(|(attr, value)| Cond::eq(attr, Attr::s(value))).collect();
        match conds.len() {
            0 => None,
            1 => conds.pop(),
            _ => Some(Cond::And(conds)),
        }
    }
}

/// What one partition query returned: sort keys (descending) and where it stopped, if early.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionPage {
    pub sort_keys: Vec<String>,
    /// Sort key of the last item evaluated when the partition has more (DynamoDB's LastEvaluatedKey).
    pub stopped_at: Option<String>,
}

/// Merge partition pages into at most `limit` sort keys, newest first, and the cursor after them.
pub fn merge_page(parts: Vec<PartitionPage>, limit: usize) -> (Vec<String>, Option<String>) {
    // Items below the highest early stop may be preceded by unread items of that partition.
    let floor = parts.iter().filter_map(|p| p.stopped_at.clone()).max();
    let mut eligible: Vec<String> = parts
        .into_iter()
        .flat_map(|p| p.sort_keys)
        .filter(|sk| floor.as_ref().is_none_or(|f| sk >= f))
        .collect();
    eligible.sort_unstable_by(|a, b| b.cmp(a));
    eligible.dedup();
    if eligible.len() > limit {
        eligible.truncate(limit);
        let cursor = eligible.last().cloned();
        return (eligible, cursor);
    }
    // Everything down to the floor was taken; continue below it (nothing is left without one).
    (eligible, floor)
}

pub fn encode_cursor(sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sort_key)
}

pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    let bad = || StoreError::BadCursor("not a cursor returned by this API".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let sort_key = String::from_utf8(bytes).map_err(|_| bad())?;
    if keys::is_sort_key(&sort_key) { Ok(sort_key) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(keys: &[&str], stopped_at: Option<&str>) -> PartitionPage {
        PartitionPage {
            sort_keys: keys.iter().map(|k| k.to_string()).collect(),
            stopped_at: stopped_at.map(str::to_owned),
        }
    }

    #[test]
    fn merges_newest_first_and_cuts_at_the_limit() {
        let (page, cursor) = merge_page(vec![part(&["9", "5", "1"], None), part(&["8", "4"], None)], 3);
        assert_eq!(page, ["9", "8", "5"]);
        assert_eq!(cursor.as_deref(), Some("5"));
    }

    #[test]
    fn never_passes_a_partition_that_stopped_early() {
        // Partition B stopped at "6" (it may hold unread items below 6, e.g. "5.5").
        let (page, cursor) = merge_page(vec![part(&["9", "5", "1"], None), part(&["8", "6"], Some("6"))], 10);
        assert_eq!(page, ["9", "8", "6"]);
        assert_eq!(cursor.as_deref(), Some("6"));
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let (page, cursor) = merge_page(vec![part(&["3"], None), part(&[], None)], 5);
        assert_eq!(page, ["3"]);
        assert_eq!(cursor, None);
        let (page, cursor) = merge_page(vec![part(&["3", "2"], None)], 2);
        assert_eq!((page.len(), cursor), (2, None));
    }

    #[test]
    fn plans_pick_the_narrowest_index() {
        let q =
            ListQuery { status: Some(JobStatus::Failed), job_type: Some("x".into()), ..ListQuery::default() };
        let plan = q.plan(None);
        assert_eq!(plan.index, BY_STATUS);
        assert_eq!(plan.index_filter, [(TYPE, "x".to_owned())]);
        assert_eq!(plan.partitions.len(), keys::INDEX_SHARDS as usize);
        assert!(!plan.filters_items());
        let all = ListQuery::default().plan(None);
        assert_eq!((all.index, all.partitions.len()), (BY_CREATED, keys::INDEX_SHARDS as usize));
        assert!(!all.filters_items() && !all.filters_rows() && all.index_condition().is_none());
        // Statuses on the path of a job that completes at once are not in by-status.
        let q = ListQuery {
            status: Some(JobStatus::Completed),
            job_type: Some("x".into()),
            ..ListQuery::default()
        };
        let plan = q.plan(None);
        assert_eq!((plan.index, plan.post_status), (BY_CREATED, Some(JobStatus::Completed)));
        assert_eq!(plan.index_condition(), Some(Cond::eq(TYPE, Attr::s("x"))));
    }

    /// Owner, group and batch are filtered inside the index (they are projected there), never
    /// on full items; a batch is read from its first job's time on.
    #[test]
    fn owners_groups_and_batches_are_filtered_in_the_index() {
        let q = ListQuery {
            owner: Some("alice".into()),
            group: Some("book:1".into()),
            batch_id: Some("b".into()),
            status: Some(JobStatus::Queued),
            ..ListQuery::default()
        };
        let plan = q.plan(Some("2026-01-01T00:00:00.000Z".into()));
        assert_eq!(plan.index, BY_CREATED);
        let filtered: Vec<&str> = plan.index_filter.iter().map(|(a, _)| *a).collect();
        assert_eq!(filtered, [OWNER, GROUP, BATCH_ID]);
        assert!(filtered.iter().all(|a| keys::LISTED.contains(a)), "only what the index holds");
        assert_eq!(plan.sort_from.as_deref(), Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(plan.post_status, Some(JobStatus::Queued));
        let not_a_batch = ListQuery { owner: Some("alice".into()), ..ListQuery::default() };
        assert_eq!(not_a_batch.plan(Some("2026".into())).sort_from, None, "only a batch has a start");
        let failed = ListQuery { status: Some(JobStatus::Failed), ..q };
        assert_eq!(failed.plan(None).index, BY_STATUS);
        assert_eq!(failed.plan(None).index_filter.len(), 3);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let sk = keys::sort_key("2026-01-01T00:00:00.000Z", "abc");
        assert_eq!(decode_cursor(&encode_cursor(&sk)).expect("valid"), sk);
        assert!(matches!(decode_cursor("!!!"), Err(StoreError::BadCursor(_))));
        assert!(matches!(decode_cursor(&encode_cursor("hello")), Err(StoreError::BadCursor(_))));
    }
}
