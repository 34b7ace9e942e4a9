//! A run's life on the in-memory ports: who owns a job while it runs, what a panic takes down,
//! how a run that died is found, and when a retry may run. Time is tokio's paused clock, which
//! the ports read through [`TokioClock`]: a simulated hour takes milliseconds.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use jobq::context::JobContext;
use jobq::ports::{Clock, TokioClock};
use jobq::scheduler::{Scheduler, SchedulerSettings};
use jobq::service::JobService;
use jobq::task::{JobError, Registry, RetryPolicy, Task, TaskOutput};
use jobq::worker::{Worker, WorkerSettings, drain};
use jobq::{Envelope, Job, JobStatus, NewJob, Ports, PriorityTier};
use serde_json::{Value, json};

struct Stack {
    clock: Arc<dyn Clock>,
    table: jobq::memory::MemoryTable,
    queues: Arc<jobq::memory::MemoryQueues>,
    ports: Ports,
    service: JobService,
    worker: Arc<Worker>,
    scheduler: Scheduler,
}

fn stack(mut registry: Registry) -> Stack {
    let base = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(base));
    let (ports, aws) = Ports::memory(clock.clone()).expect("memory ports");
    jobq::builtin::register(&mut registry);
    let types: Vec<String> = registry.job_types().into_iter().map(str::to_owned).collect();
    let service = JobService::from_ports(&ports, &aws.config, types.clone());
    let settings = SchedulerSettings::from_lookup(|_| None).expect("defaults");
    let scheduler = Scheduler::from_ports(&ports, &aws.config, types, settings);
    let worker = Arc::new(Worker::from_ports(&ports, registry, WorkerSettings::default()));
    Stack { clock, table: aws.table, queues: aws.queues, ports, service, worker, scheduler }
}

impl Stack {
    async fn enqueue(&self, job_type: &str, payload: Value) -> Job {
        let spec = NewJob { job_type: job_type.into(), payload, ..NewJob::default() };
        self.service.enqueue(spec).await.expect("enqueue").0
    }

    /// A `sleep` of `seconds` in `steps`, with a timeout that leaves it room.
    async fn enqueue_long_sleep(&self, seconds: u64, steps: u32) -> Job {
        let spec = NewJob {
            job_type: "sleep".into(),
            payload: json!({ "seconds": seconds, "steps": steps }),
            timeout_seconds: Some(u32::try_from(seconds).unwrap_or(u32::MAX).saturating_add(300)),
            ..NewJob::default()
        };
        self.service.enqueue(spec).await.expect("enqueue").0
    }

    async fn job(&self, id: &str) -> Job {
        self.service.get(id).await.expect("get").expect("exists")
    }

    /// A worker taking every visible message, in the background (as a Lambda would).
    fn spawn_drain(&self) -> tokio::task::JoinHandle<usize> {
        let (queues, worker) = (self.ports.queues.clone(), self.worker.clone());
        tokio::spawn(async move { drain(&queues, &worker).await.expect("drain") })
    }

    /// Requests of `operation` the queues have served so far.
    fn queue_requests(&self, operation: &str) -> u64 {
        self.queues.requests().snapshot().get(&format!("SQS:{operation}")).copied().unwrap_or(0)
    }

    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_fails_alone_and_its_nine_neighbours_complete_on_their_first_attempt() {
    let s = stack(Registry::default());
    let payload = json!({"panic": true, "message": "index 7 out of range"});
    let bad = s.enqueue("fail", payload).await;
    let mut good = Vec::new();
    for i in 0..9 {
        good.push(s.enqueue("echo", json!({ "n": i })).await.id);
    }
    assert_eq!(s.drain().await, 10, "one batch of ten");

    let failed = s.job(&bad.id).await;
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let error = failed.error.expect("the panic is the job's error");
    assert!(error.message.contains("index 7 out of range"), "{}", error.message);
    let details = error.details.expect("details");
    assert_eq!(
        (details["panic"].clone(), details["reason"].clone()),
        (json!(true), json!("handler_panicked"))
    );
    for id in &good {
        let job = s.job(id).await;
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{id}: untouched by the panic");
    }
    let letters = s.ports.dlqs.receive(PriorityTier::Normal, 10, 0, None).await.expect("dlq");
    assert_eq!(letters.len(), 1, "only the panicking job is dead-lettered");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_died_before_its_first_heartbeat_runs_again_when_its_message_returns() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 30, "steps": 1})).await;
    // A worker takes the job, then its process dies 5 s in: no finish, and no heartbeat yet, so
    // its lease was never put in the lease-end index.
    let crashed = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(5)).await;
    crashed.abort();
    let running = s.job(&job.id).await;
    assert_eq!((running.status, running.attempts), (JobStatus::Processing, 1));
    let lease_end = running.lease_until.expect("a lease");

    // Its message was hidden a lease and ten seconds, not the queue's 90 minutes.
    tokio::time::sleep(Duration::from_secs(115)).await;
    assert_eq!(s.drain().await, 0, "still hidden while the lease may be alive");
    assert_eq!(s.scheduler.tick(s.clock.now()).await.expect("tick").recovered, 0, "not in by-due");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(s.clock.now() > lease_end);
    assert_eq!(s.drain().await, 1, "back a lease after the batch began");
    // Taken back reversibly, as the scheduler would (a run alive after all could own it again),
    // and run anew after the grace.
    assert_eq!(s.job(&job.id).await.status, JobStatus::Retrying);
    tokio::time::sleep(Duration::from_secs(61)).await;
    s.drain().await;
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2), "the dead run's attempt counts");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_died_after_its_first_heartbeat_is_found_at_its_lease_end() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 300, "steps": 1})).await;
    // The run lives past its first heartbeat (a third of its 2-minute lease), then its process
    // dies: the message is now hidden for the queue's 90 minutes, and the lease is in by-due.
    let crashed = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(45)).await;
    crashed.abort();
    let running = s.job(&job.id).await;
    assert_eq!((running.status, running.attempts), (JobStatus::Processing, 1));
    let lease_end = running.lease_until.expect("a lease");
    let started = running.started_at.expect("started");
    assert!(lease_end - started > chrono::Duration::minutes(2), "renewed by the heartbeat: {lease_end}");

    // The scheduler runs every minute.
    let found_at = loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = s.clock.now();
        if s.scheduler.tick(now).await.expect("tick").recovered == 1 {
            break now;
        }
        assert!(now - lease_end < chrono::Duration::minutes(30), "never recovered");
    };
    assert!(found_at > lease_end, "not before its lease ended");
    assert!(found_at - lease_end <= chrono::Duration::minutes(2), "found {} after", found_at - lease_end);
    // Its message waits the resume grace (a minute: time for a run alive after all to own the
    // job again), then runs it.
    s.drain().await;
    assert_eq!(s.job(&job.id).await.status, JobStatus::Retrying, "not before the grace");
    tokio::time::sleep(Duration::from_secs(61)).await;
    let runner = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(301)).await;
    runner.abort();
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2), "the dead run's attempt counts");
}

#[tokio::test(start_paused = true)]
async fn a_long_run_renews_its_lease_and_is_never_taken_for_dead() {
    let s = stack(Registry::default());
    let spec = NewJob {
        job_type: "sleep".into(),
        payload: json!({"seconds": 600, "steps": 1}),
        timeout_seconds: Some(900),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let running = s.spawn_drain();
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = s.clock.now();
        assert_eq!(s.scheduler.tick(now).await.expect("tick").recovered, 0, "alive, not recovered");
        let current = s.job(&job.id).await;
        if current.status == JobStatus::Processing {
            assert!(current.lease_until.is_some_and(|l| l > now), "lease renewed ahead of {now}");
        }
    }
    running.await.expect("worker");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

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
    s.service.cancel(&job.id).await.expect("cancel");
    let retried = s.service.retry(&job.id, None).await.expect("retry");
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

#[test]
fn the_release_profile_unwinds_so_a_panic_stays_in_its_job() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .expect("the workspace manifest");
    let release = manifest.split("[profile.release]").nth(1).expect("a release profile");
    let release = release.split("\n[").next().unwrap_or_default();
    let aborts = release.lines().any(|l| l.split('#').next().unwrap_or_default().contains("\"abort\""));
    assert!(!aborts, "panic = \"abort\" would end a whole batch's process on one job's panic");
}

/// An outage kept a live run from renewing, so its lease ended and the scheduler took the job
/// back: the run's next heartbeat owns it again, on the same attempt, and its outcome is recorded;
/// the recovered job's message, due after the grace, then finds it taken. Another run's write
/// still cannot.
#[tokio::test(start_paused = true)]
async fn a_run_alive_after_its_job_was_taken_back_owns_it_again_on_the_same_attempt() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    let store = &s.ports.store;
    let now = s.clock.now();
    let run =
        store.claim(&job.id, job.generation, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    let later = now + chrono::Duration::minutes(3);
    let taken = store.recover(
        &run,
        later - chrono::Duration::seconds(30),
        later,
        later + chrono::Duration::seconds(60),
    );
    let taken = taken.await.expect("taken back");
    assert_eq!((taken.status, taken.attempts), (JobStatus::Retrying, 1));

    let mut stranger = run.clone();
    stranger.run_id = Some("another-run".into());
    assert!(store.renew_lease(&stranger, later + chrono::Duration::minutes(2)).await.is_err(), "not its run");
    store.renew_lease(&run, later + chrono::Duration::minutes(2)).await.expect("the run owns it again");
    let owned = s.job(&job.id).await;
    assert_eq!((owned.status, owned.attempts), (JobStatus::Processing, 1));
    let done = store
        .finish(&run, jobq::store::RunOutcome::Completed { result: None }, None, later)
        .await
        .expect("finish");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "no attempt spent on the outage");
}

/// Issue 25, defect 1: a second message for a running job (here as an idempotency key POSTed
/// again while the job waited would send it) used to come back at every lease end without
/// being deleted, until SQS moved it to the DLQ after maxReceiveCount receives and the
/// dead-letter function failed the healthy job. A 20-minute run is ten lease periods; the copy
/// is dropped once the run is watched, and the job completes on its first attempt.
#[tokio::test(start_paused = true)]
async fn a_second_message_for_a_long_run_never_walks_toward_the_dlq() {
    let s = stack(Registry::default());
    let job = s.enqueue_long_sleep(1200, 20).await;
    let copy = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.queues.send(&copy, 0).await.expect("a second message");
    let receives_before = s.queue_requests("ReceiveMessage");
    let run = s.spawn_drain();
    let letters = jobq::dlq::DeadLetterHandler::from_ports(&s.ports);
    let dlq_arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let mut received = 0;
    while !run.is_finished() {
        tokio::time::sleep(Duration::from_secs(10)).await;
        received += s.drain().await;
        let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
        if !dead.is_empty() {
            letters.handle(jobq::worker::sqs_event(&dead, &dlq_arn, "memory")).await;
        }
    }
    run.await.expect("the run");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "{:?}", done.error);
    // Once before the run's first heartbeat (it could have been the run's own message), once
    // after, when it is dropped.
    assert!(received <= 2, "the copy was received {received} times");
    let depth = s.ports.dlqs.depth(job.tier).await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "nothing dead-lettered");
    let depth = s.ports.queues.depth(job.tier).await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "no copy left behind");
    assert!(s.queue_requests("ReceiveMessage") > receives_before);
}

/// Issue 25, defect 1: a dead letter fails a job only when its run has ended. A letter that
/// reaches the dead-letter function while a run holds the job leaves the run to finish it.
#[tokio::test(start_paused = true)]
async fn a_dead_letter_for_a_job_whose_run_is_alive_leaves_the_run_to_finish() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 200, "steps": 4})).await;
    let run = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(s.job(&job.id).await.status, JobStatus::Processing);
    let letter = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.dlqs.send(&letter, 0).await.expect("a letter SQS moved by itself");
    let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
    let arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let handler = jobq::dlq::DeadLetterHandler::from_ports(&s.ports);
    let outcome = handler.record(&jobq::worker::sqs_event(&dead, &arn, "memory").records[0]).await;
    assert_eq!(outcome.expect("recorded"), jobq::dlq::DeadLetterOutcome::RunAlive { job_id: job.id.clone() });
    run.await.expect("the run");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

/// The job's own message, hidden for the rest of the test (a test drives the deliveries).
async fn hide_enqueue_message(s: &Stack, tier: PriorityTier) {
    let received = s.ports.queues.receive(tier, 10, 0, Some(43_200)).await.expect("receive");
    assert_eq!(received.len(), 1, "the enqueue's message");
}

/// Issue 25 (found by the hostile simulation, seed 1066): a claim took effect but AWS lost its
/// answer, so the worker sent the delivery again, not knowing it had started a run. The run
/// nobody runs held the job until its lease ended and the job was claimed again, on attempt 2.
/// The delivery sent again names the run its claim may have started, and takes it over on its
/// attempt.
#[tokio::test(start_paused = true)]
async fn a_claim_whose_answer_was_lost_is_taken_over_on_its_attempt() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(&s, job.tier).await;
    let now = s.clock.now();
    let store = &s.ports.store;
    let ghost =
        store.claim_as(&job.id, job.generation, "ghost-run", now, now + chrono::Duration::seconds(60));
    assert_eq!(ghost.await.expect("the claim took effect").attempts, 1);

    let again = Envelope {
        claimed: Some("ghost-run".into()),
        ..Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
    };
    s.ports.queues.send(&again, 0).await.expect("send");
    assert_eq!(s.drain().await, 1);
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "the lost answer cost no attempt");
}

/// A job whose run "lost-run" (attempt 1) was taken back at its lease end and then claimed again
/// by the take-back's message, on attempt 2; with a delivery resuming the lost run, as the
/// worker sends one when its finish is lost to AWS.
async fn claimed_again_after_a_take_back(s: &Stack) -> (Job, Job, Envelope) {
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(s, job.tier).await;
    let store = &s.ports.store;
    let (now, minutes) = (s.clock.now(), chrono::Duration::minutes);
    let t0 = now - minutes(5);
    let lost = store.claim_as(&job.id, job.generation, "lost-run", t0, t0 + minutes(1)).await.expect("claim");
    let taken =
        store.recover(&lost, t0 + minutes(2), t0 + minutes(3), t0 + minutes(4)).await.expect("take back");
    assert_eq!(taken.status, JobStatus::Retrying);
    let second = store.claim(&job.id, job.generation, now, now + minutes(2)).await.expect("claimed again");
    assert_eq!(second.attempts, 2);
    let resume = Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
        .resuming(Some("lost-run".into()))
        .at_attempt(1);
    (job, second, resume)
}

/// Issue 25 (found by the hostile simulation, seed 1030): a run's finish was lost to a long
/// throttle; the delivery resuming it waited behind a deep queue while the scheduler took the
/// job back at its lease end, and the take-back's message claimed it first, on attempt 2. The
/// resuming delivery, finding that, gives the attempt back: the new run stands for the lost one.
#[tokio::test(start_paused = true)]
async fn a_resume_that_finds_its_job_claimed_after_the_take_back_gives_the_attempt_back() {
    let s = stack(Registry::default());
    let (job, second, resume) = claimed_again_after_a_take_back(&s).await;
    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    let running = s.job(&job.id).await;
    assert_eq!(
        (running.status, running.run_id.as_deref()),
        (JobStatus::Processing, second.run_id.as_deref())
    );
    assert_eq!(running.attempts, 1, "the attempt the take-back counted is given back");
    let outcome = jobq::store::RunOutcome::Completed { result: None };
    let done =
        s.ports.store.finish(&second, outcome, None, s.clock.now()).await.expect("the new run finishes");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));

    // The same resume delivered again gives nothing more back.
    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    assert_eq!(s.job(&job.id).await.attempts, 1);
}

/// The same, with the resuming delivery later still (held by a throttled invocation for its
/// visibility timeout, seed 1158): the run after the take-back has finished by then, and the
/// finished job is given its attempt back.
#[tokio::test(start_paused = true)]
async fn a_resume_later_than_the_run_after_the_take_back_still_gives_the_attempt_back() {
    let s = stack(Registry::default());
    let (job, second, resume) = claimed_again_after_a_take_back(&s).await;
    let (store, now) = (&s.ports.store, s.clock.now());
    store.renew_lease(&second, now + chrono::Duration::minutes(3)).await.expect("a heartbeat");
    let outcome = jobq::store::RunOutcome::Completed { result: None };
    let done = store.finish(&second, outcome, None, now).await.expect("the new run finishes");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2));

    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    let given_back = s.job(&job.id).await;
    assert_eq!((given_back.status, given_back.attempts), (JobStatus::Completed, 1));
}

/// Issue 25 (found by the hostile simulation, seeds 1024, 1121, 1180): Lambda deletes a batch's
/// messages only when the invocation returns, and the batch was hidden only a little past one
/// lease. A message dropped at once (here its job was cancelled) in a batch with a ten-minute run
/// came back every lease, a receive counted each time, until SQS moved it to the DLQ. It is now
/// deleted while the batch runs, before its hold ends.
#[tokio::test(start_paused = true)]
async fn a_message_dropped_at_once_beside_a_long_run_never_comes_back() {
    let s = stack(Registry::default());
    let long = s.enqueue_long_sleep(600, 10).await;
    let cancelled = s.enqueue("noop", json!(null)).await;
    s.service.cancel(&cancelled.id).await.expect("cancel");
    let batch = s.spawn_drain();
    let url = s.ports.queues.url(cancelled.tier).to_owned();
    let mut seen_after_its_hold = 0;
    while s.clock.now() - long.created_at < chrono::Duration::minutes(11) {
        tokio::time::sleep(Duration::from_secs(20)).await;
        // The batch's first hold ends 130 s in: by then the dropped message is gone.
        let past_hold = s.clock.now() - long.created_at > chrono::Duration::seconds(125);
        if past_hold && s.queues.bodies(&url).iter().any(|b| b.contains(&cancelled.id)) {
            seen_after_its_hold += 1;
        }
        s.drain().await;
    }
    assert_eq!(batch.await.expect("the batch ends"), 2);
    assert_eq!(seen_after_its_hold, 0, "the dropped message stayed in the queue while its batch ran");
    let done = s.job(&long.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

/// A queued job whose message reached its DLQ unjudged (Lambda's throttled invocations count
/// receives) is left queued by the dead-letter function, and the scheduler's lost-message walk
/// sends it again: it runs, on its first attempt, within the hour.
#[tokio::test(start_paused = true)]
async fn a_job_dead_lettered_before_it_ran_is_sent_again_and_runs() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(&s, job.tier).await;
    let letter = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.dlqs.send(&letter, 0).await.expect("dead-lettered");
    let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
    let arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let handler = jobq::dlq::DeadLetterHandler::from_ports(&s.ports);
    assert!(
        handler.handle(jobq::worker::sqs_event(&dead, &arn, "memory")).await.batch_item_failures.is_empty()
    );
    assert_eq!(s.job(&job.id).await.status, JobStatus::Queued, "left queued, not failed");

    let mut minutes = 0;
    while s.job(&job.id).await.status != JobStatus::Completed && minutes < 60 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        s.scheduler.tick(s.clock.now()).await.expect("tick");
        s.drain().await;
        minutes += 1;
    }
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "after {minutes} minutes");
}
