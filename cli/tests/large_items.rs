//! `jobq-local` on the emulator: a job whose payload and result outgrow a DynamoDB item keeps
//! them in the local bucket, and the API shows them whole. (Before, the emulator applied part of
//! a write DynamoDB would have refused: the job ended `completed` without its result.)

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_kib_echo_completes_with_its_result() {
    let prefix = unique_prefix();
    let host = LocalHost::start(&prefix).await;
    let payload = Value::String("p".repeat(200 * 1024));
    let (status, created) = host.post("/jobs", json!({"type": "echo", "payload": payload})).await;
    assert_eq!(status, 201, "{}", created["error"]);
    let id = created["id"].as_str().expect("id").to_owned();
    // A generous limit for a loaded machine; the job needs well under a second.
    let started = Instant::now();
    let job = loop {
        let job = host.get(&format!("/jobs/{id}")).await;
        if ["completed", "failed", "partial", "cancelled"].contains(&job["status"].as_str().unwrap_or("")) {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not finished: {}", job["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["status"], "completed", "{}", job["error"]);
    assert!(job["result"] == payload, "the result is the payload, whole");
    assert!(job["payload"] == payload, "the payload reads back whole");
    // Within 10 s of its creation, by the job's own times (the test's polling aside).
    let at = |field: &str| {
        let text = job[field].as_str().unwrap_or_else(|| panic!("{field}: {job}"));
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339")
    };
    let took = at("completed_at") - at("created_at");
    assert!(took <= chrono::Duration::seconds(10), "completed {took} after its creation");
    // Its objects became no jobs (the bucket notifies ingest of uploads under uploads/ only):
    // give the ingest poller time to have seen their notifications.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let page = host.get("/jobs?type=echo").await;
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(1), "only the job itself");
}
