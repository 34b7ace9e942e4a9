//! AWS requests per job and per store operation.
//!
//! Request counts are taken at the HTTP level by an SDK interceptor on separate clients for the
//! enqueuer, the worker, and the poller that plays Lambda's event source mapping (receive, delete).
//! Empty polls are left out: they depend on how long a queue sits idle, not on the jobs.
//! The counts of enqueueing and of a `noop` run are also the operation mix that the emulator
//! capacity figure replays.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use jobq::adapters::aws::requests::RequestCounts;
use jobq::domain::task::Registry;
use jobq::handlers::worker::{WorkerSettings, poll_once};
use jobq::{Envelope, Job, NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

use crate::figure::{BenchError, Result, emit, round};

/// Requests per job, by `Service:Operation`.
pub type PerJob = BTreeMap<String, f64>;

/// The counted costs the capacity figure replays.
#[derive(Debug, Clone, Default)]
pub struct Costs {
    /// `POST /jobs`, one job per request.
    pub enqueue_single: PerJob,
    /// `POST /jobs/batch`, 100 jobs of one tier per request.
    pub enqueue_batch: PerJob,
    /// One `noop` job run by the worker, with the event source's receive and delete.
    pub noop_run: PerJob,
}

/// Targets per successful job at batch size 10, enqueue included and progress excluded.
pub const TARGET_DYNAMODB_WRITES: f64 = 3.2;
pub const TARGET_SQS_REQUESTS: f64 = 1.3;

/// The DynamoDB operations that are writes.
const WRITES: [&str; 4] =
    ["DynamoDB:PutItem", "DynamoDB:UpdateItem", "DynamoDB:DeleteItem", "DynamoDB:BatchWriteItem"];

/// Every request-count figure; returns the costs the capacity figure needs.
pub async fn run() -> Result<Costs> {
    let (enqueue_single, enqueue_batch) = api_enqueue(true).await?;
    store_operations().await?;
    let noop_run =
        worker_runs("noop_success", json!({}), "noop", 100, WorkerSettings::default(), true).await?;
    worker_runs("one_retry", json!({"times": 1}), "fail", 20, retry_fast(), true).await?;
    for (label, interval_ms) in [("sleep_100_steps_coalesced_1s", 1000), ("sleep_100_steps_uncoalesced", 0)] {
        let settings = WorkerSettings {
            progress_interval: Duration::from_millis(interval_ms),
            ..WorkerSettings::default()
        };
        worker_runs(label, json!({"seconds": 5, "steps": 100}), "sleep", 1, settings, true).await?;
    }
    let costs = Costs { enqueue_single, enqueue_batch, noop_run };
    for line in successful_job_lines(&costs) {
        emit(&line);
    }
    Ok(costs)
}

/// A successful `noop` job from enqueue to delete, for each way of enqueueing, against the targets.
fn successful_job_lines(costs: &Costs) -> Vec<Value> {
    [("post_jobs", &costs.enqueue_single), ("post_jobs_batch_100", &costs.enqueue_batch)]
        .into_iter()
        .map(|(enqueue, mix)| {
            let all = combine(mix, &costs.noop_run);
            let writes: f64 =
                all.iter().filter(|(op, _)| WRITES.contains(&op.as_str())).map(|(_, n)| n).sum();
            let sqs: f64 = all.iter().filter(|(op, _)| op.starts_with("SQS:")).map(|(_, n)| n).sum();
            json!({
                "figure": "requests_per_successful_job",
                "enqueue": enqueue,
                "batch_size": 10,
                "dynamodb_writes_per_job": round(writes),
                "sqs_requests_per_job": round(sqs),
                "by_operation_per_job": rounded(&all),
                "target": format!(
                    "<= {TARGET_DYNAMODB_WRITES} DynamoDB writes and <= {TARGET_SQS_REQUESTS} SQS requests"
                ),
                "met": writes <= TARGET_DYNAMODB_WRITES + 1e-9 && sqs <= TARGET_SQS_REQUESTS + 1e-9,
            })
        })
        .collect()
}

/// The sum of two mixes.
pub fn combine(a: &PerJob, b: &PerJob) -> PerJob {
    let mut sum = a.clone();
    for (op, n) in b {
        *sum.entry(op.clone()).or_default() += n;
    }
    sum
}

/// A mix as a JSON object, three decimals.
pub fn rounded(mix: &PerJob) -> Value {
    Value::Object(mix.iter().map(|(op, n)| (op.clone(), json!(round(*n)))).collect())
}

/// Only the costs (nothing printed), for a capacity figure run on its own.
pub async fn costs() -> Result<Costs> {
    let (enqueue_single, enqueue_batch) = api_enqueue(false).await?;
    let noop_run =
        worker_runs("noop_success", json!({}), "noop", 100, WorkerSettings::default(), false).await?;
    Ok(Costs { enqueue_single, enqueue_batch, noop_run })
}

fn retry_fast() -> WorkerSettings {
    WorkerSettings {
        retry: jobq::domain::task::RetryPolicy {
            base: Duration::from_millis(100),
            factor: 2.0,
            cap: Duration::from_secs(1),
        },
        ..WorkerSettings::default()
    }
}

/// Counts divided by the number of jobs.
pub fn per_job_map(counts: &RequestCounts, jobs: usize) -> PerJob {
    counts.iter().map(|(op, n)| (op.clone(), *n as f64 / jobs as f64)).collect()
}

fn per_job(counts: &RequestCounts, jobs: usize) -> Value {
    let writes: u64 = counts.iter().filter(|(k, _)| WRITES.contains(&k.as_str())).map(|(_, v)| v).sum();
    json!({
        "dynamodb_writes_per_job": round(writes as f64 / jobs as f64),
        "dynamodb_requests_per_job": round(jobq::adapters::aws::requests::total(counts, "DynamoDB") as f64 / jobs as f64),
        "sqs_requests_per_job": round(jobq::adapters::aws::requests::total(counts, "SQS") as f64 / jobs as f64),
        "by_operation_per_job": rounded(&per_job_map(counts, jobs)),
    })
}

async fn post(api: &axum::Router, path: &str, body: Value) -> Result<()> {
    let (status, response) = jobq_integration_tests::call(api, "POST", path, Some(body)).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(BenchError::unexpected(format!("POST {path}"), format!("{status}: {response}")))
    }
}

/// Requests per job of `POST /jobs` and of `POST /jobs/batch` (100 jobs), through the router.
async fn api_enqueue(print: bool) -> Result<(PerJob, PerJob)> {
    let env = TestEnv::new().await;
    let api = env.api(jobq::api::ApiSettings::default());
    let before = env.requests.snapshot();
    for _ in 0..20 {
        post(&api, "/jobs", json!({"type": "noop"})).await?;
    }
    let single = env.requests.since(&before);
    if print {
        let mut figure = per_job(&single, 20);
        figure["figure"] = json!("requests_per_job");
        figure["scenario"] = json!("api_post_jobs");
        emit(&figure);
    }

    let mut batch = RequestCounts::new();
    for (scenario, tiers) in [("api_post_jobs_batch_100", 1), ("api_post_jobs_batch_100_mixed_tiers", 11)] {
        // One tier: the default priority (normal), as the end-to-end figure enqueues.
        let jobs: Vec<Value> = (0..100)
            .map(|i| {
                if tiers == 1 {
                    json!({"type": "noop"})
                } else {
                    json!({"type": "noop", "priority": i % tiers})
                }
            })
            .collect();
        let before = env.requests.snapshot();
        post(&api, "/jobs/batch", json!({"jobs": jobs})).await?;
        let counts = env.requests.since(&before);
        if print {
            let mut figure = per_job(&counts, 100);
            figure["figure"] = json!("requests_per_job");
            figure["scenario"] = json!(scenario);
            emit(&figure);
        }
        if tiers == 1 {
            batch = counts;
        }
    }
    Ok((per_job_map(&single, 20), per_job_map(&batch, 100)))
}

fn store_err(what: &'static str) -> impl Fn(jobq::store::StoreError) -> BenchError {
    move |e| BenchError::unexpected(what, e)
}

fn queue_err(what: &'static str) -> impl Fn(jobq::queue::QueueError) -> BenchError {
    move |e| BenchError::unexpected(what, e)
}

/// Requests of each store/queue operation, one call each.
async fn store_operations() -> Result<()> {
    let env = TestEnv::new().await;
    let store = env.store();
    let queues = env.queues();
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut measure = |name: &str, before: RequestCounts| {
        rows.push((name.to_owned(), env.requests.since(&before)));
    };

    let job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now);
    let before = env.requests.snapshot();
    store.create(&job).await.map_err(store_err("create"))?;
    measure("store.create", before);
    let before = env.requests.snapshot();
    store.create(&job).await.map_err(store_err("create duplicate"))?;
    measure("store.create (duplicate key)", before);
    let before = env.requests.snapshot();
    queues.send(&Envelope::new(&job.id, "noop", job.tier, 0), 0).await.map_err(queue_err("send"))?;
    measure("queue.send", before);
    let before = env.requests.snapshot();
    let claimed = store
        .claim(&job.id, 0, now, now + chrono::Duration::seconds(60))
        .await
        .map_err(store_err("claim"))?;
    measure("store.claim", before);
    let before = env.requests.snapshot();
    let _ = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await;
    measure("store.claim (refused)", before);
    let before = env.requests.snapshot();
    let update =
        jobq::domain::progress::ProgressUpdate { percent: 50, step: Some("half".into()), message: None };
    store.progress(&claimed, &update).await.map_err(store_err("progress"))?;
    measure("store.progress", before);
    let before = env.requests.snapshot();
    store
        .renew_lease(&claimed, now + chrono::Duration::seconds(90))
        .await
        .map_err(store_err("renew lease"))?;
    measure("store.renew_lease", before);
    let before = env.requests.snapshot();
    store
        .finish(&claimed, jobq::store::RunOutcome::Completed { result: None }, None, now)
        .await
        .map_err(store_err("finish"))?;
    measure("store.finish", before);
    let before = env.requests.snapshot();
    let _ = store.cancel(&job.id, "ops", now).await;
    measure("store.cancel (refused)", before);
    let before = env.requests.snapshot();
    store.get(&job.id, false).await.map_err(store_err("get"))?;
    measure("store.get", before);
    let before = env.requests.snapshot();
    store
        .list(
            &jobq::store::ListQuery { status: Some(jobq::JobStatus::Completed), ..Default::default() },
            50,
            None,
        )
        .await
        .map_err(store_err("list"))?;
    measure("store.list (status, 1 page)", before);
    let batch: Vec<(Envelope, i32)> =
        (0..25).map(|i| (Envelope::new(format!("j{i}"), "noop", PriorityTier::Normal, 0), 0)).collect();
    let before = env.requests.snapshot();
    queues.send_batch(&batch).await.map_err(queue_err("send batch"))?;
    measure("queue.send_batch (25 envelopes)", before);
    for (operation, counts) in rows {
        emit(&json!({"figure": "requests_per_operation", "operation": operation, "requests": counts}));
    }
    Ok(())
}

/// Enqueue `jobs` jobs, run them to the end through the worker in batches of up to 10, and
/// report the requests per job of the worker and of the event source (non-empty polls only).
async fn worker_runs(
    label: &str,
    payload: Value,
    job_type: &str,
    jobs: usize,
    settings: WorkerSettings,
    print: bool,
) -> Result<PerJob> {
    let env = TestEnv::new().await;
    let tier = PriorityTier::Normal;
    let store = env.store();
    let now = Utc::now();
    let mut messages = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..jobs {
        let job = Job::new(
            NewJob { job_type: job_type.into(), payload: payload.clone(), ..NewJob::default() },
            now,
        );
        store.create(&job).await.map_err(store_err("create"))?;
        messages.push((Envelope::new(&job.id, &job.job_type, tier, 0), 0));
        ids.push(job.id);
    }
    env.queues().send_batch(&messages).await.map_err(queue_err("send"))?;

    let (worker, worker_counter) = env.counted_worker(Registry::with_builtins(), settings);
    let (poller_clients, poller_counter) = env.counted_clients();
    let poller_queue = jobq::queue::TierQueues::new(poller_clients.sqs.clone(), env.config.queues.clone());
    let arn = env.arn(tier).await;
    let mut empty_polls = 0u64;
    let mut batches = 0u64;
    let started = std::time::Instant::now();
    loop {
        let polled = poll_once(&poller_queue, tier, &arn, 10, 1, |e| worker.handle(e, None))
            .await
            .map_err(queue_err("poll"))?;
        if polled.received == 0 {
            empty_polls += 1;
            let jobs_done = env.jobs(&ids).await.iter().all(|j| j.status.is_terminal());
            if jobs_done {
                break;
            }
        } else {
            batches += 1;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(BenchError::Timeout { what: format!("{label}: the jobs"), seconds: 300 });
        }
    }
    let mut counts = worker_counter.snapshot();
    for (op, n) in poller_counter.snapshot() {
        let n = if op == "SQS:ReceiveMessage" { n - empty_polls } else { n };
        *counts.entry(op).or_default() += n;
    }
    if print {
        let mut figure = per_job(&counts, jobs);
        figure["figure"] = json!("requests_per_job");
        figure["scenario"] = json!(label);
        figure["jobs"] = json!(jobs);
        figure["batches"] = json!(batches);
        emit(&figure);
    }
    Ok(per_job_map(&counts, jobs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(pairs: &[(&str, f64)]) -> PerJob {
        pairs.iter().map(|(op, n)| (op.to_string(), *n)).collect()
    }

    #[test]
    fn a_successful_job_adds_enqueue_and_run_and_is_held_to_the_targets() {
        let costs = Costs {
            enqueue_single: mix(&[("DynamoDB:PutItem", 1.0), ("SQS:SendMessage", 1.0)]),
            enqueue_batch: mix(&[("DynamoDB:BatchWriteItem", 0.04), ("SQS:SendMessageBatch", 0.1)]),
            noop_run: mix(&[
                ("DynamoDB:UpdateItem", 2.1),
                ("DynamoDB:GetItem", 0.01),
                ("SQS:ReceiveMessage", 0.1),
                ("SQS:DeleteMessageBatch", 0.1),
            ]),
        };
        let lines = successful_job_lines(&costs);
        assert_eq!(lines[0]["dynamodb_writes_per_job"], json!(3.1), "GetItem is no write");
        assert_eq!(lines[0]["sqs_requests_per_job"], json!(1.2));
        assert_eq!(lines[0]["met"], json!(true));
        assert_eq!(lines[1]["dynamodb_writes_per_job"], json!(2.14));
        let mut costly = costs.clone();
        costly.noop_run.insert("SQS:ChangeMessageVisibility".into(), 0.2);
        assert_eq!(successful_job_lines(&costly)[0]["met"], json!(false), "1.4 SQS requests miss the target");
    }
}
