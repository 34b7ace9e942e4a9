//! Per-job-type statistics: the totals a type's counter item keeps (see [`super::tally`]), and
//! what one worker batch ran, for its metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
