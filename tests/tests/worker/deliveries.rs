//! What a delivery meets: its message twice, a dead worker's lease, runs longer than the
//! visibility timeout, a cancel, a pause, a poison message, a pipeline's next step.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use jobq::domain::task::Registry;
use jobq::handlers::dlq::{DeadLetterHandler, DeadLetterOutcome};
use jobq::handlers::worker::sqs_event;
use jobq::ports::clock;
use jobq::queue::REASON_ATTRIBUTE;
use jobq::store::{ListQuery, PauseScope};
use jobq::{Envelope, JobStatus, NewJob, Priority, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

use super::{CountRuns, all_terminal, dlq_messages, registry_with, spec};

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
    let polled =
        jobq::handlers::worker::poll_once(&env.queues(), tier, &arn, 10, 1, |e| worker.handle(e, None))
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
    store.cancel(&job.id, "ops", Utc::now()).await.expect("cancel");
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
    env.store().cancel(&job.id, "ops", Utc::now()).await.expect("cancel");
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
    store.set_paused(&PauseScope::All, true, "ops", chrono::Utc::now()).await.expect("pause");
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
    store.set_paused(&PauseScope::All, false, "ops", chrono::Utc::now()).await.expect("resume");
    // The scheduler's next run sends the parked jobs' messages.
    let settings = jobq::handlers::scheduler::SchedulerSettings::from_lookup(|_| None).expect("settings");
    let types = Registry::with_builtins().job_types();
    let scheduler = jobq::Ports::aws(&env.clients, &env.config)
        .scheduler(&env.config, types, settings)
        .expect("scheduler");
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
    let handler = DeadLetterHandler::new(env.store(), env.queues(), clock::system());
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
