//! How a run ends: completed on its first attempt or a later one, failed at once or after its
//! attempts into its DLQ (which the dead-letter handler records), partial, or timed out.

use std::time::{Duration, Instant};

use chrono::Utc;
use jobq::adapters::aws::requests::total;
use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use jobq::handlers::dlq::{DeadLetterHandler, DeadLetterOutcome, REDRIVE_REASON};
use jobq::handlers::worker::{WorkerSettings, sqs_event};
use jobq::ports::clock;
use jobq::queue::REASON_ATTRIBUTE;
use jobq::{Envelope, Job, JobStatus, NewJob, Priority, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

use super::{all_terminal, dlq_messages, spec};

#[tokio::test]
async fn fifty_noop_jobs_across_tiers_complete_with_one_attempt_each() {
    let env = TestEnv::new().await;
    let settings = WorkerSettings { pause_cache: Duration::from_secs(5), ..TestEnv::fast_settings(30) };
    let (worker, worker_requests) = env.counted_worker(Registry::with_builtins(), settings);
    let mut ids = Vec::new();
    for i in 0..50 {
        let priority = Priority::new(i % 11).expect("0..=10");
        ids.push(env.enqueue(NewJob { priority, ..spec("noop", Value::Null) }).await.id);
    }
    let before = env.requests.snapshot();
    env.run_until(&worker, Duration::from_secs(60), || all_terminal(&env, &ids)).await;
    let poller = env.requests.since(&before);

    for job in env.jobs(&ids).await {
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{}", job.id);
        let (started, completed) = (job.started_at.expect("started"), job.completed_at.expect("completed"));
        assert!(started <= completed);
        assert!(job.duration_ms.is_some() && job.wait_ms.is_some(), "wait and duration recorded");
        assert_eq!(job.progress, 100);
    }
    env.count_changes().await;
    let stats = env.store().stats("noop").await.expect("stats");
    assert_eq!((stats.completed, stats.runs), (50, 50));

    // Cost of the worker itself: each job is written twice (claim, finish) and a pause-flags
    // read per cache period; no statistics write (the counters come from the change stream);
    // it makes no SQS call of its own.
    let worker = worker_requests.snapshot();
    assert_eq!(worker.get("DynamoDB:UpdateItem").copied().unwrap_or(0), 100, "{worker:?}");
    assert_eq!(total(&worker, "SQS"), 0, "{worker:?}");
    assert!(worker.get("DynamoDB:GetItem").copied().unwrap_or(0) <= 3, "pause flags are cached: {worker:?}");
    println!("worker requests for 50 noop jobs: {worker:?}; event source (poller): {poller:?}");
}

#[tokio::test]
async fn a_job_failing_twice_completes_on_its_third_attempt() {
    let env = TestEnv::new().await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let job = env
        .enqueue(NewJob {
            max_attempts: Some(3),
            ..spec("fail", json!({"times": 2, "message": "flaky upstream"}))
        })
        .await;
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(30), || all_terminal(&env, &ids)).await;
    let done = &env.jobs(&ids).await[0];
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 3));
    assert_eq!(done.result, Some(json!({"succeeded_on_attempt": 3})));
    env.count_changes().await;
    let stats = env.store().stats("fail").await.expect("stats");
    assert_eq!((stats.retried, stats.completed), (2, 1));
    assert!(dlq_messages(&env, job.tier).await.is_empty());
}

#[tokio::test]
async fn an_always_failing_job_ends_failed_in_its_dlq_and_the_dlq_handler_records_it() {
    let env = TestEnv::new().await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let job = env
        .enqueue(NewJob {
            max_attempts: Some(2),
            priority: Priority::HIGH,
            ..spec("fail", json!({"message": "disk full"}))
        })
        .await;
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(30), || all_terminal(&env, &ids)).await;
    let failed = &env.jobs(&ids).await[0];
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 2));
    assert_eq!(failed.error.as_ref().map(|e| e.message.as_str()), Some("disk full"));

    let dead = dlq_messages(&env, PriorityTier::High).await;
    assert_eq!(dead.len(), 1, "its message is in the high tier's DLQ");
    assert_eq!(Envelope::decode(&dead[0].body).expect("envelope").id, job.id);
    assert_eq!(dead[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str), Some("attempts_exhausted"));

    let handler = DeadLetterHandler::new(env.store(), env.queues(), clock::system());
    let arn = env.dlqs().arn(PriorityTier::High).await.expect("arn");
    let event = sqs_event(&dead, &arn, "local");
    let outcome = handler.record(&event.records[0]).await.expect("record");
    assert_eq!(
        outcome,
        DeadLetterOutcome::AlreadyTerminal { job_id: job.id.clone(), status: JobStatus::Failed }
    );
    assert!(handler.handle(event).await.batch_item_failures.is_empty());
    assert_eq!(env.jobs(&ids).await[0].error, failed.error, "recording twice changes nothing");

    // A message SQS redrove by itself (no reason attribute) for a job whose runs died (here one,
    // its lease long ended): the job is recorded failed.
    let create = |spec: NewJob| Job::new(spec, Utc::now());
    let stuck = env.store().create(&create(spec("noop", Value::Null))).await.expect("create").into_job();
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let lease = long_ago + chrono::Duration::seconds(30);
    env.store().claim(&stuck.id, 0, long_ago, lease).await.expect("a run that died");
    let redriven = |job: &Job| jobq::queue::Received {
        message_id: format!("m-{}", job.id),
        receipt_handle: "r-1".into(),
        body: Envelope::new(&job.id, "noop", job.tier, 0).encode(),
        receive_count: 6,
        attributes: Default::default(),
        sent_at: None,
    };
    // One still queued, never run, is left queued: Lambda's throttles count receives too.
    let waiting = env.store().create(&create(spec("noop", Value::Null))).await.expect("create").into_job();
    let event = sqs_event(&[redriven(&waiting)], &arn, "local");
    let outcome = handler.record(&event.records[0]).await.expect("record");
    assert_eq!(outcome, DeadLetterOutcome::NeverRan { job_id: waiting.id.clone() });
    assert_eq!(env.job(&waiting.id).await.status, JobStatus::Queued);
    let event = sqs_event(&[redriven(&stuck)], &arn, "local");
    let outcome = handler.record(&event.records[0]).await.expect("record");
    assert_eq!(outcome, DeadLetterOutcome::RecordedFailed { job_id: stuck.id.clone() });
    let recorded = &env.job(&stuck.id).await;
    assert_eq!(recorded.status, JobStatus::Failed);
    assert_eq!(
        recorded.error.as_ref().and_then(|e| e.details.as_ref()).map(|d| d["reason"].clone()),
        Some(json!(REDRIVE_REASON))
    );
}

#[tokio::test]
async fn a_fatal_failure_fails_at_once() {
    let env = TestEnv::new().await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let job = env.enqueue(spec("fail", json!({"retryable": false, "message": "bad input"}))).await;
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(20), || all_terminal(&env, &ids)).await;
    let failed = &env.jobs(&ids).await[0];
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let dead = dlq_messages(&env, job.tier).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str), Some("fatal_error"));
}

/// Finishes with one of its steps failed.
#[derive(Clone, Copy)]
struct HalfDone;

impl Task for HalfDone {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "half"
    }

    async fn run(&self, ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        let stages = jobq::domain::context::Stages::new(&[("extract", 50), ("publish", 50)]);
        ctx.stage_progress(&stages, "extract", 1.0, Some("extracted")).await?;
        Ok(TaskOutput::partial(
            json!({"extracted": 3}),
            "publish failed for 1 of 3 files",
            Some(json!({"failed": ["c.pdf"]})),
        ))
    }
}

#[tokio::test]
async fn a_handler_can_end_a_job_partial_with_details() {
    let env = TestEnv::new().await;
    let mut registry = Registry::with_builtins();
    registry.register(HalfDone);
    let worker = env.worker(registry, TestEnv::fast_settings(30));
    let job = env.enqueue(spec("half", Value::Null)).await;
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(20), || all_terminal(&env, &ids)).await;
    let done = env.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Partial, 1));
    assert_eq!(done.result, Some(json!({"extracted": 3})));
    let error = done.error.expect("partial carries what failed");
    assert_eq!(error.details, Some(json!({"failed": ["c.pdf"]})));
    assert_eq!((done.current_step.as_deref(), done.progress), (Some("extract"), 50));
    assert!(dlq_messages(&env, job.tier).await.is_empty(), "partial is not a failure");
}

#[tokio::test]
async fn a_run_past_its_timeout_is_a_retryable_failure() {
    let env = TestEnv::new().await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let job = env
        .enqueue(NewJob {
            timeout_seconds: Some(1),
            max_attempts: Some(2),
            ..spec("sleep", json!({"seconds": 30, "steps": 3}))
        })
        .await;
    let started = Instant::now();
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(30), || all_terminal(&env, &ids)).await;
    assert!(started.elapsed() < Duration::from_secs(10), "runs were cut at 1 s each");
    let failed = env.job(&job.id).await;
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 2), "timed out twice: retried once");
    assert_eq!(failed.error.map(|e| e.message), Some("timed out after 1 s".to_owned()));
}
