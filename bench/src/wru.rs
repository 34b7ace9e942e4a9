//! Write request units (WRU) per successful job, as DynamoDB would charge them: `noop` jobs
//! through the real API service and worker on the in-memory ports, with the in-memory table
//! tallying each write's units by DynamoDB's documented rules (the table and every index; see
//! `jobq::adapters::memory::capacity`: the emulator's ReturnConsumedCapacity is a constant, so it is not
//! asked). Split by target (the table, each index) and by step (enqueue, claim, finish,
//! counting, other writes).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::DateTime;
use jobq::adapters::memory::capacity::{Charge, WriteUnits, job_step};
use jobq::domain::task::Registry;
use jobq::handlers::worker::{WorkerSettings, drain};
use jobq::ports::ManualClock;
use jobq::ports::table::ChangeFeed;
use jobq::{JobStatus, NewJob, Ports};
use serde_json::{Value, json};

use crate::figure::{self, BenchError, Result};

const JOBS: usize = 1_000;
/// Jobs per `POST /jobs/batch` in the batch variant.
const BATCH: usize = 100;
/// Issue 15's target for a `noop` job enqueued alone; issue 27's, with its owner, alone or in a
/// batch.
const TARGET: f64 = 5.0;

pub async fn run() {
    for batched in [false, true] {
        let name = if batched { "wru_per_job_batch" } else { "wru_per_job" };
        match measure(batched).await {
            Ok(line) => figure::emit(&line),
            Err(e) => figure::emit(&figure::failed(name, &e)),
        }
    }
}

/// `JOBS` noop jobs enqueued one by one (or `BATCH` to a batch), then run by the worker.
async fn measure(batched: bool) -> Result<Value> {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default());
    let (ports, aws) = Ports::memory(Arc::new(clock)).map_err(|e| BenchError::unexpected("ports", e))?;
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let worker = ports.worker(registry, WorkerSettings::default());
    aws.table.classify_writes(job_step);
    let feed = aws.table.changes();
    // As a submitter enqueues them: an owner and a group on each, listed from `by-created`.
    let noop = || NewJob {
        job_type: "noop".into(),
        owner: Some("bench-user".into()),
        group: Some("channel:bench".into()),
        ..NewJob::default()
    };
    let mut ids = Vec::with_capacity(JOBS);
    if batched {
        for n in 0..JOBS.div_ceil(BATCH) {
            let specs = (0..BATCH.min(JOBS - n * BATCH)).map(|_| noop()).collect();
            let batch_id = service.new_batch_id();
            let jobs = service.enqueue_batch(specs, &batch_id).await.map_err(err("enqueue_batch"))?;
            ids.extend(jobs.into_iter().map(|job| job.id));
        }
    } else {
        for _ in 0..JOBS {
            ids.push(service.enqueue(noop()).await.map_err(err("enqueue"))?.0.id);
        }
    }
    drain(&ports.queues, &worker).await.map_err(|e| BenchError::unexpected("drain", e))?;
    // The counter function's share: each shard of the stream counted in deliveries of 100 of its
    // changes, as the event source mapping delivers a shard's (up to 1,000: the figure errs high).
    let counter = ports.counter();
    for shard in feed.shards() {
        let changes = feed
            .shard(&shard)
            .read(None, usize::MAX)
            .await
            .map_err(|e| BenchError::unexpected("stream", e))?;
        for delivery in changes.chunks(100) {
            counter.count(delivery).await.map_err(|e| BenchError::unexpected("count", e))?;
        }
    }
    let mut succeeded = 0usize;
    for id in &ids {
        let job = service.get(id).await.map_err(err("get"))?;
        succeeded += usize::from(job.is_some_and(|job| job.status == JobStatus::Completed));
    }
    if succeeded == 0 {
        return Err(BenchError::unexpected("wru", "no job completed"));
    }
    Ok(line(batched, succeeded, &aws.table.write_units()))
}

fn err(what: &'static str) -> impl FnOnce(jobq::handlers::service::ServiceError) -> BenchError {
    move |e| BenchError::unexpected(what, e)
}

/// The figure's line: every count divided by the jobs that succeeded.
fn line(batched: bool, succeeded: usize, units: &WriteUnits) -> Value {
    let per_job = |units: u64| figure::round(units as f64 / succeeded as f64);
    let split = |charge: &Charge| {
        let mut by: BTreeMap<&str, f64> = BTreeMap::from([("total", per_job(charge.total()))]);
        by.insert("table", per_job(charge.table));
        by.extend(charge.indexes.iter().map(|(name, units)| (*name, per_job(*units))));
        by
    };
    let steps: BTreeMap<&str, _> =
        units.by_step.iter().map(|(step, charge)| (*step, split(charge))).collect();
    let operations: BTreeMap<&str, f64> =
        units.by_operation.iter().map(|(op, units)| (*op, per_job(*units))).collect();
    let wru = per_job(units.total());
    let mut line = json!({
        "figure": if batched { "wru_per_job_batch" } else { "wru_per_job" },
        "job_type": "noop",
        "jobs": JOBS,
        "succeeded": succeeded,
        "enqueue": if batched { format!("batches of {BATCH}") } else { "one by one".to_owned() },
        "wru_per_job": wru,
        "by_target": split(&units.charged),
        "by_step": steps,
        "by_operation": operations,
        "refused_per_job": per_job(units.refused),
        "unit": "write request units per successful job",
        "note": "computed by the in-memory table from DynamoDB's documented rules (items and index entries by size), not asked of the emulator",
    });
    // Issue 27: at most five with the owner listed, enqueued alone or in a batch.
    line["owner"] = json!("set (and a group): listed by owner from by-created, no index of its own");
    line["target"] = json!(format!("<= {TARGET}"));
    line["met"] = json!(wru <= TARGET);
    line
}
