//! A pause through `jobq-local` on the emulator, every AWS request counted by a proxy in between:
//! paused jobs park once and then cost nothing until they are resumed, and each runs once.

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, endpoint, unique_prefix};
use jobq_integration_tests::fault_proxy::{FaultPlan, FaultProxy};
use serde_json::{Value, json};

/// Requests that move a job (writes and messages sent), so far.
fn moves(proxy: &FaultProxy) -> u64 {
    let counts = proxy.injected().forwarded_by_operation;
    [
        "DynamoDB:UpdateItem",
        "DynamoDB:PutItem",
        "SQS:SendMessage",
        "SQS:SendMessageBatch",
        "SQS:ChangeMessageVisibility",
    ]
    .iter()
    .map(|op| counts.get(*op).copied().unwrap_or(0))
    .sum()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_jobs_park_cost_nothing_while_paused_and_each_runs_once_after_resume() {
    let proxy = FaultProxy::start(&endpoint(), FaultPlan::none()).await;
    // Before parking, a paused delivery went round every JOBQ_PAUSE_RECHECK_SECONDS: 1 s here.
    let env = [
        ("AWS_ENDPOINT_URL", proxy.url()),
        ("JOBQ_PAUSE_RECHECK_SECONDS", "1"),
        ("JOBQ_PAUSE_CACHE_MS", "0"),
        ("JOBQ_LOCAL_SCHEDULE_SECONDS", "2"),
    ];
    let host = LocalHost::start_with(&unique_prefix(), &env).await;
    let (status, _) = host.post("/pause", json!({"scope": "type:echo"})).await;
    assert_eq!(status, 200);
    let before = moves(&proxy);
    let mut ids = Vec::new();
    for i in 0..10 {
        let (status, job) = host.post("/jobs", json!({"type": "echo", "payload": {"n": i}})).await;
        assert_eq!(status, 201, "{job}");
        ids.push(job["id"].as_str().unwrap_or_default().to_owned());
    }
    // Each enqueue is a put and a send; each delivery then parks its job: one write each.
    wait_until("parking", async || moves(&proxy) >= before + 30).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let parked = moves(&proxy);
    assert_eq!(
        parked - before,
        30,
        "enqueue (2) and park (1) per job: {:?}",
        proxy.injected().forwarded_by_operation
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(moves(&proxy) - parked, 0, "twenty seconds paused cost the ten jobs no request");

    let (status, _) = host.post("/resume", json!({"scope": "type:echo"})).await;
    assert_eq!(status, 200);
    for id in &ids {
        let path = format!("/jobs/{id}");
        wait_until("completion", async || host.get(&path).await["status"] == "completed").await;
        let job: Value = host.get(&path).await;
        assert_eq!(job["attempts"], 1, "ran once: {job}");
    }
}

/// A pause takes effect when it answers, with the worker's pause cache as deployed (5 s) and warm
/// from a job run just before: five jobs enqueued right after stay `queued` until the resume
/// (ten seconds, twice the cache), then each runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueued_right_after_a_pause_answered_stay_queued_until_resume() {
    let proxy = FaultProxy::start(&endpoint(), FaultPlan::none()).await;
    let env = [("AWS_ENDPOINT_URL", proxy.url()), ("JOBQ_LOCAL_SCHEDULE_SECONDS", "2")];
    let host = LocalHost::start_with(&unique_prefix(), &env).await;
    let (status, warm) = host.post("/jobs", json!({"type": "noop"})).await;
    assert_eq!(status, 201, "{warm}");
    let warm = format!("/jobs/{}", warm["id"].as_str().unwrap_or_default());
    wait_until("the warm-up job", async || host.get(&warm).await["status"] == "completed").await;

    let (status, _) = host.post("/pause", json!({"scope": "all"})).await;
    assert_eq!(status, 200);
    let mut paths = Vec::new();
    for _ in 0..5 {
        let (status, job) = host.post("/jobs", json!({"type": "noop"})).await;
        assert_eq!(status, 201, "{job}");
        paths.push(format!("/jobs/{}", job["id"].as_str().unwrap_or_default()));
    }
    let paused = Instant::now();
    while paused.elapsed() < Duration::from_secs(10) {
        for path in &paths {
            let job = host.get(path).await;
            assert_eq!(
                job["status"],
                "queued",
                "{:.1} s into the pause: {job}",
                paused.elapsed().as_secs_f64()
            );
            assert_eq!(job["attempts"], 0, "{job}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let (status, _) = host.post("/resume", json!({"scope": "all"})).await;
    assert_eq!(status, 200);
    for path in &paths {
        wait_until("completion", async || host.get(path).await["status"] == "completed").await;
        let job: Value = host.get(path).await;
        assert_eq!(job["attempts"], 1, "ran once: {job}");
    }
}
