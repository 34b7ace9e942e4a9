//! Peak resident memory of the worker's release binary under the Runtime API, after it ran
//! 50 batches of 10 `noop` jobs against the emulator (`VmHWM` from /proc, read while the process
//! waits for its next event).

use std::time::Duration;

use chrono::Utc;
use jobq::{Envelope, Job, JobStatus, NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

use crate::cold_start::{function_env, sqs_record};
use crate::figure::{BenchError, Result, binary_dir, emit, round};
use crate::lambda_runtime::{FunctionProcess, RuntimeApi};

pub const BATCHES: usize = 50;
pub const BATCH_SIZE: usize = 10;
pub const TARGET_MB: f64 = 32.0;

pub async fn run() {
    let line = match measure().await {
        Ok(line) => line,
        Err(err) => crate::figure::failed("worker_peak_rss", &err),
    };
    emit(&line);
}

async fn measure() -> Result<Value> {
    let env = TestEnv::new().await;
    let tier = PriorityTier::Normal;
    let arn = env.arn(tier).await;
    let now = Utc::now();
    let jobs: Vec<Job> = (0..BATCHES * BATCH_SIZE)
        .map(|_| Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now))
        .collect();
    env.store().create_many(&jobs).await.map_err(|e| BenchError::unexpected("creating jobs", e))?;

    let mut api = RuntimeApi::start("jobq-worker", Duration::from_secs(900)).await?;
    for batch in jobs.chunks(BATCH_SIZE) {
        let records: Vec<Value> = batch
            .iter()
            .map(|j| sqs_record(&Envelope::new(&j.id, &j.job_type, tier, 0).encode(), &arn, json!({})))
            .collect();
        api.invoke(&json!({ "Records": records }))?;
    }
    let binary = binary_dir()?.join(crate::cold_start::BINARY);
    let process = FunctionProcess::spawn(&binary, "jobq-worker", &api, &function_env(&env, "worker"))?;
    let mut failures = 0;
    for _ in 0..BATCHES {
        let answer = match api.answer(Duration::from_secs(120)).await {
            Ok(answer) => answer,
            Err(err) => {
                let log = process.log();
                process.stop().await;
                return Err(BenchError::unexpected("jobq-worker", format!("{err}; log:\n{log}")));
            }
        };
        let response: Value =
            answer.body.as_deref().ok().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        failures += response["batchItemFailures"].as_array().map(Vec::len).unwrap_or(BATCH_SIZE);
    }
    // The worker now waits in GET /next for a 51st event: its peak is final.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let memory = process.memory_kib();
    process.stop().await;
    let (peak_kib, rss_kib) = memory?;
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let records = env.store().batch_get(&ids).await.map_err(|e| BenchError::unexpected("reading jobs", e))?;
    let completed = records.iter().filter(|j| j.status == JobStatus::Completed).count();
    if failures > 0 || completed != jobs.len() {
        return Err(BenchError::unexpected(
            "jobq-worker",
            format!("{failures} records reported failed, {completed} of {} jobs completed", jobs.len()),
        ));
    }
    let peak_mb = peak_kib as f64 / 1024.0;
    Ok(json!({
        "figure": "worker_peak_rss",
        "batches": BATCHES,
        "batch_size": BATCH_SIZE,
        "job_type": "noop",
        "value": round(peak_mb),
        "rss_after_mb": round(rss_kib as f64 / 1024.0),
        "unit": "MiB (VmHWM)",
        "target": format!("< {TARGET_MB} MiB"),
        "met": peak_mb < TARGET_MB,
    }))
}
