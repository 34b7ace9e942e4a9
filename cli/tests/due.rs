//! `jobq-local` on the emulator: a job due in a minute, enqueued after 3,000 due in 30 days,
//! runs within 2 minutes of its time (the scheduler finds what is due, not what is oldest).

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{LocalHost, unique_prefix};
use serde_json::{Value, json};

fn time(job: &Value, field: &str) -> DateTime<Utc> {
    let text = job[field].as_str().unwrap_or_else(|| panic!("{field} missing: {job}"));
    DateTime::parse_from_rfc3339(text).expect("RFC 3339").with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_due_in_60_s_among_3000_due_in_30_days_runs_within_2_minutes_of_its_time() {
    let host = LocalHost::start(&unique_prefix()).await;
    let far = Utc::now() + chrono::Duration::days(30);
    for _ in 0..30 {
        let jobs: Vec<Value> = (0..100).map(|_| json!({"type": "noop", "run_at": far})).collect();
        let (status, answer) = host.post("/jobs/batch", json!({ "jobs": jobs })).await;
        assert!((200..300).contains(&status), "{status}: {answer}");
    }
    let due = Utc::now() + chrono::Duration::seconds(60);
    let (status, created) = host.post("/jobs", json!({"type": "noop", "run_at": due})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let started = Instant::now();
    let job = loop {
        let job = host.get(&format!("/jobs/{id}")).await;
        if job["status"] == "completed" {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "not run: {job}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let ran = time(&job, "completed_at");
    assert!(ran >= due - chrono::Duration::seconds(1), "ran {ran}, before its time {due}");
    assert!(ran <= due + chrono::Duration::minutes(2), "ran {ran}, more than 2 minutes after {due}");
    let scheduled = host.get("/jobs?status=scheduled&limit=1").await;
    assert_eq!(scheduled["jobs"].as_array().map(Vec::len), Some(1), "the 3,000 still wait: {scheduled}");
}
