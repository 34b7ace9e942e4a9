//! Reads over many jobs: listings by index, batch reads, counts, expired leases.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::attrs::{ID, TYPE};
use super::codec::{Item, s};
use super::keys::{self, BY_DUE, BY_STATUS, PK};
use super::listing::{ListQuery, Page, PartitionPage, Plan, decode_cursor, encode_cursor, merge_page};
use super::unprocessed::{BATCH_ROUNDS, left_unprocessed, pause_before};
use super::write::{aws, decode};
use super::{BatchCounters, JobStore, StoreError};
use crate::domain::model::Job;
use crate::domain::status::JobStatus;
use crate::ports::table::{Attr, Cond, IndexQuery};

/// Concurrent index queries of one listing.
const LIST_FANOUT: usize = 16;
/// BatchGetItem's limit.
const BATCH_GET_MAX: usize = 100;
/// Rounds a filtered listing may read to fill one page.
pub const FILTERED_ROUNDS: usize = 8;
/// Index rows a partition query reads per round when the index filters them: rows are small
/// (keys and a few names, about 40 to a read unit), and another owner's rows are most of them.
const FILTERED_ROWS: usize = 250;
/// How long before its first noted job a batch's listing starts (see
/// [`BatchCounters::listing_start`]): a clock may lag another's, and the stream counts shards in
/// any order.
const BATCH_START_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

impl BatchCounters {
    /// The sort key a listing of the batch starts from: a little before the first of its jobs
    /// the enqueue or the counter noted (none, from the first row, for a batch noted before first
    /// times were).
    pub fn listing_start(&self) -> Option<String> {
        self.first_created.map(|t| crate::domain::model::format_time(t - BATCH_START_MARGIN))
    }
}

impl JobStore {
    /// Jobs matching `query`, newest first, `limit` at most, continuing after `cursor`. A listing
    /// filtered (on the full items, or inside the index) reads up to [`FILTERED_ROUNDS`] rounds
    /// of rows to fill its page; a page still short then ends with a cursor to go on from.
    pub async fn list(
        &self,
        query: &ListQuery,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, StoreError> {
        let counters = match &query.batch_id {
            Some(batch) => match self.batch_counters(batch).await? {
                // Nothing noted of the batch: no job of it was made, or none counted yet.
                None => return Ok(Page { jobs: Vec::new(), next_cursor: None }),
                Some(counters) => Some(counters),
            },
            None => None,
        };
        self.list_noted(query, counters.as_ref(), limit, cursor).await
    }

    /// [`JobStore::list`], for a caller that read the batch's counters already (`counters`: the
    /// batch's, when `query` names one), so they are not read twice.
    pub async fn list_noted(
        &self,
        query: &ListQuery,
        counters: Option<&BatchCounters>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, StoreError> {
        let limit = limit.max(1);
        let mut below = cursor.map(decode_cursor).transpose()?;
        let plan = query.plan(counters.and_then(BatchCounters::listing_start));
        let mut jobs: Vec<Job> = Vec::new();
        for _ in 0..FILTERED_ROUNDS {
            let (read, next) = self.list_round(&plan, limit, below.as_deref()).await?;
            jobs.extend(read.into_iter().filter(|job| plan.keeps(job)));
            below = next;
            let filtered = plan.filters_items() || plan.filters_rows();
            if jobs.len() >= limit || below.is_none() || !filtered {
                break;
            }
        }
        if jobs.len() > limit {
            jobs.truncate(limit);
            below =
                jobs.last().map(|j| keys::sort_key(&crate::domain::model::format_time(j.created_at), &j.id));
        }
        Ok(Page { jobs, next_cursor: below.as_deref().map(encode_cursor) })
    }

    /// One round of a listing: up to `limit` rows of every partition below `below` (more when
    /// the index filters them), merged, and their jobs read in full; the sort key to go on below,
    /// if any is left.
    async fn list_round(
        &self,
        plan: &Plan,
        limit: usize,
        below: Option<&str>,
    ) -> Result<(Vec<Job>, Option<String>), StoreError> {
        let rows = if plan.filters_rows() { limit.max(FILTERED_ROWS) } else { limit };
        let parts: Vec<PartitionPage> = futures::stream::iter(plan.partitions.clone())
            .map(|partition: String| {
                let mut q = IndexQuery::new(plan.index, partition);
                q.sort_below = below.map(str::to_owned);
                q.sort_from = plan.sort_from.clone();
                q.ascending = false;
                q.limit = Some(rows);
                q.filter = plan.index_condition();
                async move { self.partition_page(&q).await }
            })
            .buffered(LIST_FANOUT)
            .try_collect()
            .await?;
        let (sort_keys, next) = merge_page(parts, limit);
        let ids: Vec<String> =
            sort_keys.iter().filter_map(|sk| sk.split_once('#').map(|(_, id)| id.to_owned())).collect();
        Ok((self.batch_get(&ids).await?, next))
    }

    async fn partition_page(&self, q: &IndexQuery) -> Result<PartitionPage, StoreError> {
        let page = self.table.query(q).await.map_err(|e| aws("Query", e))?;
        let sort_key = |item: &Item| item.get(q.index.sk).and_then(Attr::as_str).map(str::to_owned);
        Ok(PartitionPage {
            sort_keys: page.items.iter().filter_map(sort_key).collect(),
            stopped_at: page.last_key.as_ref().and_then(sort_key),
        })
    }

    /// Full jobs for `ids`, in the same order; ids with no item are left out.
    pub async fn batch_get(&self, ids: &[String]) -> Result<Vec<Job>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| keys::job_pk(id)).collect();
        let mut found: HashMap<String, Job> = HashMap::with_capacity(ids.len());
        for item in self.batch_get_items(keys).await? {
            if let Some(Attr::S(id)) = item.get(ID) {
                found.insert(id.clone(), decode(id, &item)?);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// BatchGetItem in chunks of 100, retrying the keys DynamoDB leaves unprocessed under load.
    pub(super) async fn batch_get_items(&self, keys: Vec<String>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = chunk.to_vec();
            for round in 0..BATCH_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                pause_before(round).await;
                let got = self.table.batch_get(&pending).await.map_err(|e| aws("BatchGetItem", e))?;
                items.extend(got.items);
                pending = got.unprocessed;
            }
            if !pending.is_empty() {
                return Err(left_unprocessed("BatchGetItem", "keys"));
            }
        }
        Ok(items)
    }

    /// How many jobs have `status` (of `job_type`, when given): a count query per index shard for
    /// a status `by-status` holds; any other reads every job. For tests and tools: requests read
    /// the counters instead.
    pub async fn count(&self, status: JobStatus, job_type: Option<&str>) -> Result<u64, StoreError> {
        if !keys::status_indexed(status) {
            let query = ListQuery {
                status: Some(status),
                job_type: job_type.map(str::to_owned),
                ..ListQuery::default()
            };
            let (mut total, mut cursor) = (0u64, None::<String>);
            loop {
                let page = self.list(&query, 500, cursor.as_deref()).await?;
                total += page.jobs.len() as u64;
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => return Ok(total),
                }
            }
        }
        let counts: Vec<u64> = futures::stream::iter(keys::all_shards(status.as_str()))
            .map(|partition| async move {
                let mut q = IndexQuery::new(BY_STATUS, partition);
                q.count_only = true;
                q.filter = job_type.map(|t| Cond::eq(TYPE, s(t)));
                let mut total = 0u64;
                loop {
                    let page = self.table.query(&q).await.map_err(|e| aws("Query(count)", e))?;
                    total += page.count as u64;
                    match page.last_key {
                        Some(key) => q.start_after = Some(key),
                        None => return Ok::<u64, StoreError>(total),
                    }
                }
            })
            .buffer_unordered(LIST_FANOUT)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }

    /// `processing` jobs whose lease ended before `before` (their run died, or is about to lose
    /// them): up to `per_shard` from each shard of the lease-end index, earliest lease first. Reads
    /// only the overdue rows, however many jobs are running.
    pub async fn expired_leases(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        per_shard: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let queries = keys::all_shards(JobStatus::Processing.as_str()).into_iter().map(|partition| {
            let mut q = IndexQuery::new(BY_DUE, partition);
            q.sort_below = Some(keys::due_prefix(before));
            q.limit = Some(per_shard.max(1));
            q
        });
        let mut jobs = self.jobs_of_queries(queries, "Query(expired_leases)").await?;
        jobs.retain(|j| j.status == JobStatus::Processing && j.lease_until.is_some_and(|at| at < before));
        jobs.sort_by(|a, b| (a.lease_until, &a.id).cmp(&(b.lease_until, &b.id)));
        Ok(jobs)
    }

    /// The jobs the rows of `queries` point at (one page each, run at once), read in full.
    async fn jobs_of_queries(
        &self,
        queries: impl Iterator<Item = IndexQuery>,
        operation: &'static str,
    ) -> Result<Vec<Job>, StoreError> {
        let ids: Vec<Vec<String>> = futures::stream::iter(queries)
            .map(|q: IndexQuery| async move {
                let page = self.table.query(&q).await.map_err(|e| aws(operation, e))?;
                let id = |item: &Item| {
                    item.get(PK).and_then(Attr::as_str).and_then(keys::id_from_pk).map(str::to_owned)
                };
                Ok::<_, StoreError>(page.items.iter().filter_map(id).collect())
            })
            .buffer_unordered(LIST_FANOUT)
            .try_collect()
            .await?;
        let ids: Vec<String> = ids.into_iter().flatten().collect();
        self.batch_get(&ids).await
    }
}
