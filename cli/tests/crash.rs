//! `kill -9` of the local host in the middle of its batches, then a restart on the same prefix:
//! no job is lost, none completes twice.
//!
//! "Completed twice" is what a second run to completion would leave behind: a completed record
//! written again (a new `completed_at`, another attempt), or a completion counted twice. So the
//! records are read straight from the table the moment the host is dead, and after the restart
//! every job completed by then must be exactly as it was, every job cut off mid-run must have
//! been run exactly once more, and the counters must not exceed the table (a crash may lose the
//! counts of the batches it cut off; it must never add one).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{LocalHost, store, unique_prefix};
use jobq::{Job, JobStatus};
use serde_json::{Value, json};

const QUICK: usize = 24;
const SLOW: usize = 10;
const FLAKY: usize = 6;

/// Quick jobs, sleeps of 6 s and jobs that fail their first attempt, interleaved so that every
/// batch a poller takes mixes them: when the host dies, some of a batch are done (their messages
/// not yet deleted: that happens when the whole batch is), some are running.
fn jobs() -> Vec<Value> {
    let mut jobs = Vec::new();
    for i in 0..QUICK + SLOW + FLAKY {
        jobs.push(match i % 4 {
            1 if i / 4 < SLOW => json!({"type": "sleep", "payload": {"seconds": 6, "steps": 12}}),
            3 if i / 4 < FLAKY => json!({"type": "fail", "payload": {"times": 1}, "max_attempts": 3}),
            _ => json!({"type": "echo", "payload": {"i": i}}),
        });
    }
    jobs
}

async fn records(prefix: &str, ids: &[String]) -> BTreeMap<String, Job> {
    let found = store(prefix).await.batch_get(ids).await.expect("read the table");
    found.into_iter().map(|job| (job.id.clone(), job)).collect()
}

#[allow(clippy::too_many_lines, reason = "an end-to-end scenario reads best as one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_batch_then_a_restart_loses_nothing_and_completes_nothing_twice() {
    let prefix = unique_prefix();
    let mut host = LocalHost::start(&prefix).await;
    let specs = jobs();
    let (status, created) = host.post("/jobs/batch", json!({"jobs": specs, "batch_id": "crash"})).await;
    assert_eq!(status, 201, "{created}");
    let ids: Vec<String> = created["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids.len(), specs.len());

    // Until some jobs are done and some sleeps are under half way: then kill -9.
    let started = Instant::now();
    loop {
        let now = records(&prefix, &ids).await;
        let done = now.values().filter(|j| j.status == JobStatus::Completed).count();
        let sleeping = now
            .values()
            .filter(|j| j.status == JobStatus::Processing && j.job_type == "sleep" && j.progress < 50)
            .count();
        if done >= 1 && sleeping >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "jobs did not start: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.kill9();
    // Requests the host had in flight still land; then nothing changes until the restart.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = records(&prefix, &ids).await;
    assert_eq!(before.len(), ids.len(), "every job has its record");
    let cut_off: Vec<&Job> = before.values().filter(|j| j.status == JobStatus::Processing).collect();
    assert!(!cut_off.is_empty(), "some runs were cut off mid-batch");
    let completed_before = before.values().filter(|j| j.status == JobStatus::Completed).count();

    // The same prefix again: messages of runs cut off come back when their visibility ends.
    let restarted = Instant::now();
    host = LocalHost::start(&prefix).await;
    let after = loop {
        let now = records(&prefix, &ids).await;
        let stats = host.get("/stats").await;
        let waiting: u64 = ["high", "normal", "low"]
            .iter()
            .map(|t| {
                let tier = &stats["tiers"][t];
                ["visible", "in_flight", "delayed"]
                    .iter()
                    .map(|k| tier["queue"][k].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    + tier["dlq_depth"].as_u64().unwrap_or(0)
            })
            .sum();
        if now.values().all(|j| j.status.is_terminal()) && waiting == 0 {
            break now;
        }
        assert!(restarted.elapsed() < Duration::from_secs(120), "not finished after the restart: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Nothing lost: every job, and only these, each completed.
    assert_eq!(after.len(), ids.len());
    // The counters follow the change stream within moments, the kill -9 notwithstanding.
    let counted_at = Instant::now();
    let batch = loop {
        let batch = host.get("/batches/crash").await;
        if batch["done"].as_bool() == Some(true) || counted_at.elapsed() > Duration::from_secs(30) {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (batch["total"].as_u64(), batch["done"].as_bool()),
        (Some(ids.len() as u64), Some(true)),
        "{batch}"
    );
    for job in after.values() {
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    }
    // Nothing completed twice: a job completed before the crash was not run or written again.
    for (id, was) in &before {
        let now = &after[id];
        match was.status {
            JobStatus::Completed => assert_eq!(now, was, "completed before the crash, changed since"),
            // Cut off mid-run: its message came back and ran it once more (a lease-expired claim).
            JobStatus::Processing => {
                assert_eq!(now.attempts, was.attempts + 1, "one more run: {was:?} -> {now:?}");
                assert!(now.started_at > was.started_at, "{now:?}");
            }
            // Waiting (or waiting to retry): ran once more at most as many times as it needed.
            _ => assert!(now.attempts > was.attempts, "{was:?} -> {now:?}"),
        }
        match now.job_type.as_str() {
            "fail" => assert_eq!(now.result, Some(json!({"succeeded_on_attempt": now.attempts})), "{now:?}"),
            "echo" => assert_eq!(now.result.as_ref().map(|r| r["i"].is_u64()), Some(true), "{now:?}"),
            _ => {}
        }
    }
    // Counters: exact, the crash notwithstanding (counted from the stream, not by the process).
    let stats = host.get("/stats").await;
    let counted: u64 =
        ["echo", "sleep", "fail"].iter().map(|t| stats["types"][t]["completed"].as_u64().unwrap_or(0)).sum();
    assert_eq!(stats["counts"]["completed"].as_u64(), Some(ids.len() as u64), "{stats}");
    assert_eq!(counted, ids.len() as u64, "each completion counted once: {stats}");
    println!(
        "crash: {} jobs; at kill -9: {completed_before} completed, {} running; all completed {:.1} s after the \
         restart; {counted} completions counted (the rest were in batches the crash cut off)",
        ids.len(),
        cut_off.len(),
        restarted.elapsed().as_secs_f64()
    );
    assert!(host.terminate(), "stops cleanly");
}
