//! Event sources against the emulator: S3 upload notifications, the scheduler.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use jobq::handlers::ingest::{IngestHandler, IngestRules};
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings, parse_recurring};
use jobq::handlers::worker::sqs_event;
use jobq::ports::ManualClock;
use jobq::queue::TierQueues;
use jobq::store::ListQuery;
use jobq::{Envelope, Job, JobStatus, NewJob, PerTier, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

fn job_types() -> jobq::domain::payload::JobTypes {
    jobq::domain::task::Registry::with_builtins().job_types()
}

fn scheduler(env: &TestEnv, schedules: Option<&str>) -> Scheduler {
    let settings = SchedulerSettings {
        recurring: parse_recurring(schedules).expect("schedules"),
        catch_up_minutes: 5,
        recover_after: chrono::Duration::seconds(30),
        // The recovered job is sent at once here (the grace is for runs alive after all).
        resume_grace: chrono::Duration::zero(),
        resend_after: chrono::Duration::seconds(900),
        // No delivery resumes a run here: a dead run on its last attempt is failed at once.
        resume_within: chrono::Duration::zero(),
        sweep_per_shard: 200,
        tick_budget: Duration::from_secs(40),
    };
    jobq::Ports::aws(&env.clients, &env.config)
        .scheduler(&env.config, job_types(), settings)
        .expect("scheduler")
}

fn at(s: &str) -> DateTime<Utc> {
    jobq::domain::model::parse_time(s).expect("time")
}

#[tokio::test]
async fn uploads_become_jobs_with_their_exact_keys_once() {
    let env = TestEnv::new().await;
    let bucket = env.provisioned.bucket.clone();
    // The store's own objects (large payloads and results) notify nothing.
    let spilled = format!("{}j1/payload-t.json", jobq::store::BLOB_PREFIX);
    for (key, body) in [
        ("uploads/in/My Report (1).pdf", "pdf"),
        (spilled.as_str(), "{}"),
        ("uploads/in/vidéo clip.mp4", "video"),
        ("uploads/elsewhere/notes.txt", "txt"),
    ] {
        env.clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("upload");
    }
    let ingest_url = env.config.ingest_queue.clone().expect("ingest queue");
    let ingest_queue = TierQueues::new(env.clients.sqs.clone(), PerTier::from_fn(|_| ingest_url.clone()));
    let mut messages = Vec::new();
    for _ in 0..5 {
        messages.extend(ingest_queue.receive(PriorityTier::Normal, 10, 1, Some(60)).await.expect("receive"));
        if messages.len() >= 4 {
            break;
        }
    }
    assert!(messages.iter().any(|m| m.body.contains("s3:TestEvent")), "the emulator sent the test event");
    assert_eq!(messages.len(), 4, "a test event and three uploads");
    assert!(!messages.iter().any(|m| m.body.contains("jobq-data")), "no notification of the store's object");

    let rules = IngestRules::parse(
        "test",
        r#"[{"prefix": "uploads/in/", "suffix": ".pdf", "type": "echo", "priority": "high", "payload": {"pipeline": "ocr"}},
            {"prefix": "uploads/in/", "suffix": ".mp4", "type": "noop"}]"#,
    )
    .expect("rules");
    let ports = jobq::Ports::aws(&env.clients, &env.config);
    let dlq = (ports.queues.port().clone(), env.provisioned.ingest_dlq.clone());
    let handler = IngestHandler::new(ports.service(&env.config, job_types()), rules, Some(dlq));
    let event = sqs_event(&messages, "arn:aws:sqs:us-east-1:000000000000:ingest", "local");
    assert!(handler.handle(event.clone()).await.batch_item_failures.is_empty());
    // S3 delivers at least once: the same notifications again create nothing new.
    assert!(handler.handle(event).await.batch_item_failures.is_empty());

    let jobs = env.store().list(&ListQuery::default(), 50, None).await.expect("list").jobs;
    assert_eq!(jobs.len(), 2, "the test event and the unmatched key create nothing: {jobs:?}");
    let pdf = jobs.iter().find(|j| j.job_type == "echo").expect("pdf job");
    assert_eq!(pdf.payload["key"], "uploads/in/My Report (1).pdf");
    assert_eq!(
        (pdf.payload["bucket"].as_str(), pdf.payload["size"].as_u64()),
        (Some(bucket.as_str()), Some(3))
    );
    assert!(pdf.payload["etag"].is_string());
    assert_eq!(pdf.payload["pipeline"], "ocr");
    assert_eq!(pdf.tier, PriorityTier::High);
    let video = jobs.iter().find(|j| j.job_type == "noop").expect("video job");
    assert_eq!(video.payload["key"], "uploads/in/vidéo clip.mp4");
    // One message each, not one per notification delivered.
    let high = env.queues().depth(PriorityTier::High).await.expect("depth");
    let normal = env.queues().depth(PriorityTier::Normal).await.expect("depth");
    assert_eq!((high.visible, normal.visible), (1, 1));

    // A message that is no notification goes to the ingest DLQ with its reason.
    let mut poison = sqs_event(&messages[..1], "arn", "local");
    poison.records[0].body = Some("garbage".into());
    assert!(handler.handle(poison).await.batch_item_failures.is_empty());
    let dlq_url = env.provisioned.ingest_dlq.clone();
    let dlq = TierQueues::new(env.clients.sqs.clone(), PerTier::from_fn(|_| dlq_url.clone()));
    let dead = dlq.receive(PriorityTier::Normal, 10, 1, None).await.expect("receive");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .attributes
            .get(jobq::queue::REASON_ATTRIBUTE)
            .is_some_and(|r| r.starts_with("poison_message"))
    );
}

/// The store's objects expire with the template's rule, on the emulator too.
#[tokio::test]
async fn the_stores_objects_expire_in_the_provisioned_bucket() {
    let env = TestEnv::new().await;
    let lifecycle = env
        .clients
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&env.provisioned.bucket)
        .send()
        .await
        .expect("a lifecycle configuration");
    let rules: Vec<(Option<String>, Option<i32>)> = lifecycle
        .rules()
        .iter()
        .map(|r| {
            let prefix = r.filter().and_then(|f| f.prefix()).map(str::to_owned);
            (prefix, r.expiration().and_then(|e| e.days()))
        })
        .collect();
    let days = i32::try_from(jobq::store::SPILL_EXPIRATION_DAYS).expect("days");
    assert_eq!(rules, [(Some(jobq::store::BLOB_PREFIX.to_owned()), Some(days))]);
}

#[tokio::test]
async fn a_recurring_job_is_enqueued_once_per_due_time_however_often_the_scheduler_runs() {
    let env = TestEnv::new().await;
    let scheduler =
        scheduler(&env, Some(r#"[{"name": "nightly", "schedule": "cron(30 4 * * ? *)", "type": "noop"}]"#));
    let first = scheduler.tick(at("2026-06-01T04:30:05Z")).await.expect("tick");
    let second = scheduler.tick(at("2026-06-01T04:30:40Z")).await.expect("tick again, same minute");
    let later = scheduler.tick(at("2026-06-01T04:32:00Z")).await.expect("tick within the catch-up window");
    assert_eq!((first.enqueued, second.enqueued, later.enqueued), (1, 0, 0));
    let jobs = env.store().list(&ListQuery::default(), 10, None).await.expect("list").jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].idempotency_key.as_deref(), Some("schedule:nightly:2026-06-01T04:30:00.000Z"));
    let next_day = scheduler.tick(at("2026-06-02T04:30:00Z")).await.expect("tick");
    assert_eq!(next_day.enqueued, 1);
    // A missed run is made up for within the window.
    let missed = scheduler.tick(at("2026-06-03T04:33:00Z")).await.expect("tick");
    assert_eq!(missed.enqueued, 1);
}

#[tokio::test]
async fn a_job_delayed_an_hour_waits_scheduled_is_released_when_due_and_completes() {
    let env = TestEnv::new().await;
    let service = jobq::Ports::aws(&env.clients, &env.config).service(&env.config, job_types());
    let now = Utc::now();
    let (job, _) = service
        .enqueue(NewJob {
            job_type: "echo".into(),
            run_at: Some(now + chrono::Duration::seconds(3600)),
            ..NewJob::default()
        })
        .await
        .expect("enqueue");
    assert_eq!(job.status, JobStatus::Scheduled);
    let scheduler = scheduler(&env, None);
    assert_eq!(scheduler.tick(now).await.expect("tick").released, 0, "not yet due");
    assert_eq!(env.job(&job.id).await.status, JobStatus::Scheduled);

    let later = now + chrono::Duration::seconds(3601);
    assert_eq!(scheduler.tick(later).await.expect("tick").released, 1);
    assert_eq!(scheduler.tick(later).await.expect("tick again").released, 0, "released once");
    // The worker lives at the scheduler's simulated time: a claim before `run_at` is refused.
    let worker = env
        .worker(Registry::with_builtins(), TestEnv::fast_settings(30))
        .with_clock(Arc::new(ManualClock::new(later)));
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.job(&job.id).await.status == JobStatus::Completed
    })
    .await;
    assert_eq!(env.job(&job.id).await.attempts, 1);
}

#[derive(Clone, Default)]
struct CountRuns(Arc<AtomicUsize>);

impl Task for CountRuns {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "count"
    }

    async fn run(&self, _ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(TaskOutput::completed(json!(null)))
    }
}

#[tokio::test]
async fn a_stuck_job_with_no_message_is_recovered_and_completes_once() {
    let env = TestEnv::new().await;
    let runs = CountRuns::default();
    let mut registry = Registry::with_builtins();
    registry.register(runs.clone());
    let types = registry.job_types();
    let worker = env.worker(registry, TestEnv::fast_settings(30));
    let settings = SchedulerSettings { recover_after: chrono::Duration::seconds(30), ..scheduler_settings() };
    let scheduler = jobq::Ports::aws(&env.clients, &env.config)
        .scheduler(&env.config, types, settings)
        .expect("scheduler");

    // A worker claimed it, its message was deleted (a purge), and the worker died before its
    // first heartbeat: nothing watches the run, and no message will come back.
    let job = env.enqueue(NewJob { job_type: "count".into(), ..NewJob::default() }).await;
    let got = env.queues().receive(job.tier, 1, 1, None).await.expect("receive");
    env.queues().delete_batch(job.tier, &[got[0].receipt_handle.clone()]).await.expect("delete");
    let now = Utc::now();
    env.store().claim(&job.id, 0, now, now + chrono::Duration::seconds(5)).await.expect("claim");

    let tick = |after| scheduler.tick(now + chrono::Duration::seconds(after));
    assert_eq!(tick(60).await.expect("tick").recovered, 0, "not watched: unknown to the sweeps");
    // The lost-message walk looks at each job a period after its creation, and watches this run
    // at its lease end; the next run takes it back.
    assert_eq!(tick(901).await.expect("tick").recovered, 0);
    let report = tick(902).await.expect("tick");
    assert_eq!(report.recovered, 1);
    // The worker lives at the scheduler's simulated time: the recovered job is due from then.
    let worker = worker.with_clock(Arc::new(ManualClock::new(now + chrono::Duration::seconds(902))));
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.job(&job.id).await.status == JobStatus::Completed
    })
    .await;
    assert_eq!(runs.0.load(Ordering::SeqCst), 1, "run exactly once");
    assert_eq!(env.job(&job.id).await.attempts, 2, "the dead run's attempt counts");

    // Out of attempts: failed, with its dead letter.
    let spent =
        env.enqueue(NewJob { job_type: "count".into(), max_attempts: Some(1), ..NewJob::default() }).await;
    let got = env.queues().receive(spent.tier, 1, 1, None).await.expect("receive");
    env.queues().delete_batch(spent.tier, &[got[0].receipt_handle.clone()]).await.expect("delete");
    env.store().claim(&spent.id, 0, now, now + chrono::Duration::seconds(5)).await.expect("claim");
    assert_eq!(tick(960).await.expect("tick").failed, 0, "the walk watches it");
    assert_eq!(tick(961).await.expect("tick").failed, 1);
    assert_eq!(env.job(&spent.id).await.status, JobStatus::Failed);
    assert_eq!(env.dlqs().receive(spent.tier, 10, 1, None).await.expect("dlq").len(), 1);
}

fn scheduler_settings() -> SchedulerSettings {
    SchedulerSettings {
        recurring: Vec::new(),
        catch_up_minutes: 5,
        recover_after: chrono::Duration::seconds(30),
        // The recovered job is sent at once here (the grace is for runs alive after all).
        resume_grace: chrono::Duration::zero(),
        resend_after: chrono::Duration::seconds(900),
        // No delivery resumes a run here: a dead run on its last attempt is failed at once.
        resume_within: chrono::Duration::zero(),
        sweep_per_shard: 200,
        tick_budget: Duration::from_secs(40),
    }
}

#[tokio::test]
async fn a_queued_job_whose_message_was_lost_is_sent_again_once_per_period() {
    let env = TestEnv::new().await;
    let scheduler = jobq::Ports::aws(&env.clients, &env.config)
        .scheduler(&env.config, job_types(), scheduler_settings())
        .expect("scheduler");
    // Written, but the enqueue died before its message went out.
    let job = env
        .store()
        .create(&Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, Utc::now()))
        .await
        .expect("create")
        .into_job();
    let now = Utc::now();
    assert_eq!(scheduler.tick(now).await.expect("tick").resent, 0, "young jobs are left alone");
    let late = now + chrono::Duration::seconds(901);
    let report = scheduler.tick(late).await.expect("tick");
    assert_eq!(report.resent, 1);
    assert!(report.oldest_queued_seconds.get(&job.tier).is_some_and(|age| *age >= 900));
    assert_eq!(scheduler.tick(late).await.expect("tick").resent, 0, "not again in the same period");
    let got = env.queues().receive(job.tier, 10, 1, None).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(Envelope::decode(&got[0].body).expect("envelope").id, job.id);
}

#[tokio::test]
async fn a_job_due_in_an_hour_among_3000_due_in_30_days_is_released_on_time() {
    let env = TestEnv::new().await;
    let scheduler = scheduler(&env, None);
    let now = Utc::now();
    let far: Vec<Job> = (0..3_000)
        .map(|i| {
            let at = now + chrono::Duration::days(30) + chrono::Duration::seconds(i);
            Job::new(NewJob { job_type: "noop".into(), run_at: Some(at), ..NewJob::default() }, now)
        })
        .collect();
    env.store().create_many(&far).await.expect("3,000 jobs due in 30 days");
    let run_at = now + chrono::Duration::hours(1);
    let spec = NewJob { job_type: "noop".into(), run_at: Some(run_at), ..NewJob::default() };
    let service = jobq::Ports::aws(&env.clients, &env.config).service(&env.config, job_types());
    let (near, _) = service.enqueue(spec).await.expect("enqueue");
    assert_eq!(near.status, JobStatus::Scheduled);

    // Created last among 3,000 older ones: a sweep by creation order never reached it.
    let out_of_reach = run_at - chrono::Duration::minutes(16);
    assert_eq!(scheduler.tick(out_of_reach).await.expect("tick").released, 0, "not yet in SQS's reach");
    // Released at its time here (the emulator's SQS delays in real time), as it is from 15 min before.
    assert_eq!(scheduler.tick(run_at).await.expect("tick").released, 1, "found among 3,000");
    let worker = env
        .worker(Registry::with_builtins(), TestEnv::fast_settings(30))
        .with_clock(Arc::new(ManualClock::new(run_at)));
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.job(&near.id).await.status == JobStatus::Completed
    })
    .await;
}
