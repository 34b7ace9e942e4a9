//! `make soak`: 10,000 mixed jobs (`noop`, `echo`, `sleep`, `fail`; every priority; 5% failing for
//! good) through the local stack, `jobq-local` as a child process. Ignored by `cargo test`.
//!
//! At the end the accounting is exact: completed + failed = every job, each as its kind says;
//! the per-type counters agree with the table; nothing is queued, running or waiting to retry,
//! every queue and dead-letter queue is empty (the dead-letter handler recorded each letter).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use jobq::domain::priority::{PerTier, PriorityTier};
use jobq::queue::TierQueues;
use jobq::resources::ResourceNames;
use serde_json::{Value, json};

/// Jobs in the soak (`JOBQ_SOAK_JOBS`, default 10,000).
fn job_count() -> usize {
    std::env::var("JOBQ_SOAK_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Messages waiting at most before more jobs are enqueued: moto slows down as a queue grows.
const BACKLOG: u64 = 400;
const BATCH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Noop,
    Echo,
    Sleep,
    /// `fail` with `times: 1`: retried once, then completes.
    Flaky,
    /// `fail`, not retryable: failed at once.
    Fatal,
    /// `fail`, retryable, `max_attempts: 2`: retried once, then failed.
    Exhausted,
}

fn kind_of(i: usize) -> Kind {
    match (i % 20, i % 40) {
        (0, 0) => Kind::Fatal,
        (0, _) => Kind::Exhausted,
        (1, _) => Kind::Flaky,
        _ => match i % 4 {
            0 | 1 => Kind::Noop,
            2 => Kind::Sleep,
            _ => Kind::Echo,
        },
    }
}

fn spec(i: usize) -> Value {
    let priority = match i % 13 {
        11 => json!("high"),
        12 => json!("low"),
        n => json!(n % 11),
    };
    let (job_type, payload, attempts) = match kind_of(i) {
        Kind::Noop => ("noop", Value::Null, 3),
        Kind::Echo => ("echo", json!({"i": i}), 3),
        Kind::Sleep => ("sleep", json!({"seconds": 0.1 + (i % 5) as f64 * 0.1, "steps": 2}), 3),
        Kind::Flaky => ("fail", json!({"times": 1, "message": "flaky"}), 3),
        Kind::Fatal => ("fail", json!({"retryable": false, "message": "bad input"}), 3),
        Kind::Exhausted => ("fail", json!({"message": "always down"}), 2),
    };
    json!({"type": job_type, "payload": payload, "priority": priority, "max_attempts": attempts})
}

/// Every message of the tier queues and their DLQs: visible, in flight and delayed.
async fn waiting(queues: &TierQueues, dlqs: &TierQueues) -> (u64, u64) {
    let (mut queued, mut dead) = (0, 0);
    for tier in PriorityTier::ALL {
        let q = queues.depth(tier).await.expect("queue depth");
        let d = dlqs.depth(tier).await.expect("dlq depth");
        queued += q.visible + q.in_flight + q.delayed;
        dead += d.visible + d.in_flight + d.delayed;
    }
    (queued, dead)
}

async fn queue_urls(
    clients: &jobq::adapters::aws::Clients,
    name: impl Fn(PriorityTier) -> String,
) -> PerTier<String> {
    let mut urls = PerTier::from_fn(|_| String::new());
    for tier in PriorityTier::ALL {
        let out = clients.sqs.get_queue_url().queue_name(name(tier)).send().await.expect("queue url");
        let url = out.queue_url().unwrap_or_default().to_owned();
        match tier {
            PriorityTier::High => urls.high = url,
            PriorityTier::Normal => urls.normal = url,
            PriorityTier::Low => urls.low = url,
        }
    }
    urls
}

#[allow(clippy::too_many_lines, reason = "an end-to-end scenario reads best as one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make soak: 10,000 jobs through the local stack"]
async fn ten_thousand_mixed_jobs_through_the_local_stack_end_exactly_accounted() {
    let jobs = job_count();
    let prefix = unique_prefix();
    // Settings of a local run, not of the quick tests: a 30 s lease, batches of 10, more pollers.
    let host = LocalHost::start_with(
        &prefix,
        &[
            ("JOBQ_LOCAL_VISIBILITY_SECONDS", "30"),
            ("JOBQ_LOCAL_POLL_WAIT_SECONDS", "2"),
            ("JOBQ_PROGRESS_INTERVAL_MS", "1000"),
            ("JOBQ_LOCAL_CONCURRENCY", "3,3,2"),
        ],
    )
    .await;
    let clients = jobq::adapters::aws::Clients::from_env().await;
    let names = ResourceNames::new(&prefix);
    let queues = TierQueues::new(clients.sqs.clone(), queue_urls(&clients, |t| names.queue(t)).await);
    let dlqs = TierQueues::new(clients.sqs.clone(), queue_urls(&clients, |t| names.dlq(t)).await);

    let started = Instant::now();
    let mut report = Instant::now();
    let mut enqueued = 0;
    while enqueued < jobs {
        while waiting(&queues, &dlqs).await.0 > BACKLOG {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let end = (enqueued + BATCH).min(jobs);
        let batch: Vec<Value> = (enqueued..end).map(spec).collect();
        let (status, body) = host.post("/jobs/batch", json!({"jobs": batch})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["jobs"].as_array().map(Vec::len), Some(end - enqueued));
        enqueued = end;
        if report.elapsed() > Duration::from_secs(30) {
            eprintln!("soak: {:.0} s: {enqueued} enqueued", started.elapsed().as_secs_f64());
            report = Instant::now();
        }
    }
    let enqueued_in = started.elapsed();

    // Done when every queue and DLQ has stayed empty for a few looks in a row.
    let mut empty_looks = 0;
    while empty_looks < 3 {
        let (queued, dead) = waiting(&queues, &dlqs).await;
        empty_looks = if queued + dead == 0 { empty_looks + 1 } else { 0 };
        assert!(started.elapsed() < Duration::from_secs(3600), "{queued} messages, {dead} dead letters left");
        if report.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "soak: {:.0} s: {queued} messages, {dead} dead letters",
                started.elapsed().as_secs_f64()
            );
            report = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let drained_in = started.elapsed();

    // What each job should have ended as, from the mix.
    let mut want: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for i in 0..jobs {
        let (job_type, completed, failed, retried) = match kind_of(i) {
            Kind::Noop => ("noop", 1, 0, 0),
            Kind::Echo => ("echo", 1, 0, 0),
            Kind::Sleep => ("sleep", 1, 0, 0),
            Kind::Flaky => ("fail", 1, 0, 1),
            Kind::Fatal => ("fail", 0, 1, 0),
            Kind::Exhausted => ("fail", 0, 1, 1),
        };
        let entry = want.entry(job_type).or_default();
        *entry = (entry.0 + completed, entry.1 + failed, entry.2 + retried);
    }

    let stats = host.get("/stats").await;
    let count = |status: &str| stats["counts"][status].as_u64().unwrap_or(0);
    let (completed, failed) = (count("completed"), count("failed"));
    assert_eq!(completed + failed, jobs as u64, "every job ended: {stats}");
    for status in ["queued", "scheduled", "processing", "retrying", "partial", "cancelled"] {
        assert_eq!(count(status), 0, "{status}: {stats}");
    }
    for (job_type, (completed, failed, retried)) in &want {
        // The table, for this type.
        let table = host.get(&format!("/stats?type={job_type}")).await;
        let in_table = |status: &str| table["counts"][status].as_u64().unwrap_or(0);
        assert_eq!((in_table("completed"), in_table("failed")), (*completed, *failed), "{job_type}: {table}");
        // The counters, against the table and the mix.
        let counters = &stats["types"][job_type];
        let counted = |field: &str| counters[field].as_u64().unwrap_or(0);
        assert_eq!(
            (counted("completed"), counted("failed"), counted("retried")),
            (*completed, *failed, *retried),
            "{job_type} counters: {counters}"
        );
    }
    for tier in ["high", "normal", "low"] {
        assert_eq!(stats["tiers"][tier]["dlq_depth"].as_u64(), Some(0), "{stats}");
    }
    let total = drained_in.as_secs_f64();
    println!(
        "soak: {jobs} jobs in {total:.0} s ({:.1} jobs/s; enqueued in {:.0} s): completed {completed}, failed \
         {failed} (completed + failed = {}); per type (completed, failed, retried) {want:?}; counters agree with \
         the table; queues and DLQs empty",
        jobs as f64 / total,
        enqueued_in.as_secs_f64(),
        completed + failed,
    );
}
