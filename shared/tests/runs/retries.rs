//! When a retry may run: a backoff of hours waits in the table, a run from before a retry records
//! nothing over the new one, and a finish lost to throttling is resumed on its attempt.

use std::time::Duration;

use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, RetryPolicy, Task, TaskOutput};
use jobq::{Envelope, JobStatus};
use serde_json::{Value, json};

use super::stack;

/// Fails its first attempt, asking for a retry two to four hours later.
struct Hourly;

impl Task for Hourly {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "hourly"
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        Some(RetryPolicy { base: hours(4), factor: 2.0, cap: hours(8) })
    }

    async fn run(&self, ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        match ctx.attempt() {
            1 => Err(JobError::retryable("upstream is down for maintenance")),
            _ => Ok(TaskOutput::completed(json!("ok"))),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_backoff_of_hours_waits_in_the_table_and_its_message_names_the_run() {
    let mut registry = Registry::default();
    registry.register(Hourly);
    let s = stack(registry);
    let job = s.enqueue("hourly", json!({})).await;
    s.drain().await;
    let retrying = s.job(&job.id).await;
    let run_at = retrying.run_at.expect("a backoff");
    assert_eq!(retrying.status, JobStatus::Retrying);
    assert!(run_at - s.clock.now() >= chrono::Duration::hours(2), "{run_at}");

    // No message can wait that long: the job waits in the table, costing nothing, until the
    // scheduler (every minute) sends its message, naming the run whose finish scheduled it.
    let sends_before = s.queue_requests("SendMessage");
    let released_at = loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = s.clock.now();
        if s.scheduler.tick(now).await.expect("tick").released == 1 {
            break now;
        }
        assert!(now < run_at, "never released");
    };
    assert!(run_at - released_at <= chrono::Duration::minutes(15), "released in SQS's reach of {run_at}");
    assert!(run_at - released_at >= chrono::Duration::minutes(14), "not long before: {released_at}");
    let got = s.ports.queues.receive(retrying.tier, 10, 0, None).await.expect("receive");
    assert!(got.is_empty(), "the message is delayed until {run_at}");
    assert_eq!(s.queue_requests("SendMessage") + s.queue_requests("SendMessageBatch") - sends_before, 1);

    // SQS delays are whole seconds, rounded up: visible within a second of `run_at`.
    tokio::time::sleep((run_at - s.clock.now()).to_std().unwrap_or_default() + Duration::from_secs(1)).await;
    let got = s.ports.queues.receive(retrying.tier, 10, 0, None).await.expect("receive");
    assert_eq!(got.len(), 1);
    let envelope = Envelope::decode(&got[0].body).expect("envelope");
    assert_eq!((envelope.generation, envelope.run.clone()), (0, retrying.run_id.clone()));
    assert!(envelope.run.is_some());
    s.ports.queues.change_visibility(retrying.tier, &got[0].receipt_handle, 0).await.expect("put back");
    s.drain().await;
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2));
    assert!(done.started_at.is_some_and(|t| t >= run_at), "ran at {:?}, due {run_at}", done.started_at);
}

/// Generation 0 works a minute in one step, then fails retryably; generation 1 works two
/// minutes, then completes.
struct Generational;

impl Task for Generational {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "generational"
    }

    async fn run(&self, ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        match ctx.job().generation {
            0 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Err(JobError::retryable("run A's outcome"))
            }
            _ => {
                tokio::time::sleep(Duration::from_secs(120)).await;
                Ok(TaskOutput::completed(json!("run B's outcome")))
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_from_before_a_retry_cannot_record_over_the_new_run() {
    let mut registry = Registry::default();
    registry.register(Generational);
    let s = stack(registry);
    let job = s.enqueue("generational", json!({})).await;
    let run_a = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(10)).await;
    s.service.cancel(&job.id, "ops").await.expect("cancel");
    let retried = s.service.retry(&job.id, None, "ops").await.expect("retry");
    assert_eq!(retried.generation, 1);
    let run_b = s.spawn_drain();
    run_a.await.expect("run A ends");
    run_b.await.expect("run B ends");

    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.generation, done.attempts), (JobStatus::Completed, 1, 1));
    assert_eq!((done.result, done.error), (Some(json!("run B's outcome")), None));
}

#[tokio::test(start_paused = true)]
async fn a_finish_lost_to_three_minutes_of_throttling_is_resumed_on_the_same_attempt() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 5, "steps": 1})).await;
    let run = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // DynamoDB throttles from mid-run for three minutes, past the run's lease: its outcome is
    // lost, and its delivery comes back every 10 s until the throttle ends.
    s.table.set_throttled(true);
    run.await.expect("the run ends");
    let mut deliveries = 0;
    while s.clock.now() - job.created_at < chrono::Duration::minutes(3) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        deliveries += s.drain().await;
    }
    s.table.set_throttled(false);
    assert!(deliveries >= 10, "the delivery kept coming back: {deliveries}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    s.drain().await;
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "a throttle costs no attempt");
}
