//! `jobq-local`: jobs enqueued over HTTP complete; a SIGTERM mid-run loses nothing and runs
//! nothing twice; a restart finishes the rest.

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use serde_json::{Value, json};

async fn jobs(host: &LocalHost, ids: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for id in ids {
        all.push(host.get(&format!("/jobs/{id}")).await);
    }
    all
}

fn terminal(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("completed" | "partial" | "failed" | "cancelled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigterm_finishes_every_job_exactly_once() {
    let prefix = unique_prefix();
    let mut host = LocalHost::start(&prefix).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let (status, job) = host.post("/jobs", json!({"type": "noop", "priority": i})).await;
        assert_eq!(status, 201, "{job}");
        ids.push(job["id"].as_str().unwrap_or_default().to_owned());
    }
    for _ in 0..6 {
        let (_, job) =
            host.post("/jobs", json!({"type": "sleep", "payload": {"seconds": 4, "steps": 8}})).await;
        ids.push(job["id"].as_str().unwrap_or_default().to_owned());
    }
    // Wait until the quick jobs are done and the slow ones are running.
    let started = Instant::now();
    loop {
        let now = jobs(&host, &ids).await;
        let done = now.iter().filter(|j| j["status"] == "completed").count();
        let running = now.iter().filter(|j| j["status"] == "processing").count();
        if done >= 6 && running >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "jobs did not start: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(host.terminate(), "jobq-local stops cleanly on SIGTERM");
    // The API went with the host: read the records themselves.
    let clients = jobq::aws::Clients::from_env().await;
    let store = jobq::store::DynamoJobStore::new(
        clients.dynamodb.clone(),
        jobq::resources::ResourceNames::new(&prefix).table(),
        chrono::Duration::days(1),
    );
    let mut unfinished = 0;
    for id in &ids {
        let job = store.get(id, true).await.expect("get").expect("no job lost at shutdown");
        unfinished += usize::from(!job.status.is_terminal());
    }
    assert!(
        unfinished >= 1,
        "the grace period (1 s) is shorter than the sleeps (4 s): some were interrupted"
    );

    let host = LocalHost::start(&prefix).await;
    let started = Instant::now();
    loop {
        let now = jobs(&host, &ids).await;
        if now.iter().all(terminal) {
            for job in &now {
                assert_eq!(job["status"], "completed", "{job}");
                let attempts = job["attempts"].as_u64().unwrap_or(0);
                assert!((1..=2).contains(&attempts), "one run, or one interrupted and one finished: {job}");
            }
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not all done after the restart: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = host.get("/jobs?limit=100").await;
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(12), "nothing lost, nothing duplicated");
}
