//! What a run did, and the summary printed over a set of runs: jobs, simulated time, requests
//! per job by operation, worst wait per tier, faults injected.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use jobq::adapters::memory::capacity::WriteUnits;
use jobq::{Job, PriorityTier};

use crate::invariants::Violation;
use crate::world::Log;

#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub seed: u64,
    /// Jobs in the table at the end (accepted, and any an aborted request left behind).
    pub jobs: usize,
    pub accepted: usize,
    pub refused: u64,
    pub simulated: chrono::Duration,
    /// Requests by operation: DynamoDB's by name, SQS's as `SQS:<name>`.
    pub requests: BTreeMap<String, u64>,
    /// The longest a job waited from due to its latest start, per tier, in ms.
    pub worst_wait_ms: BTreeMap<PriorityTier, u64>,
    pub faults: BTreeMap<&'static str, u64>,
    pub kills: u64,
    pub invocations: u64,
    pub cold_starts: u64,
    pub letters: usize,
    pub by_status: BTreeMap<String, u64>,
    /// Write units charged, as DynamoDB would charge them (table and indexes), by step.
    pub write_units: WriteUnits,
    /// Request counters a scenario's script noted, by name.
    pub snapshots: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Jobs whose handler overran its timeout on every attempt.
    pub overran: u64,
    /// Run writes the ownership witness checked.
    pub owned_writes: u64,
    /// Objects in the bucket at the end (payloads and results too large for a job item).
    pub blob_keys: usize,
    /// Messages sent to the tier queues, batch entries and copies included.
    pub messages_sent: u64,
    /// Transactions cancelled for meeting another (`TransactionConflict`), by the item met.
    pub conflicts: BTreeMap<String, u64>,
    /// Pipelines' next steps made (by the worker, when their jobs completed).
    pub steps_made: usize,
    /// A hash of every job's id, status, attempts and end, and of the requests: equal for two
    /// runs of one seed.
    pub fingerprint: u64,
    /// Jobs and batches read at once after their creation ([`crate::script::Action::EnqueueAndRead`]).
    pub read_at_once: u64,
    pub violations: Vec<Violation>,
}

impl RunReport {
    pub fn new(seed: u64, log: &Log, jobs: &[Job], requests: BTreeMap<String, u64>) -> RunReport {
        let mut worst_wait_ms = BTreeMap::new();
        let mut by_status = BTreeMap::new();
        for job in jobs {
            let worst = worst_wait_ms.entry(job.tier).or_insert(0);
            *worst = (*worst).max(job.wait_ms.unwrap_or(0));
            *by_status.entry(job.status.to_string()).or_insert(0) += 1;
        }
        let mut hasher = std::hash::DefaultHasher::new();
        for job in jobs {
            (&job.id, job.status.as_str(), job.attempts, job.completed_at).hash(&mut hasher);
        }
        requests.hash(&mut hasher);
        RunReport {
            fingerprint: hasher.finish(),
            seed,
            jobs: jobs.len(),
            steps_made: crate::invariants::steps_made(jobs),
            accepted: log.accepted.len(),
            refused: log.refused,
            requests,
            worst_wait_ms,
            faults: log.faults.clone(),
            kills: log.kills,
            invocations: log.invocations,
            cold_starts: log.cold_starts,
            letters: log.letters.len(),
            by_status,
            snapshots: log.snapshots.clone(),
            overran: jobs.iter().filter(|j| crate::invariants::overruns(j)).count() as u64,
            read_at_once: log.read_at_once,
            ..RunReport::default()
        }
    }

    /// What the runs' checks found, one line each, naming the seed to replay.
    pub fn failures(&self) -> String {
        let mut out = String::new();
        for v in &self.violations {
            let _ = writeln!(
                out,
                "seed {} [{}] {}  (replay: JOBQ_SIM_SEED={})",
                self.seed, v.invariant, v.detail, self.seed
            );
        }
        out
    }
}

/// The summary of a set of runs.
pub fn summary(runs: &[RunReport]) -> String {
    let n = runs.len().max(1) as f64;
    let jobs: usize = runs.iter().map(|r| r.jobs).sum();
    let hours: f64 = runs.iter().map(|r| r.simulated.num_seconds() as f64 / 3600.0).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "simulation: {} runs, {jobs} jobs ({:.0} a run), {hours:.0} simulated hours",
        runs.len(),
        jobs as f64 / n
    );
    let mut requests: BTreeMap<&str, u64> = BTreeMap::new();
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let mut worst: BTreeMap<PriorityTier, u64> = BTreeMap::new();
    for run in runs {
        run.requests.iter().for_each(|(op, c)| *requests.entry(op).or_default() += c);
        run.faults.iter().for_each(|(k, c)| *faults.entry(k).or_default() += c);
        for (tier, ms) in &run.worst_wait_ms {
            let w = worst.entry(*tier).or_default();
            *w = (*w).max(*ms);
        }
    }
    let per_job: Vec<String> =
        requests.iter().map(|(op, c)| format!("{op} {:.2}", *c as f64 / jobs.max(1) as f64)).collect();
    let _ = writeln!(out, "  requests per job: {}", per_job.join(", "));
    let worst: Vec<String> =
        worst.iter().map(|(t, ms)| format!("{t} {:.0} s", *ms as f64 / 1000.0)).collect();
    let _ = writeln!(out, "  worst wait per tier: {}", worst.join(", "));
    let _ = writeln!(out, "  write units per job: {}", write_units(runs, jobs));
    let faults: Vec<String> = faults.iter().map(|(k, c)| format!("{k} {c}")).collect();
    let _ = writeln!(out, "  faults: {}", faults.join(", "));
    let kills: u64 = runs.iter().map(|r| r.kills).sum();
    let invocations: u64 = runs.iter().map(|r| r.invocations).sum();
    let cold: u64 = runs.iter().map(|r| r.cold_starts).sum();
    let letters: usize = runs.iter().map(|r| r.letters).sum();
    let owned: u64 = runs.iter().map(|r| r.owned_writes).sum();
    let _ = writeln!(
        out,
        "  invocations {invocations} ({cold} cold, {kills} killed), dead letters {letters}, \
         run writes checked for ownership {owned}"
    );
    out
}

/// Write units per job over `runs`: the total, the table's and the indexes' shares, and by step.
fn write_units(runs: &[RunReport], jobs: usize) -> String {
    let per_job = |units: u64| units as f64 / jobs.max(1) as f64;
    let (mut total, mut table) = (0, 0);
    let mut by_step: BTreeMap<&str, u64> = BTreeMap::new();
    for run in runs {
        total += run.write_units.total();
        table += run.write_units.table();
        for (step, charge) in &run.write_units.by_step {
            *by_step.entry(step).or_default() += charge.total();
        }
    }
    let steps: Vec<String> = by_step.iter().map(|(s, u)| format!("{s} {:.2}", per_job(*u))).collect();
    format!(
        "{:.2} (table {:.2}, indexes {:.2}); by step: {}",
        per_job(total),
        per_job(table),
        per_job(total - table),
        steps.join(", ")
    )
}
