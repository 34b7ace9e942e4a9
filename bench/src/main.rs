//! `make bench`: figures as JSON lines, one per figure. Never part of `make test`.
//!
//! Request counts are taken at the HTTP level by an SDK interceptor on separate clients for the
//! enqueuer, the worker, and the poller that plays Lambda's event source mapping (receive, delete).
//! Empty polls are left out: they depend on how long a queue sits idle, not on the jobs.

use std::time::Duration;

use chrono::Utc;
use jobq::requests::RequestCounts;
use jobq::task::Registry;
use jobq::worker::{WorkerSettings, poll_once};
use jobq::{Envelope, Job, NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    api_enqueue().await;
    store_operations().await;
    worker_runs("noop_success", json!({}), "noop", 100, WorkerSettings::default()).await;
    worker_runs("one_retry", json!({"times": 1}), "fail", 20, retry_fast()).await;
    for (label, interval_ms) in [("sleep_100_steps_coalesced_1s", 1000), ("sleep_100_steps_uncoalesced", 0)] {
        let settings = WorkerSettings {
            progress_interval: Duration::from_millis(interval_ms),
            ..WorkerSettings::default()
        };
        worker_runs(label, json!({"seconds": 5, "steps": 100}), "sleep", 1, settings).await;
    }
}

fn retry_fast() -> WorkerSettings {
    WorkerSettings {
        retry: jobq::task::RetryPolicy {
            base: Duration::from_millis(100),
            factor: 2.0,
            cap: Duration::from_secs(1),
        },
        ..WorkerSettings::default()
    }
}

fn emit(figure: Value) {
    println!("{figure}");
}

fn per_job(counts: &RequestCounts, jobs: usize) -> Value {
    let mut by_op = serde_json::Map::new();
    for (op, n) in counts {
        by_op.insert(op.clone(), json!(round(*n as f64 / jobs as f64)));
    }
    let writes: u64 = counts
        .iter()
        .filter(|(k, _)| {
            ["DynamoDB:PutItem", "DynamoDB:UpdateItem", "DynamoDB:DeleteItem", "DynamoDB:BatchWriteItem"]
                .contains(&k.as_str())
        })
        .map(|(_, v)| v)
        .sum();
    json!({
        "dynamodb_writes_per_job": round(writes as f64 / jobs as f64),
        "dynamodb_requests_per_job": round(jobq::requests::total(counts, "DynamoDB") as f64 / jobs as f64),
        "sqs_requests_per_job": round(jobq::requests::total(counts, "SQS") as f64 / jobs as f64),
        "by_operation_per_job": by_op,
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Requests per job of `POST /jobs` and of `POST /jobs/batch` (100 jobs), through the router.
async fn api_enqueue() {
    let env = TestEnv::new().await;
    let api = env.api(jobq::api::ApiSettings::default());
    let before = env.requests.snapshot();
    for _ in 0..20 {
        let (status, _) =
            jobq_integration_tests::call(&api, "POST", "/jobs", Some(json!({"type": "noop"}))).await;
        assert!(status.is_success());
    }
    let mut figure = per_job(&env.requests.since(&before), 20);
    figure["figure"] = json!("requests_per_job");
    figure["scenario"] = json!("api_post_jobs");
    emit(figure);

    let jobs: Vec<Value> = (0..100).map(|i| json!({"type": "noop", "priority": i % 11})).collect();
    let before = env.requests.snapshot();
    let (status, _) =
        jobq_integration_tests::call(&api, "POST", "/jobs/batch", Some(json!({"jobs": jobs}))).await;
    assert!(status.is_success());
    let mut figure = per_job(&env.requests.since(&before), 100);
    figure["figure"] = json!("requests_per_job");
    figure["scenario"] = json!("api_post_jobs_batch_100_mixed_tiers");
    emit(figure);
}

/// Requests of each store/queue operation, one call each.
async fn store_operations() {
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
    store.create(&job).await.expect("create");
    measure("store.create", before);
    let before = env.requests.snapshot();
    store.create(&job).await.expect("create duplicate");
    measure("store.create (duplicate key)", before);
    let before = env.requests.snapshot();
    queues.send(&Envelope::new(&job.id, "noop", job.tier, 0), 0).await.expect("send");
    measure("queue.send", before);
    let before = env.requests.snapshot();
    let claimed = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    measure("store.claim", before);
    let before = env.requests.snapshot();
    let _ = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await;
    measure("store.claim (refused)", before);
    let before = env.requests.snapshot();
    let update = jobq::store::ProgressUpdate { percent: 50, step: Some("half".into()), message: None };
    store.progress(&job.id, 1, &update).await.expect("progress");
    measure("store.progress", before);
    let before = env.requests.snapshot();
    store.renew_lease(&job.id, 1, now + chrono::Duration::seconds(90)).await.expect("lease");
    measure("store.renew_lease", before);
    let before = env.requests.snapshot();
    store
        .finish(&claimed, jobq::store::RunOutcome::Completed { result: None }, None, now)
        .await
        .expect("finish");
    measure("store.finish", before);
    let before = env.requests.snapshot();
    let _ = store.cancel(&job.id, now).await;
    measure("store.cancel (refused)", before);
    let before = env.requests.snapshot();
    store.get(&job.id, false).await.expect("get");
    measure("store.get", before);
    let before = env.requests.snapshot();
    store
        .list(
            &jobq::store::ListQuery { status: Some(jobq::JobStatus::Completed), ..Default::default() },
            50,
            None,
        )
        .await
        .expect("list");
    measure("store.list (status, 1 page)", before);
    let batch: Vec<(Envelope, i32)> =
        (0..25).map(|i| (Envelope::new(format!("j{i}"), "noop", PriorityTier::Normal, 0), 0)).collect();
    let before = env.requests.snapshot();
    queues.send_batch(&batch).await.expect("send batch");
    measure("queue.send_batch (25 envelopes)", before);
    for (operation, counts) in rows {
        emit(json!({"figure": "requests_per_operation", "operation": operation, "requests": counts}));
    }
}

/// Enqueue `jobs` jobs, run them to the end through the worker in batches of up to 10, and
/// report the requests per job of the worker and of the event source (non-empty polls only).
async fn worker_runs(label: &str, payload: Value, job_type: &str, jobs: usize, settings: WorkerSettings) {
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
        store.create(&job).await.expect("create");
        messages.push((Envelope::new(&job.id, &job.job_type, tier, 0), 0));
        ids.push(job.id);
    }
    env.queues().send_batch(&messages).await.expect("send");

    let (worker, worker_counter) = env.counted_worker(Registry::with_builtins(), settings);
    let (poller_clients, poller_counter) = env.counted_clients();
    let poller_queue = jobq::queue::SqsJobQueue::new(poller_clients.sqs.clone(), env.config.queues.clone());
    let arn = env.arn(tier).await;
    let mut empty_polls = 0u64;
    let mut batches = 0u64;
    let started = std::time::Instant::now();
    loop {
        let polled =
            poll_once(&poller_queue, tier, &arn, 10, 1, |e| worker.handle(e, None)).await.expect("poll");
        if polled.received == 0 {
            empty_polls += 1;
            let jobs_done = env.jobs(&ids).await.iter().all(|j| j.status.is_terminal());
            if jobs_done {
                break;
            }
        } else {
            batches += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{label}: jobs did not finish");
    }
    let mut counts = worker_counter.snapshot();
    for (op, n) in poller_counter.snapshot() {
        let n = if op == "SQS:ReceiveMessage" { n - empty_polls } else { n };
        *counts.entry(op).or_default() += n;
    }
    let mut figure = per_job(&counts, jobs);
    figure["figure"] = json!("requests_per_job");
    figure["scenario"] = json!(label);
    figure["jobs"] = json!(jobs);
    figure["batches"] = json!(batches);
    emit(figure);
}
