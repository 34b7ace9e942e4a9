//! Named scenarios of issue 16, each a run with its own options and script: the invariants hold,
//! and what the scenario is about is asserted on top.

use std::time::Duration;

use jobq::{NewJob, Priority};
use jobq_sim::script::{Action, Step};
use jobq_sim::world::Expect;
use jobq_sim::{Options, RunReport, run};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Only the script's faults: no random ones, no operator.
fn quiet(jobs: usize, hours: u64, script: Vec<Step>) -> Options {
    Options {
        jobs,
        hours,
        faults: None,
        operator_every: None,
        restart_every: None,
        script,
        ..Options::default()
    }
}

fn clean(report: &RunReport) {
    assert!(report.violations.is_empty(), "{}", report.failures());
}

fn job(job_type: &str, payload: serde_json::Value) -> NewJob {
    NewJob {
        job_type: job_type.into(),
        payload,
        priority: Priority::new(5).unwrap_or_default(),
        ..NewJob::default()
    }
}

/// DynamoDB throttled for 2 minutes while jobs come due (new ones, and retries whose backoff
/// ends): no job fails or takes an attempt more for it (the attempts invariant is on).
#[test]
fn dynamodb_throttled_for_two_minutes_while_jobs_come_due() {
    for seed in 1..=3 {
        let script = vec![
            Step { at: 30 * MINUTE, action: Action::ThrottleTable(2 * MINUTE) },
            Step { at: 90 * MINUTE, action: Action::ThrottleTable(2 * MINUTE) },
        ];
        let report = run(seed, &quiet(300, 2, script));
        clean(&report);
        assert!(report.jobs >= 250, "seed {seed}: {} jobs", report.jobs);
    }
}

/// One job of a batch of 10 panics: it fails `handler_panicked` on its first attempt, and the
/// nine others of its invocation complete on theirs.
#[test]
fn a_panic_in_one_job_of_a_batch_of_ten() {
    let mut batch: Vec<(NewJob, Expect)> =
        (0..9).map(|_| (job("sleep", json!({ "seconds": 30, "steps": 3 })), Expect::completes(1))).collect();
    let panics = json!({ "panic": true, "message": jobq_sim::actors::SIMULATED_PANIC });
    batch.insert(4, (job("fail", panics), Expect::fails("handler_panicked", 1)));
    let script = vec![Step { at: 10 * MINUTE, action: Action::EnqueueBatch(batch) }];
    let report = run(1, &quiet(0, 1, script));
    clean(&report);
    assert_eq!(report.accepted, 10);
    assert_eq!(report.invocations, 1, "the ten ran in one invocation");
    assert_eq!(report.by_status.get("completed"), Some(&9), "{:?}", report.by_status);
    assert_eq!(report.by_status.get("failed"), Some(&1), "{:?}", report.by_status);
}

/// Everything paused for 24 hours with 200 jobs parked: the requests the parked jobs cost stay
/// within 1 per parked job per hour, counted from the table's and the queues' request counters
/// between hour 2 and hour 23 (the pollers' and the scheduler's own requests, which do not
/// grow with parked jobs, left out: receives, index queries, stream reads, queue attributes).
#[test]
fn a_pause_of_24_hours() {
    let mut script = vec![Step { at: MINUTE, action: Action::PauseAll(24 * HOUR) }];
    for _ in 0..8 {
        let batch = (0..25).map(|_| (job("noop", serde_json::Value::Null), Expect::completes(1))).collect();
        script.push(Step { at: 2 * MINUTE, action: Action::EnqueueBatch(batch) });
    }
    script.push(Step { at: 2 * HOUR, action: Action::Snapshot("parked") });
    script.push(Step { at: 23 * HOUR, action: Action::Snapshot("still parked") });
    let report = run(1, &Options { settle_hours: 2, ..quiet(0, 25, script) });
    clean(&report);
    assert_eq!(report.by_status.get("completed"), Some(&200), "{:?}", report.by_status);
    let (from, to) = (&report.snapshots["parked"], &report.snapshots["still parked"]);
    let fixed = ["SQS:ReceiveMessage", "Query", "GetRecords", "SQS:GetQueueAttributes"];
    let delta: Vec<(&String, u64)> = to
        .iter()
        .filter(|(op, _)| !fixed.contains(&op.as_str()))
        .map(|(op, n)| (op, n - from.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let per_job_hour = delta.iter().map(|(_, n)| n).sum::<u64>() as f64 / 200.0 / 21.0;
    println!("parked for 21 h: {delta:?}; {per_job_hour:.3} requests per parked job per hour");
    assert!(per_job_hour <= 1.0, "{delta:?}: {per_job_hour:.3} per parked job per hour");
}
