//! The real handlers on the in-memory ports, under a manual clock: no emulator, no network.

use std::sync::Arc;

use chrono::{DateTime, Duration};
use jobq::domain::task::Registry;
use jobq::handlers::dlq::{DeadLetterHandler, DeadLetterOutcome};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain, poll_once};
use jobq::ports::{Clock, ManualClock};
use jobq::queue::REASON_ATTRIBUTE;
use jobq::wiring::MemoryAws;
use jobq::{JobStatus, NewJob, Ports, PriorityTier};
use serde_json::json;

struct Stack {
    clock: ManualClock,
    ports: Ports,
    aws: MemoryAws,
    service: JobService,
    worker: Worker,
}

fn stack() -> Stack {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    let (ports, aws) = Ports::memory(Arc::new(clock.clone())).expect("memory ports");
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { clock, ports, aws, service, worker }
}

impl Stack {
    /// The worker takes every visible message.
    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    /// The dead-letter function takes every visible letter.
    async fn drain_dead_letters(&self, handler: &DeadLetterHandler) -> usize {
        let mut received = 0;
        for tier in PriorityTier::ALL {
            let arn = self.ports.dlqs.arn(tier).await.expect("arn");
            loop {
                let polled = poll_once(&self.ports.dlqs, tier, &arn, 10, 0, |event| handler.handle(event))
                    .await
                    .expect("poll");
                if polled.received == 0 {
                    break;
                }
                received += polled.received;
            }
        }
        received
    }

    /// A job the worker never got to run: DynamoDB refused its claims until the redrive policy
    /// moved its message to the DLQ (as with the worker dying every time).
    async fn redriven_job(&self) -> String {
        let (job, _) = self.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
        // A run of it started and died: the letter is its crash loop's (a job that never ran
        // is left queued by the dead-letter function).
        let now = self.clock.now();
        let lease = now + Duration::seconds(5);
        self.ports.store.claim(&job.id, job.generation, now, lease).await.expect("a run that died");
        self.clock.advance(Duration::seconds(10));
        self.aws.table.set_refusing(true);
        // Five receives, then the sixth receive finds it spent and moves it.
        for _ in 0..6 {
            self.drain().await;
            self.clock.advance(Duration::seconds(11));
        }
        self.aws.table.set_refusing(false);
        assert_eq!(self.ports.dlqs.depth(job.tier).await.expect("depth").visible, 1, "redriven");
        assert_eq!(self.status(&job.id).await, (JobStatus::Processing, 1));
        job.id
    }

    async fn status(&self, id: &str) -> (JobStatus, u32) {
        let job = self.service.get(id).await.expect("get").expect("exists");
        (job.status, job.attempts)
    }
}

fn spec(job_type: &str, payload: serde_json::Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

#[tokio::test(start_paused = true)]
async fn jobs_complete_retry_and_dead_letter_in_memory() {
    let s = stack();
    let (echo, _) = s.service.enqueue(spec("echo", json!({"hi": 1}))).await.expect("enqueue");
    let (flaky, _) = s.service.enqueue(spec("fail", json!({"times": 1}))).await.expect("enqueue");
    let mut hopeless = spec("fail", json!({"retryable": false}));
    hopeless.priority = jobq::Priority::HIGH;
    let (hopeless, _) = s.service.enqueue(hopeless).await.expect("enqueue");

    assert_eq!(s.drain().await, 3);
    let done = s.service.get(&echo.id).await.expect("get").expect("exists");
    assert_eq!((done.status, done.result), (JobStatus::Completed, Some(json!({"hi": 1}))));
    assert_eq!(s.status(&flaky.id).await, (JobStatus::Retrying, 1));
    assert_eq!(s.status(&hopeless.id).await, (JobStatus::Failed, 1));

    s.clock.advance(Duration::minutes(1));
    assert_eq!(s.drain().await, 1, "the retry comes due on the clock");
    assert_eq!(s.status(&flaky.id).await, (JobStatus::Completed, 2));

    let dlq = s.ports.dlqs.receive(PriorityTier::High, 10, 0, None).await.expect("dlq");
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str), Some("fatal_error"));
    let arn = s.ports.dlqs.arn(PriorityTier::High).await.expect("arn");
    let handler = s.ports.dead_letters();
    let response = handler.handle(jobq::handlers::worker::sqs_event(&dlq, &arn, "memory")).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(s.status(&hopeless.id).await, (JobStatus::Failed, 1), "recorded once");
}

#[tokio::test(start_paused = true)]
async fn a_throttled_claim_spends_no_attempt_and_the_job_runs_after() {
    let s = stack();
    let (job, _) = s.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
    s.aws.table.set_throttled(true);
    assert_eq!(s.drain().await, 1);
    s.aws.table.set_throttled(false);
    assert_eq!(s.status(&job.id).await, (JobStatus::Queued, 0), "no attempt spent");
    assert_eq!(s.drain().await, 0, "the message is hidden until it comes back");
    s.clock.advance(Duration::seconds(11));
    assert_eq!(s.drain().await, 1);
    assert_eq!(s.status(&job.id).await, (JobStatus::Completed, 1));
    assert!(s.clock.now() > DateTime::from_timestamp(1_800_000_010, 0).expect("time"));
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_from_before_a_retry_leaves_the_new_generation_alone() {
    let s = stack();
    let mut hopeless = spec("fail", json!({"retryable": false}));
    hopeless.priority = jobq::Priority::HIGH;
    let (job, _) = s.service.enqueue(hopeless).await.expect("enqueue");
    assert_eq!(s.drain().await, 1);
    let letters = s.ports.dlqs.receive(PriorityTier::High, 10, 0, None).await.expect("dlq");
    assert_eq!(letters.len(), 1);

    // Retried from the API before the dead-letter function got to the first life's letter.
    let retried = s.service.retry(&job.id, None, "ops").await.expect("retry");
    assert_eq!((retried.status, retried.generation), (JobStatus::Queued, 1));
    let arn = s.ports.dlqs.arn(PriorityTier::High).await.expect("arn");
    let handler = s.ports.dead_letters();
    let event = jobq::handlers::worker::sqs_event(&letters, &arn, "memory");
    let outcome = handler.record(&event.records[0]).await.expect("record");
    assert_eq!(outcome, DeadLetterOutcome::Stale { job_id: job.id.clone(), delivered: 0, current: 1 });
    assert_eq!(s.status(&job.id).await, (JobStatus::Queued, 0), "the new life is untouched");

    assert_eq!(s.drain().await, 1, "the retry's own message runs it");
    assert_eq!(s.status(&job.id).await, (JobStatus::Failed, 1));
}

#[tokio::test(start_paused = true)]
async fn two_minutes_of_dynamodb_throttling_fail_no_job_and_dead_letter_nothing() {
    let s = stack();
    // 1,000 jobs on every tier, coming due one after another during the throttle.
    let start = s.clock.now();
    let mut ids = Vec::new();
    for i in 0..1_000i64 {
        let mut job = spec("echo", json!({ "n": i }));
        job.priority = jobq::Priority::new(i % 10).expect("priority");
        job.run_at = Some(start + Duration::milliseconds(i * 120));
        ids.push(s.service.enqueue(job).await.expect("enqueue").0.id);
    }
    s.aws.table.set_throttled(true);
    let mut deliveries = 0;
    for _ in 0..12 {
        deliveries += s.drain().await;
        s.clock.advance(Duration::seconds(10));
    }
    s.aws.table.set_throttled(false);
    // Each failed delivery waits twice as long as the one before (10 s, 20 s, 40 s, 80 s).
    assert!(deliveries <= 1_000 * 4, "at most four deliveries each in two minutes: {deliveries}");
    assert!(deliveries >= 1_000, "every job was tried during the throttle: {deliveries}");
    let mut done = 0;
    for _ in 0..12 {
        s.clock.advance(Duration::seconds(10));
        done += s.drain().await;
    }
    assert_eq!(done, 1_000, "every job runs within two minutes of the throttle's end");
    let jobs = s.ports.store.batch_get(&ids).await.expect("read");
    let not_done: Vec<_> =
        jobs.iter().filter(|j| (j.status, j.attempts) != (JobStatus::Completed, 1)).collect();
    assert_eq!(jobs.len(), 1_000);
    assert!(not_done.is_empty(), "{} jobs not completed on their first attempt", not_done.len());
    for tier in PriorityTier::ALL {
        let depth = s.ports.dlqs.depth(tier).await.expect("depth");
        assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "{tier}: nothing dead-lettered");
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_dynamodb_always_refuses_reaches_the_dlq_instead_of_cycling() {
    let s = stack();
    let (job, _) = s.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
    s.aws.table.set_refusing(true);
    let mut deliveries = 0;
    for _ in 0..20 {
        deliveries += s.drain().await;
        s.clock.advance(Duration::seconds(11));
    }
    s.aws.table.set_refusing(false);
    assert_eq!(deliveries, 5, "maxReceiveCount receives, then the redrive policy takes it");
    let tier = job.tier;
    assert_eq!(s.ports.dlqs.depth(tier).await.expect("depth").visible, 1, "in the DLQ, not cycling");
    assert_eq!(s.status(&job.id).await, (JobStatus::Queued, 0), "no attempt spent");
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_met_by_two_minutes_of_throttling_fails_its_job_soon_after() {
    let s = stack();
    let id = s.redriven_job().await;
    let handler = s.ports.dead_letters();
    s.aws.table.set_throttled(true);
    let throttle_ends = s.clock.now() + Duration::minutes(2);
    let mut deliveries = 0;
    while s.clock.now() < throttle_ends {
        deliveries += s.drain_dead_letters(&handler).await;
        s.clock.advance(Duration::seconds(1));
    }
    s.aws.table.set_throttled(false);
    assert_eq!(s.status(&id).await, (JobStatus::Processing, 1), "not recorded while throttled");
    for _ in 0..10 {
        s.drain_dead_letters(&handler).await;
        s.clock.advance(Duration::seconds(1));
    }
    let job = s.service.get(&id).await.expect("get").expect("exists");
    assert_eq!(job.status, JobStatus::Failed, "recorded within 10 s of the throttle's end, not 90 minutes");
    let reason = job.error.and_then(|e| e.details).map(|d| d["reason"].clone());
    assert_eq!(reason, Some(json!(jobq::handlers::dlq::REDRIVE_REASON)));
    let depth = s.ports.dlqs.depth(job.tier).await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "the letter is gone");
    assert_eq!(deliveries, 12, "while throttled, tried again every 10 s, no more often");
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_dynamodb_refuses_comes_back_every_15_minutes() {
    let s = stack();
    let id = s.redriven_job().await;
    let handler = s.ports.dead_letters();
    s.aws.table.set_refusing(true);
    let hour_later = s.clock.now() + Duration::hours(1);
    let mut deliveries = 0;
    while s.clock.now() < hour_later {
        deliveries += s.drain_dead_letters(&handler).await;
        s.clock.advance(Duration::seconds(10));
    }
    s.aws.table.set_refusing(false);
    assert_eq!(deliveries, 4, "an error that repeats is not tried every 10 s");
    assert_eq!(s.status(&id).await, (JobStatus::Processing, 1));
    for _ in 0..90 {
        s.drain_dead_letters(&handler).await;
        s.clock.advance(Duration::seconds(10));
    }
    assert_eq!(s.status(&id).await.0, JobStatus::Failed, "recorded within 15 minutes of the fix");
}

/// A waiting job's delivery that meets a throttle waits twice as long each time (up to two
/// minutes): ten minutes of throttling cost it eight deliveries, not sixty, and it runs within
/// two minutes of the throttle's end, on its first attempt.
#[tokio::test(start_paused = true)]
async fn ten_minutes_of_throttling_cost_a_waiting_job_eight_deliveries() {
    let s = stack();
    let (job, _) = s.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
    // Sent again alone or ten to a request (a batch whose pause flags are unreadable).
    let sends_now = || {
        let requests = s.aws.queues.requests().snapshot();
        ["SQS:SendMessage", "SQS:SendMessageBatch"]
            .iter()
            .map(|op| requests.get(*op).copied().unwrap_or(0))
            .sum::<u64>()
    };
    let sends_before = sends_now();
    s.aws.table.set_throttled(true);
    let mut deliveries = 0;
    for _ in 0..600 {
        deliveries += s.drain().await;
        s.clock.advance(Duration::seconds(1));
    }
    s.aws.table.set_throttled(false);
    // Delivered at 0, 10, 30, 70, 150, 270, 390 and 510 s.
    assert_eq!(deliveries, 8);
    assert_eq!(sends_now() - sends_before, 8, "one send again per failed delivery");
    let mut waited = 0;
    while s.drain().await == 0 {
        s.clock.advance(Duration::seconds(1));
        waited += 1;
        assert!(waited <= 120, "runs within two minutes of the throttle's end");
    }
    assert_eq!(s.status(&job.id).await, (JobStatus::Completed, 1));
}

/// The pause flags' item is hot (throttled while the rest of the table is served) when a fresh
/// worker meets a job of a paused tier: the job must not start while paused. Its delivery comes
/// back, and the job runs once the pause is lifted and the item is served again.
#[tokio::test(start_paused = true)]
async fn a_hot_pause_item_never_lets_a_paused_job_start() {
    let s = stack();
    let scope = jobq::store::PauseScope::Queue(PriorityTier::Normal);
    s.service.set_paused(&scope, true, "ops").await.expect("pause");
    let (job, _) = s.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
    let pause_item = jobq::store::keys::PAUSE_PK.to_owned();
    s.aws.table.set_hot(jobq::adapters::memory::HotPartition::Item(pause_item.clone()), true);
    for _ in 0..3 {
        s.drain().await;
        assert_eq!(s.status(&job.id).await, (JobStatus::Queued, 0), "not started while paused");
        s.clock.advance(Duration::seconds(40));
    }
    s.aws.table.set_hot(jobq::adapters::memory::HotPartition::Item(pause_item), false);
    s.service.set_paused(&scope, false, "ops").await.expect("resume");
    for _ in 0..40 {
        s.drain().await;
        s.clock.advance(Duration::seconds(30));
    }
    assert_eq!(s.status(&job.id).await, (JobStatus::Completed, 1), "runs after the pause");
}
