//! Per-job-type statistics, accumulated over a batch and written once per type per batch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DynamoJobStore, StoreError};

/// Counters of one job type. Times are sums in milliseconds; averages divide by `runs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeStats {
    pub completed: u64,
    pub partial: u64,
    pub failed: u64,
    pub retried: u64,
    /// Handler runs that ended (any outcome), the denominator of the averages.
    pub runs: u64,
    pub processing_ms: u64,
    pub wait_ms: u64,
}

impl TypeStats {
    pub const FIELDS: [&'static str; 7] =
        ["completed", "partial", "failed", "retried", "runs", "processing_ms", "wait_ms"];

    pub fn values(&self) -> [u64; 7] {
        [self.completed, self.partial, self.failed, self.retried, self.runs, self.processing_ms, self.wait_ms]
    }

    pub fn from_values(v: [u64; 7]) -> Self {
        TypeStats {
            completed: v[0],
            partial: v[1],
            failed: v[2],
            retried: v[3],
            runs: v[4],
            processing_ms: v[5],
            wait_ms: v[6],
        }
    }

    /// Completed (fully or partly) over all finished jobs.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.completed + self.partial + self.failed;
        (finished > 0).then(|| (self.completed + self.partial) as f64 / finished as f64)
    }

    pub fn avg_processing_ms(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.processing_ms as f64 / self.runs as f64)
    }

    pub fn avg_wait_ms(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.wait_ms as f64 / self.runs as f64)
    }
}

/// What one batch adds, by job type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub by_type: BTreeMap<String, TypeStats>,
}

/// How a run ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Completed,
    Partial,
    Failed,
    Retried,
}

impl BatchStats {
    pub fn record(&mut self, job_type: &str, ended: Ended, processing_ms: u64, wait_ms: u64) {
        let stats = self.by_type.entry(job_type.to_owned()).or_default();
        match ended {
            Ended::Completed => stats.completed += 1,
            Ended::Partial => stats.partial += 1,
            Ended::Failed => stats.failed += 1,
            Ended::Retried => stats.retried += 1,
        }
        stats.runs += 1;
        stats.processing_ms += processing_ms;
        stats.wait_ms += wait_ms;
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// Add another batch's counts to these.
    pub fn merge(&mut self, other: &BatchStats) {
        for (job_type, theirs) in &other.by_type {
            let ours = self.by_type.entry(job_type.clone()).or_default();
            let sum: Vec<u64> = ours.values().iter().zip(theirs.values()).map(|(a, b)| a + b).collect();
            let mut values = [0u64; 7];
            values.copy_from_slice(&sum);
            *ours = TypeStats::from_values(values);
        }
    }
}

/// A worker's statistics writer: every batch's counts are added exactly once, even when a
/// write's response is lost and the write is sent again (by the SDK, or by this writer).
///
/// Each write carries this writer's id and a number that grows with every write (a time in ms);
/// the stats item keeps the last number per writer and refuses one not above it
/// ([`DynamoJobStore::add_stats`]). Writes of one writer go one at a time, in order: batches that
/// finish meanwhile are merged and go in the next write. A write that still fails after a few
/// tries is kept, and sent again with its number before the next one, so it is not counted twice
/// if it did take effect.
#[derive(Debug)]
pub struct StatsWriter {
    id: String,
    pending: std::sync::Mutex<BatchStats>,
    state: tokio::sync::Mutex<WriterState>,
}

#[derive(Debug, Default)]
struct WriterState {
    last_seq: u64,
    unresolved: Option<(u64, BatchStats)>,
    /// Per type, writers to drop from the item at its next write.
    forget: BTreeMap<String, Vec<String>>,
}

/// Tries of one write (each with the SDK's own retries) before it is kept for later.
const WRITE_TRIES: u32 = 3;

impl Default for StatsWriter {
    fn default() -> Self {
        Self::from_ids(&crate::ports::RandomIds)
    }
}

impl StatsWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose id is drawn from `ids` (seeded in the simulation, so a run replays).
    pub fn from_ids(ids: &dyn crate::ports::Ids) -> Self {
        let mut id = ids.token();
        id.truncate(12);
        StatsWriter { id, pending: std::sync::Mutex::default(), state: tokio::sync::Mutex::default() }
    }

    /// Add `batch` (and anything left from before). An error means the counts are kept for the
    /// next call, not lost and not doubled.
    pub async fn add(&self, store: &DynamoJobStore, batch: &BatchStats) -> Result<(), StoreError> {
        if !batch.is_empty()
            && let Ok(mut pending) = self.pending.lock()
        {
            pending.merge(batch);
        }
        let mut state = self.state.lock().await;
        if let Some((seq, unresolved)) = state.unresolved.take()
            && let Err(err) = self.write(store, &mut state, seq, &unresolved).await
        {
            state.unresolved = Some((seq, unresolved));
            return Err(err);
        }
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(()); // written by the call that held the lock before us
        }
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let seq = now_ms.max(state.last_seq + 1);
        state.last_seq = seq;
        if let Err(err) = self.write(store, &mut state, seq, &batch).await {
            state.unresolved = Some((seq, batch));
            return Err(err);
        }
        Ok(())
    }

    async fn write(
        &self,
        store: &DynamoJobStore,
        state: &mut WriterState,
        seq: u64,
        batch: &BatchStats,
    ) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match store.add_stats(batch, &self.id, seq, &state.forget).await {
                Ok(stale) => {
                    for job_type in batch.by_type.keys() {
                        state.forget.remove(job_type);
                    }
                    state.forget.extend(stale.into_iter().filter(|(_, writers)| !writers.is_empty()));
                    return Ok(());
                }
                Err(err) if err.is_transient() && tries < WRITE_TRIES => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_accumulates_per_type() {
        let mut batch = BatchStats::default();
        batch.record("noop", Ended::Completed, 10, 100);
        batch.record("noop", Ended::Completed, 30, 300);
        batch.record("noop", Ended::Failed, 20, 200);
        batch.record("fail", Ended::Retried, 5, 0);
        let noop = batch.by_type["noop"];
        assert_eq!((noop.completed, noop.failed, noop.runs), (2, 1, 3));
        assert_eq!(noop.avg_processing_ms(), Some(20.0));
        assert_eq!(noop.avg_wait_ms(), Some(200.0));
        assert_eq!(noop.success_rate(), Some(2.0 / 3.0));
        assert_eq!(batch.by_type["fail"].success_rate(), None, "nothing finished yet");
        assert_eq!(TypeStats::from_values(noop.values()), noop);
    }

    #[test]
    fn batches_merge_field_by_field() {
        let mut a = BatchStats::default();
        a.record("noop", Ended::Completed, 10, 1);
        let mut b = BatchStats::default();
        b.record("noop", Ended::Retried, 5, 2);
        b.record("echo", Ended::Failed, 7, 3);
        a.merge(&b);
        assert_eq!(a.by_type["noop"], TypeStats::from_values([1, 0, 0, 1, 2, 15, 3]));
        assert_eq!(a.by_type["echo"], TypeStats::from_values([0, 0, 1, 0, 1, 7, 3]));
    }
}
