//! A run's ownership and a panic's reach, through `jobq-local` on the emulator: the HTTP API, the
//! pollers and the built-in `fail` job type, as a user drives them. (Run with `--release` to try
//! the release profile's panic strategy: `cargo test --release -p jobq-cli --test runs`.)

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use serde_json::{Value, json};

/// Poll the job until `done` holds for it (a generous limit: a stuck job fails the test).
async fn wait_for(host: &LocalHost, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let job = host.get(&format!("/jobs/{id}")).await;
        if done(&job) {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{id} never {what}: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn terminal(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("completed" | "partial" | "failed" | "cancelled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_in_a_batch_of_ten_fails_alone_and_the_host_lives_on() {
    let mut host = LocalHost::start(&unique_prefix()).await;
    let panicking = json!({"type": "fail", "payload": {"panic": true, "message": "frame 7 out of range"}});
    let mut specs = vec![panicking];
    specs.extend((0..9).map(|i| json!({"type": "echo", "payload": {"n": i}})));
    let (status, created) = host.post("/jobs/batch", json!({"jobs": specs})).await;
    assert_eq!(status, 201, "{created}");
    let ids: Vec<String> = created["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().unwrap_or("").to_owned())
        .collect();

    let failed = wait_for(&host, &ids[0], "ended", terminal).await;
    assert_eq!(
        (failed["status"].as_str(), failed["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{failed}"
    );
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("frame 7 out of range"), "the panic's message is the error: {failed}");
    assert_eq!(failed["error"]["details"]["reason"], "handler_panicked", "{failed}");
    for id in &ids[1..] {
        let job = wait_for(&host, id, "ended", terminal).await;
        assert_eq!((job["status"].as_str(), job["attempts"].as_u64()), (Some("completed"), Some(1)), "{job}");
    }
    let (status, more) = host.post("/jobs", json!({"type": "noop"})).await;
    assert_eq!(status, 201, "the host still serves: {more}");
    let id = more["id"].as_str().unwrap_or_default().to_owned();
    wait_for(&host, &id, "completed", |j| j["status"] == "completed").await;
    assert!(host.terminate(), "the process never aborted: it stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_before_a_retry_cannot_record_over_the_new_run() {
    let host = LocalHost::start(&unique_prefix()).await;
    // Run A works 8 s in one step, then fails retryably (the dependency is down until `until`);
    // run B, started after a cancel and a retry, works 8 s and completes (the dependency is back).
    let t0 = chrono::Utc::now();
    let until = jobq::domain::model::format_time(t0 + chrono::Duration::seconds(10));
    let spec = json!({"type": "fail", "payload": {"seconds": 8, "until": until, "message": "run A"}});
    let (status, job) = host.post("/jobs", spec).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    wait_for(&host, &id, "started", |j| j["status"] == "processing").await;
    tokio::time::sleep((t0 + chrono::Duration::seconds(3) - chrono::Utc::now()).to_std().unwrap_or_default())
        .await;

    let (status, cancelled) = host.post(&format!("/jobs/{id}/cancel"), json!({})).await;
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")), "{cancelled}");
    let (status, retried) = host.post(&format!("/jobs/{id}/retry"), json!({})).await;
    assert_eq!((status, retried["generation"].as_u64()), (202, Some(1)), "{retried}");

    // A ends first (at about 8 s, while B runs), then B (at about 11 s).
    let done = wait_for(&host, &id, "ended", |j| terminal(j) && j["generation"] == 1).await;
    assert_eq!(done["status"], "completed", "B's outcome, not A's retry: {done}");
    assert_eq!((done["attempts"].as_u64(), done["error"].as_object()), (Some(1), None), "{done}");
    assert_eq!(done["result"]["succeeded_on_attempt"], 1, "{done}");
}

/// Issue 25, defect 1, through the local stack on the emulator: a 200 s `sleep` POSTed twice
/// with one idempotency key. The second POST, while the job waited, sent a second message; that
/// copy used to come back at every lease end (2 s here) until SQS moved it to the DLQ and the
/// dead-letter function failed the healthy run. It completes on its first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_s_sleep_posted_twice_with_one_key_completes_on_attempt_1() {
    let host = LocalHost::start(&unique_prefix()).await;
    let spec = json!({
        "type": "sleep",
        "payload": {"seconds": 200, "steps": 20},
        "timeout_seconds": 300,
        "idempotency_key": "render-frame-200",
    });
    let (status, first) = host.post("/jobs", spec.clone()).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = host.post("/jobs", spec).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "the same job: {again}");
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let done = loop {
        let job = host.get(&format!("/jobs/{id}")).await;
        if terminal(&job) {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{id} never ended: {job}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!((done["status"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    // The run's own measure: the clock here starts after the POSTs, when the run already had.
    assert!(done["duration_ms"].as_u64() >= Some(200_000), "it ran its 200 s: {done}");
}
