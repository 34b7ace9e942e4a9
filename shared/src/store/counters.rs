//! The small items beside the jobs: per-type statistics and the pause flags.

use std::collections::BTreeMap;

use chrono::Duration;

use super::attrs::{PAUSE_SCOPES, TYPE};
use super::codec::{Item, n, s};
use super::keys::{self, PAUSE_PK};
use super::pause::{PauseFlags, PauseScope};
use super::write::aws;
use super::{BatchStats, JobStore, StoreError, TypeStats};
use crate::ports::table::{Action, Attr, Cmp, Cond, TableError, Update};

/// Attributes of a stats item that hold a writer's last applied number.
const WRITER_PREFIX: &str = "w_";
/// A writer silent this long is dropped from the stats items it wrote to.
pub const STALE_WRITER: Duration = Duration::hours(24);
/// Writers dropped per type in one stats write, at most.
const FORGET_MAX: usize = 16;

impl JobStore {
    /// Add a batch's counters, once: one UpdateItem per job type in the batch, each conditional
    /// on the item's last number from `writer` being below `seq` (and setting it to `seq`). A
    /// resend of a write that took effect (its response lost) is refused by that condition, so a
    /// count is never added twice. `seq` must grow with each call of one writer, and one writer's
    /// calls must not overlap ([`super::StatsWriter`] sees to both). `forget` lists, per type,
    /// writers to drop from the item; the result lists, per type written, writers not heard from
    /// for [`STALE_WRITER`] (so the item does not grow with every worker that ever ran).
    pub async fn add_stats(
        &self,
        batch: &BatchStats,
        writer: &str,
        seq: u64,
        forget: &BTreeMap<String, Vec<String>>,
    ) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let stale_before = seq.saturating_sub(STALE_WRITER.num_milliseconds().max(0) as u64);
        let writer_attribute = format!("{WRITER_PREFIX}{writer}");
        let condition = Cond::not_exists(&writer_attribute).or(Cond::cmp(&writer_attribute, Cmp::Lt, n(seq)));
        let updates = batch.by_type.iter().map(|(job_type, stats)| {
            let mut update = Update::new(vec![
                Action::Set(TYPE.into(), s(job_type)),
                Action::Set(writer_attribute.clone(), n(seq)),
            ]);
            for (field, value) in TypeStats::FIELDS.iter().zip(stats.values()) {
                if value > 0 {
                    update.actions.push(Action::AddNumber((*field).to_owned(), value as i64));
                }
            }
            for name in forget.get(job_type).into_iter().flatten().filter(|name| **name != writer_attribute) {
                update.actions.push(Action::Remove(name.clone()));
            }
            let condition = &condition;
            async move {
                let key = keys::stats_pk(job_type);
                match self.table.update(&key, &update, Some(condition)).await {
                    Ok(item) => Ok((job_type.clone(), stale_writers(item.as_ref(), stale_before))),
                    // Our number is already there: this write took effect before.
                    Err(TableError::ConditionFailed { .. }) => Ok((job_type.clone(), Vec::new())),
                    Err(err) => Err(aws("UpdateItem(stats)", err)),
                }
            }
        });
        Ok(futures::future::try_join_all(updates).await?.into_iter().collect())
    }

    pub async fn stats(&self, job_type: &str) -> Result<TypeStats, StoreError> {
        let item =
            self.table.get(&keys::stats_pk(job_type), false).await.map_err(|e| aws("GetItem(stats)", e))?;
        Ok(item.as_ref().map(stats_from).unwrap_or_default())
    }

    /// Counters of several job types in one BatchGetItem (types with none are left out).
    pub async fn stats_for(&self, job_types: &[String]) -> Result<Vec<(String, TypeStats)>, StoreError> {
        let keys = job_types.iter().map(|t| keys::stats_pk(t)).collect();
        let mut found: Vec<(String, TypeStats)> = self
            .batch_get_items(keys)
            .await?
            .iter()
            .filter_map(|item| Some((item.get(TYPE)?.as_str()?.to_owned(), stats_from(item))))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    pub async fn pause_flags(&self) -> Result<PauseFlags, StoreError> {
        let item = self.table.get(PAUSE_PK, false).await.map_err(|e| aws("GetItem(pause)", e))?;
        Ok(flags_from(item.as_ref()))
    }

    /// Pause (`paused = true`) or resume one scope; returns the flags after the change.
    pub async fn set_paused(&self, scope: &PauseScope, paused: bool) -> Result<PauseFlags, StoreError> {
        let scopes = vec![scope.to_string()];
        let action = match paused {
            true => Action::AddToSet(PAUSE_SCOPES.into(), scopes),
            false => Action::DeleteFromSet(PAUSE_SCOPES.into(), scopes),
        };
        let update = Update::new(vec![action]);
        let item =
            self.table.update(PAUSE_PK, &update, None).await.map_err(|e| aws("UpdateItem(pause)", e))?;
        Ok(flags_from(item.as_ref()))
    }
}

/// Writer attributes of a stats item whose last number (a time in ms) is below `before`.
fn stale_writers(item: Option<&Item>, before: u64) -> Vec<String> {
    let mut stale: Vec<String> = item
        .into_iter()
        .flatten()
        .filter(|(name, value)| {
            name.starts_with(WRITER_PREFIX) && value.as_i64().is_some_and(|seq| (seq as u64) < before)
        })
        .map(|(name, _)| name.clone())
        .collect();
    stale.sort();
    stale.truncate(FORGET_MAX);
    stale
}

/// A stats item's counters (missing ones are 0).
fn stats_from(item: &Item) -> TypeStats {
    let mut values = [0u64; 7];
    for (slot, field) in values.iter_mut().zip(TypeStats::FIELDS) {
        *slot = item.get(field).and_then(Attr::as_i64).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    }
    TypeStats::from_values(values)
}

fn flags_from(item: Option<&Item>) -> PauseFlags {
    let scopes = match item.and_then(|i| i.get(PAUSE_SCOPES)) {
        Some(Attr::Ss(scopes)) => scopes.as_slice(),
        _ => &[],
    };
    PauseFlags {
        paused: scopes
            .iter()
            .filter_map(|s| {
                s.parse().map_err(|e| tracing::warn!(error = %e, "ignoring stored pause scope")).ok()
            })
            .collect(),
    }
}
