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
use super::keys::{self, BY_BATCH, BY_CREATED, BY_STATUS};
use crate::domain::model::Job;
use crate::domain::status::JobStatus;
use crate::ports::table::IndexDef;

/// Filters of a listing; any combination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub batch_id: Option<String>,
    /// Whose jobs: read from the full items (no index holds owners yet).
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
    /// Filter on the projected `type` inside the index query.
    pub index_type_filter: Option<String>,
    /// Filters applied to full items after they are read.
    pub post_status: Option<JobStatus>,
    pub post_type: Option<String>,
    pub post_owner: Option<String>,
    pub post_group: Option<String>,
}

impl ListQuery {
    /// A batch is the narrowest key; then a status `by-status` holds (type filtered in the index);
    /// anything else reads `by-created`, type filtered in the index and status on the full items.
    pub(crate) fn plan(&self) -> Plan {
        if let Some(batch) = &self.batch_id {
            return Plan {
                index: BY_BATCH,
                partitions: keys::all_shards(batch),
                index_type_filter: None,
                post_status: self.status,
                post_type: self.job_type.clone(),
                post_owner: self.owner.clone(),
                post_group: self.group.clone(),
            };
        }
        if let Some(status) = self.status.filter(|s| keys::status_indexed(*s)) {
            return Plan {
                index: BY_STATUS,
                partitions: keys::all_shards(status.as_str()),
                index_type_filter: self.job_type.clone(),
                post_status: None,
                post_type: None,
                post_owner: self.owner.clone(),
                post_group: self.group.clone(),
            };
        }
        Plan {
            index: BY_CREATED,
            partitions: keys::all_shards(keys::CREATED_VALUE),
            index_type_filter: self.job_type.clone(),
            post_status: self.status,
            post_type: None,
            post_owner: self.owner.clone(),
            post_group: self.group.clone(),
        }
    }
}

impl Plan {
    /// Whether some rows the index returns may be left out after they are read.
    pub fn filters_items(&self) -> bool {
        self.post_status.is_some()
            || self.post_type.is_some()
            || self.post_owner.is_some()
            || self.post_group.is_some()
    }

    pub fn keeps(&self, job: &Job) -> bool {
        self.post_status.is_none_or(|s| job.status == s)
            && self.post_type.as_ref().is_none_or(|t| &job.job_type == t)
            && self.post_owner.as_ref().is_none_or(|o| job.owner.as_ref() == Some(o))
            && self.post_group.as_ref().is_none_or(|g| job.group.as_ref() == Some(g))
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
        let plan = q.plan();
        assert_eq!(plan.index, BY_STATUS);
        assert_eq!(plan.index_type_filter.as_deref(), Some("x"));
        assert_eq!(plan.partitions.len(), keys::INDEX_SHARDS as usize);
        assert!(!plan.filters_items());
        let all = ListQuery::default().plan();
        assert_eq!((all.index, all.partitions.len()), (BY_CREATED, keys::INDEX_SHARDS as usize));
        assert!(!all.filters_items());
        // Statuses on the path of a job that completes at once are not in by-status.
        let q = ListQuery {
            status: Some(JobStatus::Completed),
            job_type: Some("x".into()),
            ..ListQuery::default()
        };
        let plan = q.plan();
        assert_eq!((plan.index, plan.post_status), (BY_CREATED, Some(JobStatus::Completed)));
        assert_eq!(plan.index_type_filter.as_deref(), Some("x"));
        let batch =
            ListQuery { batch_id: Some("b".into()), status: Some(JobStatus::Queued), ..ListQuery::default() }
                .plan();
        assert_eq!((batch.index, batch.post_status), (BY_BATCH, Some(JobStatus::Queued)));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let sk = keys::sort_key("2026-01-01T00:00:00.000Z", "abc");
        assert_eq!(decode_cursor(&encode_cursor(&sk)).expect("valid"), sk);
        assert!(matches!(decode_cursor("!!!"), Err(StoreError::BadCursor(_))));
        assert!(matches!(decode_cursor(&encode_cursor("hello")), Err(StoreError::BadCursor(_))));
    }
}
