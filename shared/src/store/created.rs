//! The lost-message sweep's walk over `by-created`. An enqueue writes its job, then sends its
//! message; one that died in between left a `queued` job that no message will ever claim. So each
//! job is looked at once, a period after its creation, to see whether it is still waiting. The
//! walk goes on from a checkpoint (per shard, the last row read), so a run reads the jobs created
//! since the last run and no others, however many the table keeps; and a job that completes at
//! once costs the sweep no write at all (see `keys` for why nothing else watches it).

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::codec::{Item, s};
use super::keys::{self, BY_CREATED, PK};
use super::write::aws;
use super::{JobStore, StoreError};
use crate::domain::priority::{PerTier, PriorityTier};
use crate::ports::table::{Attr, IndexQuery};

/// Per shard queried, its page of a walk or sweep, or why its query failed.
pub(super) type ShardPages<T> = Vec<(usize, Result<T, StoreError>)>;

/// The checkpoint's item: one attribute per shard, the sort key of its last row read.
const CHECKPOINT_PK: &str = "sweep#created";

fn shard_attribute(shard: usize) -> String {
    format!("s{shard}")
}

fn reached_attribute(tier: PriorityTier) -> String {
    format!("reached-{}", tier.as_str())
}

/// Where the walk is: per shard, the sort key of the last row read (none: from the start), and
/// whether the shard has no row left before the walk's horizon. With it is kept, per tier, the
/// latest due time of a job the walk saw started: how far the tier's consumers have got (see the
/// scheduler's `backlog`), kept in the same item at no extra request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatedWalk {
    after: Vec<Option<String>>,
    done: Vec<bool>,
    pub reached: PerTier<Option<DateTime<Utc>>>,
}

impl CreatedWalk {
    pub fn is_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    /// Whether the walk has gone past the job of `sort_key` in shard `shard` (it looked at it, or
    /// would have, had it been there).
    pub fn has_passed(&self, shard: usize, sort_key: &str) -> bool {
        self.after.get(shard).and_then(|a| a.as_deref()).is_some_and(|at| sort_key <= at)
    }

    /// Whether it went past rows, or saw consumers further on, since `earlier` (so there is
    /// something new to keep).
    pub fn moved_since(&self, earlier: &CreatedWalk) -> bool {
        self.after != earlier.after || self.reached != earlier.reached
    }

    /// The index row to start after: DynamoDB's ExclusiveStartKey for `by-created` is the row's
    /// table key and index keys.
    fn start_after(&self, shard: usize) -> Option<Item> {
        let sort_key = self.after[shard].as_deref()?;
        let (_, id) = sort_key.split_once('#')?;
        Some(Item::from([
            (PK.to_owned(), s(keys::job_pk(id))),
            (BY_CREATED.pk.to_owned(), s(format!("{}#{shard}", keys::CREATED_VALUE))),
            (BY_CREATED.sk.to_owned(), s(sort_key)),
        ]))
    }
}

impl JobStore {
    /// The walk as the last run left it.
    pub async fn created_walk(&self) -> Result<CreatedWalk, StoreError> {
        let item = self.table.get(CHECKPOINT_PK, true).await.map_err(|e| aws("GetItem(walk)", e))?;
        let shards = keys::INDEX_SHARDS as usize;
        let position = |shard: usize| {
            let attribute = item.as_ref().and_then(|i| i.get(&shard_attribute(shard)));
            attribute.and_then(Attr::as_str).filter(|sk| keys::is_sort_key(sk)).map(str::to_owned)
        };
        let reached = PerTier::from_fn(|tier| {
            let attribute = item.as_ref().and_then(|i| i.get(&reached_attribute(tier)));
            attribute.and_then(Attr::as_str).and_then(|at| crate::domain::model::parse_time(at).ok())
        });
        Ok(CreatedWalk { after: (0..shards).map(position).collect(), done: vec![false; shards], reached })
    }

    /// The ids of the next jobs created before `before`: up to `per_shard` from each shard not yet
    /// done, continuing from `walk` (which it advances). A shard whose query fails (its partition
    /// hot, say) stays where it was, for the next run, and the others are read all the same: an
    /// error only when every shard queried failed.
    pub async fn created_rows(
        &self,
        before: DateTime<Utc>,
        per_shard: usize,
        walk: &mut CreatedWalk,
    ) -> Result<Vec<String>, StoreError> {
        let below = crate::domain::model::format_time(before);
        let walk_now = &*walk;
        let pages: ShardPages<(Vec<String>, bool)> = futures::stream::iter(0..walk.after.len())
            .filter(|shard| std::future::ready(!walk_now.done[*shard]))
            .map(|shard| {
                let mut q = IndexQuery::new(BY_CREATED, format!("{}#{shard}", keys::CREATED_VALUE));
                q.sort_below = Some(below.clone());
                q.limit = Some(per_shard.max(1));
                q.start_after = walk_now.start_after(shard);
                async move {
                    let page = self.table.query(&q).await.map_err(|e| aws("Query(created)", e));
                    let page = page.map(|page| {
                        let sort_keys = page
                            .items
                            .iter()
                            .filter_map(|i| i.get(BY_CREATED.sk).and_then(Attr::as_str).map(str::to_owned))
                            .collect();
                        (sort_keys, page.last_key.is_none())
                    });
                    (shard, page)
                }
            })
            .buffer_unordered(keys::INDEX_SHARDS as usize)
            .collect()
            .await;
        let (mut ids, mut failed, queried) = (Vec::new(), None, pages.len());
        for (shard, page) in pages {
            let (sort_keys, ended): (Vec<String>, bool) = match page {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(shard, error = %err, "lost-message walk: a shard is left for the next run");
                    walk.done[shard] = true;
                    failed.get_or_insert((err, 0)).1 += 1;
                    continue;
                }
            };
            walk.done[shard] = ended;
            if let Some(last) = sort_keys.last() {
                walk.after[shard] = Some(last.clone());
            }
            ids.extend(sort_keys.iter().filter_map(|sk| sk.split_once('#').map(|(_, id)| id.to_owned())));
        }
        match failed {
            Some((err, n)) if n == queried => Err(err),
            _ => Ok(ids),
        }
    }

    /// Keep where the walk is, for the next run. Two runs at once may both write: either
    /// position is safe, as looking at a job twice sends it at most once per period.
    pub async fn save_created_walk(&self, walk: &CreatedWalk) -> Result<(), StoreError> {
        let mut item = Item::from([(PK.to_owned(), s(CHECKPOINT_PK))]);
        for (shard, after) in walk.after.iter().enumerate() {
            if let Some(sort_key) = after {
                item.insert(shard_attribute(shard), s(sort_key));
            }
        }
        for (tier, reached) in reached_marks(walk) {
            item.insert(reached_attribute(tier), s(crate::domain::model::format_time(reached)));
        }
        self.table.put(item, None).await.map_err(|e| aws("PutItem(walk)", e))
    }
}

fn reached_marks(walk: &CreatedWalk) -> impl Iterator<Item = (PriorityTier, DateTime<Utc>)> + '_ {
    walk.reached.iter().filter_map(|(tier, at)| at.map(|at| (tier, at)))
}
