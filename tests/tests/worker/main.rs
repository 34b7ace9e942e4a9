//! The worker engine against the emulator: handlers called in-process with real SQS events,
//! received from the tier queues the way Lambda's event source mapping does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use jobq::context::JobContext;
use jobq::dlq::{DeadLetterHandler, DeadLetterOutcome, REDRIVE_REASON};
use jobq::queue::REASON_ATTRIBUTE;
use jobq::requests::total;
use jobq::store::{ListQuery, PauseScope};
use jobq::task::{JobError, Registry, Task, TaskOutput};
use jobq::worker::{WorkerSettings, sqs_event};
use jobq::{Envelope, Job, JobStatus, NewJob, Priority, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

/// Counts its runs; optionally sleeps first.
#[derive(Clone, Default)]
struct CountRuns {
    runs: Arc<AtomicUsize>,
    sleep: Duration,
}

impl Task for CountRuns {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "count"
    }

    async fn run(&self, _ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.sleep).await;
        Ok(TaskOutput::completed(json!({"ran": true})))
    }
}

fn registry_with(task: CountRuns) -> Registry {
    let mut registry = Registry::with_builtins();
    registry.register(task);
    registry
}

fn spec(job_type: &str, payload: Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

async fn all_terminal(env: &TestEnv, ids: &[String]) -> bool {
    env.jobs(ids).await.iter().all(|j| j.status.is_terminal())
}

async fn dlq_messages(env: &TestEnv, tier: PriorityTier) -> Vec<jobq::queue::Received> {
    let dlqs = env.dlqs();
    let mut all = Vec::new();
    for _ in 0..3 {
        let got = dlqs.receive(tier, 10, 0, Some(30)).await.expect("receive dlq");
        if got.is_empty() {
            break;
        }
        all.extend(got);
    }
    all
}

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

    let handler = DeadLetterHandler::new(env.store());
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

#[tokio::test]
async fn the_same_message_delivered_twice_runs_the_handler_once() {
    let env = TestEnv::new().await;
    let counter = CountRuns::default();
    let worker = env.worker(registry_with(counter.clone()), TestEnv::fast_settings(30));
    let job = env.enqueue(spec("count", Value::Null)).await;
    let tier = job.tier;
    let received = env.queues().receive(tier, 10, 1, None).await.expect("receive");
    assert_eq!(received.len(), 1);
    // Twice in one batch, the way an at-least-once delivery can hand it over.
    let doubled = [received[0].clone(), received[0].clone()];
    let response = worker.handle(sqs_event(&doubled, &env.arn(tier).await, "local"), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(counter.runs.load(Ordering::SeqCst), 1);
    // The message's receipt deleted twice in one request is fine.
    let receipts = [received[0].receipt_handle.clone(), received[0].receipt_handle.clone()];
    assert!(env.queues().delete_batch(tier, &receipts).await.expect("delete").is_empty());

    // A second copy arriving later (a duplicate send) is dropped too.
    env.queues().send(&Envelope::new(&job.id, "count", tier, 0), 0).await.expect("duplicate send");
    env.poll(&worker, tier, 1).await;
    assert_eq!(counter.runs.load(Ordering::SeqCst), 1);
    let done = &env.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

#[tokio::test]
async fn a_job_abandoned_by_a_dead_worker_completes_once_after_its_lease() {
    let env = TestEnv::new().await;
    env.set_visibility(1).await;
    let counter = CountRuns::default();
    let worker = env.worker(registry_with(counter.clone()), TestEnv::fast_settings(1));
    let job = env.enqueue(spec("count", Value::Null)).await;
    // The dead worker: received the message and claimed the job, then vanished.
    let got = env.queues().receive(job.tier, 1, 1, Some(1)).await.expect("receive");
    assert_eq!(got.len(), 1);
    let now = Utc::now();
    env.store().claim(&job.id, 0, now, now + chrono::Duration::seconds(3)).await.expect("claim");

    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(30), || all_terminal(&env, &ids)).await;
    let done = &env.jobs(&ids).await[0];
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2), "the dead run's attempt counts");
    assert!(
        done.started_at.expect("started") >= now + chrono::Duration::seconds(3),
        "not before the lease ended"
    );
    assert_eq!(counter.runs.load(Ordering::SeqCst), 1, "run once by the live worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_longer_than_three_visibility_timeouts_runs_once() {
    let env = TestEnv::new().await;
    env.set_visibility(2).await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(2));
    let job = env.enqueue(spec("sleep", json!({"seconds": 7, "steps": 14}))).await;
    let tier = job.tier;
    let arn = env.arn(tier).await;

    // A second "worker" keeps polling: it must never see the message while the first runs it.
    let queues = env.queues();
    let poacher = tokio::spawn(async move {
        let mut seen = 0;
        let end = Instant::now() + Duration::from_secs(8);
        tokio::time::sleep(Duration::from_millis(500)).await;
        while Instant::now() < end {
            let got = queues.receive(tier, 10, 1, Some(1)).await.expect("receive");
            seen += got.len();
        }
        seen
    });
    let polled = jobq::worker::poll_once(&env.queues(), tier, &arn, 10, 1, |e| worker.handle(e, None))
        .await
        .expect("poll");
    assert_eq!(polled.received, 1);
    assert_eq!(poacher.await.expect("poacher"), 0, "the heartbeat kept the message invisible");
    let done = &env.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
    assert!(done.duration_ms.expect("duration") >= 7000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_a_sleep_stops_it_within_a_progress_interval() {
    let env = Arc::new(TestEnv::new().await);
    let settings = TestEnv::fast_settings(30);
    let interval = settings.progress_interval;
    let worker = Arc::new(env.worker(Registry::with_builtins(), settings));
    let job = env.enqueue(spec("sleep", json!({"seconds": 20, "steps": 200}))).await;
    let tier = job.tier;
    let run = {
        let (env, worker) = (env.clone(), worker.clone());
        tokio::spawn(async move {
            let polled = env.poll(&worker, tier, 1).await;
            (polled, Instant::now())
        })
    };
    // Wait until it is running and has reported progress.
    let store = env.store();
    let started = Instant::now();
    loop {
        let current = store.get(&job.id, true).await.expect("get").expect("exists");
        if current.status == JobStatus::Processing && current.progress > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancelled_at = Instant::now();
    store.cancel(&job.id, Utc::now()).await.expect("cancel");
    let (polled, stopped_at) = run.await.expect("run");
    assert_eq!((polled.received, polled.failed), (1, 0), "the message is acknowledged");
    let stop_delay = stopped_at - cancelled_at;
    // One interval to notice, plus one 100 ms step and the emulator's latency.
    assert!(stop_delay < interval + Duration::from_millis(600), "stopped after {stop_delay:?}");
    let stored = &env.job(&job.id).await;
    assert_eq!(stored.status, JobStatus::Cancelled);
    assert!(stored.progress < 100);
}

#[tokio::test]
async fn a_job_cancelled_while_queued_never_runs() {
    let env = TestEnv::new().await;
    let counter = CountRuns::default();
    let worker = env.worker(registry_with(counter.clone()), TestEnv::fast_settings(30));
    let job = env.enqueue(spec("count", Value::Null)).await;
    env.store().cancel(&job.id, Utc::now()).await.expect("cancel");
    let polled = env.poll(&worker, job.tier, 1).await;
    assert_eq!((polled.received, polled.failed), (1, 0));
    assert_eq!(counter.runs.load(Ordering::SeqCst), 0);
    assert_eq!(env.job(&job.id).await.status, JobStatus::Cancelled);
    assert_eq!(env.queues().depth(job.tier).await.expect("depth"), Default::default(), "nothing left behind");
}

#[tokio::test]
async fn a_pause_longer_than_attempts_times_visibility_parks_its_jobs_at_no_attempt() {
    let env = TestEnv::new().await;
    env.set_visibility(1).await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(1));
    let store = env.store();
    store.set_paused(&PauseScope::All, true).await.expect("pause");
    let mut ids = Vec::new();
    for tier in PriorityTier::ALL {
        let priority = Priority::from(tier);
        ids.push(
            env.enqueue(NewJob { priority, max_attempts: Some(2), ..spec("noop", Value::Null) }).await.id,
        );
    }
    // Paused for 4 s: more than max_attempts (2) x visibility (1 s), with deliveries all along.
    let paused_until = Instant::now() + Duration::from_secs(4);
    let mut deliveries = 0;
    while Instant::now() < paused_until {
        for tier in PriorityTier::ALL {
            deliveries += env.poll(&worker, tier, 0).await.received;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(deliveries, 3, "each paused job was delivered once and parked, not sent round again");
    for job in env.jobs(&ids).await {
        assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0), "no attempt spent while paused");
    }
    store.set_paused(&PauseScope::All, false).await.expect("resume");
    // The scheduler's next run sends the parked jobs' messages.
    let settings = jobq::scheduler::SchedulerSettings::from_lookup(|_| None).expect("settings");
    let types = Registry::with_builtins().job_types().into_iter().map(str::to_owned).collect();
    let scheduler = jobq::scheduler::Scheduler::new(&env.clients, &env.config, types, settings);
    assert_eq!(scheduler.tick(Utc::now()).await.expect("tick").released, 3);
    env.run_until(&worker, Duration::from_secs(30), || all_terminal(&env, &ids)).await;
    for job in env.jobs(&ids).await {
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1));
    }
    for tier in PriorityTier::ALL {
        assert!(dlq_messages(&env, tier).await.is_empty(), "nothing reached the {tier} DLQ");
    }
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_with_its_reason_and_the_batch_succeeds() {
    let env = TestEnv::new().await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let mut ids = Vec::new();
    for _ in 0..9 {
        ids.push(env.enqueue(spec("noop", Value::Null)).await.id);
    }
    let url = env.config.queues.get(PriorityTier::Normal);
    env.clients
        .sqs
        .send_message()
        .queue_url(url)
        .message_body("{not json")
        .send()
        .await
        .expect("send poison");

    let mut received = Vec::new();
    for _ in 0..5 {
        received.extend(env.queues().receive(PriorityTier::Normal, 10, 1, None).await.expect("receive"));
        if received.len() == 10 {
            break;
        }
    }
    assert_eq!(received.len(), 10);
    let response =
        worker.handle(sqs_event(&received, &env.arn(PriorityTier::Normal).await, "local"), None).await;
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    for job in env.jobs(&ids).await {
        assert_eq!(job.status, JobStatus::Completed);
    }
    let dead = dlq_messages(&env, PriorityTier::Normal).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{not json");
    let reason = dead[0].attributes.get(REASON_ATTRIBUTE).cloned().unwrap_or_default();
    assert!(reason.starts_with("poison_message: "), "{reason}");
    let handler = DeadLetterHandler::new(env.store());
    let event = sqs_event(&dead, "arn:aws:sqs:local:0:normal-dlq", "local");
    assert!(matches!(handler.record(&event.records[0]).await, Ok(DeadLetterOutcome::Unrecordable { .. })));
}

#[tokio::test]
async fn a_two_step_chain_runs_the_second_step_after_the_first_and_once() {
    let env = TestEnv::new().await;
    let counter = CountRuns::default();
    let worker = env.worker(registry_with(counter.clone()), TestEnv::fast_settings(30));
    let first = env
        .enqueue(NewJob { next: vec![spec("count", json!({"step": 2}))], ..spec("echo", json!({"step": 1})) })
        .await;
    let store = env.store();
    let chain = ListQuery { job_type: Some("count".into()), ..ListQuery::default() };
    assert!(
        store.list(&chain, 10, None).await.expect("list").jobs.is_empty(),
        "no second step before the first ends"
    );

    let first_id = [first.id.clone()];
    env.run_until(&worker, Duration::from_secs(30), || async {
        let page = store.list(&chain, 10, None).await.expect("list");
        all_terminal(&env, &first_id).await
            && page.jobs.iter().all(|j| j.status.is_terminal())
            && !page.jobs.is_empty()
    })
    .await;
    let first_done = &env.jobs(&first_id).await[0];
    let second = store.list(&chain, 10, None).await.expect("list").jobs;
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].status, second[0].attempts), (JobStatus::Completed, 1));
    assert!(
        second[0].created_at >= first_done.completed_at.expect("completed"),
        "created only after the first completed"
    );

    // The first step's message delivered again: no second copy of step two.
    env.queues().send(&Envelope::new(&first.id, "echo", first.tier, 0), 0).await.expect("resend");
    env.poll(&worker, first.tier, 1).await;
    env.poll(&worker, first.tier, 0).await;
    assert_eq!(store.list(&chain, 10, None).await.expect("list").jobs.len(), 1);
    assert_eq!(counter.runs.load(Ordering::SeqCst), 1);
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
        let stages = jobq::context::Stages::new(&[("extract", 50), ("publish", 50)]);
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
