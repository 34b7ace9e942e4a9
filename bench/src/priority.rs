//! Priority under saturation: 1,000 `low` jobs enqueued, then 100 `high` ones, on the local
//! stack with its default pollers. How long each tier's jobs waited (first `started_at` minus
//! `created_at`, from the job records): the high tier's median should be under a fifth of the low
//! tier's.

use std::time::Duration;

use serde_json::json;

use crate::figure::{BenchError, Result, emit, median, round};
use crate::local_stack::{LocalStack, job_ids};

pub const LOW_JOBS: usize = 1000;
pub const HIGH_JOBS: usize = 100;
pub const TARGET_RATIO: f64 = 0.2;

pub async fn run() {
    let line = match measure().await {
        Ok(line) => line,
        Err(err) => crate::figure::failed("priority_wait", &err),
    };
    emit(&line);
}

async fn measure() -> Result<serde_json::Value> {
    let stack = LocalStack::start(None).await?;
    let result = measure_on(&stack).await;
    stack.stop().await;
    result
}

async fn enqueue(stack: &LocalStack, priority: &str, count: usize) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for start in (0..count).step_by(crate::e2e::BATCH) {
        let n = crate::e2e::BATCH.min(count - start);
        let jobs = vec![json!({"type": "noop", "priority": priority}); n];
        ids.extend(job_ids(&stack.post("/jobs/batch", &json!({ "jobs": jobs })).await?));
    }
    Ok(ids)
}

async fn measure_on(stack: &LocalStack) -> Result<serde_json::Value> {
    let low = enqueue(stack, "low", LOW_JOBS).await?;
    let high = enqueue(stack, "high", HIGH_JOBS).await?;
    stack.wait_completed("noop", (LOW_JOBS + HIGH_JOBS) as u64, Duration::from_secs(600)).await?;
    let waits = |jobs: Vec<jobq::Job>| -> Result<Vec<f64>> {
        jobs.iter()
            .map(|j| match j.started_at {
                Some(started) => Ok((started - j.created_at).num_milliseconds() as f64),
                None => Err(BenchError::unexpected("priority", format!("job {} never started", j.id))),
            })
            .collect()
    };
    let low_waits = waits(stack.jobs(&low).await?)?;
    let high_waits = waits(stack.jobs(&high).await?)?;
    let (Some(low_median), Some(high_median)) = (median(&low_waits), median(&high_waits)) else {
        return Err(BenchError::unexpected("priority", "no waits"));
    };
    let ratio = high_median / low_median.max(1.0);
    Ok(json!({
        "figure": "priority_wait",
        "low_jobs": LOW_JOBS,
        "high_jobs": HIGH_JOBS,
        "order": "low enqueued first (batches of 100), then high",
        "local_concurrency": "4,2,1 (default)",
        "median_wait_ms": {"high": round(high_median), "low": round(low_median)},
        "max_wait_ms": {
            "high": high_waits.iter().copied().fold(0.0, f64::max),
            "low": low_waits.iter().copied().fold(0.0, f64::max),
        },
        "value": round(ratio),
        "unit": "high median wait / low median wait",
        "target": format!("< {TARGET_RATIO}"),
        "met": ratio < TARGET_RATIO,
    }))
}
