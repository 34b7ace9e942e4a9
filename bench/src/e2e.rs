//! End to end through the local stack: `noop` jobs enqueued over HTTP (by `POST /jobs/batch` of
//! 100, and by single `POST /jobs` with several requests in flight), run by the stack's pollers
//! and worker. Throughput runs from the first enqueue request to the last completion recorded
//! in the job records; latency is per HTTP request.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::figure::{BenchError, Result, emit, ms, percentile, round};
use crate::local_stack::{LocalStack, job_ids};

/// Jobs per run.
pub const JOBS: usize = 2000;
/// The API's largest batch (`MAX_BATCH_JOBS`).
pub const BATCH: usize = jobq::api::input::MAX_BATCH_JOBS;
/// Requests in flight: single `POST /jobs`, and `POST /jobs/batch`.
pub const SINGLE_IN_FLIGHT: usize = 16;
pub const BATCH_IN_FLIGHT: usize = 4;

/// How jobs are enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Batch,
    Single,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Batch => "post_jobs_batch",
            Mode::Single => "post_jobs",
        }
    }

    pub fn in_flight(self) -> usize {
        match self {
            Mode::Batch => BATCH_IN_FLIGHT,
            Mode::Single => SINGLE_IN_FLIGHT,
        }
    }
}

/// One end-to-end run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mode: Mode,
    pub jobs: usize,
    pub jobs_per_second: f64,
}

pub async fn run() -> Vec<Result<Outcome>> {
    let mut outcomes = Vec::new();
    for mode in [Mode::Batch, Mode::Single] {
        let outcome = measure(mode, JOBS).await;
        if let Err(err) = &outcome {
            let mut line = crate::figure::failed("e2e_throughput", err);
            line["mode"] = json!(mode.as_str());
            emit(&line);
        }
        outcomes.push(outcome);
    }
    outcomes
}

async fn measure(mode: Mode, jobs: usize) -> Result<Outcome> {
    let stack = LocalStack::start(None).await?;
    let result = measure_on(&stack, mode, jobs).await;
    stack.stop().await;
    result
}

async fn measure_on(stack: &LocalStack, mode: Mode, jobs: usize) -> Result<Outcome> {
    let bodies: Vec<(String, Value)> = match mode {
        Mode::Batch => (0..jobs.div_ceil(BATCH))
            .map(|b| {
                let n = BATCH.min(jobs - b * BATCH);
                ("/jobs/batch".to_owned(), json!({"jobs": vec![json!({"type": "noop"}); n]}))
            })
            .collect(),
        Mode::Single => (0..jobs).map(|_| ("/jobs".to_owned(), json!({"type": "noop"}))).collect(),
    };
    let first_enqueue = chrono::Utc::now();
    let started = Instant::now();
    let answers: Vec<Result<(Duration, Vec<String>)>> = futures::stream::iter(bodies)
        .map(|(path, body)| async move {
            let sent = Instant::now();
            let answer = stack.post(&path, &body).await?;
            Ok((sent.elapsed(), job_ids(&answer)))
        })
        .buffer_unordered(mode.in_flight())
        .collect()
        .await;
    let enqueue_seconds = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(answers.len());
    let mut ids = Vec::with_capacity(jobs);
    for answer in answers {
        let (latency, new) = answer?;
        latencies.push(ms(latency));
        ids.extend(new);
    }
    if ids.len() != jobs {
        return Err(BenchError::unexpected("enqueue", format!("{} of {jobs} jobs accepted", ids.len())));
    }
    stack.wait_completed("noop", jobs as u64, Duration::from_secs(600)).await?;
    let records = stack.jobs(&ids).await?;
    let not_completed = records.iter().filter(|j| j.status != jobq::JobStatus::Completed).count();
    let last = records.iter().filter_map(|j| j.completed_at).max();
    let (Some(last), 0) = (last, not_completed) else {
        return Err(BenchError::unexpected("e2e", format!("{not_completed} jobs did not complete")));
    };
    let seconds = (last - first_enqueue).num_milliseconds() as f64 / 1000.0;
    let jobs_per_second = jobs as f64 / seconds;
    let p = |q| percentile(&latencies, q).map(round);
    emit(&json!({
        "figure": "e2e_throughput",
        "mode": mode.as_str(),
        "jobs": jobs,
        "job_type": "noop",
        "requests": latencies.len(),
        "requests_in_flight": mode.in_flight(),
        "local_concurrency": "4,2,1 (default)",
        "value": round(jobs_per_second),
        "unit": "jobs/s (first enqueue request to last completed_at)",
        "seconds": round(seconds),
        "enqueue_seconds": round(enqueue_seconds),
        "enqueue_latency_per_request_ms": {"p50": p(50.0), "p99": p(99.0), "max": p(100.0)},
        "jobs_per_request": if mode == Mode::Batch { BATCH } else { 1 },
    }));
    Ok(Outcome { mode, jobs, jobs_per_second })
}
