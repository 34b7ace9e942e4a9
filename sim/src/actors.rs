//! The actors around the queue: API clients enqueueing a mix of built-in jobs, an operator who
//! cancels, retries, pauses and resumes at random moments, the every-minute scheduler, and the
//! counter function reading the change stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jobq::handlers::scheduler::Scheduler;
use jobq::store::{ListQuery, PauseScope};
use jobq::{JobStatus, NewJob, Priority, PriorityTier};
use serde_json::{Value, json};

use crate::world::{Accepted, Expect, World};

/// The scheduler's EventBridge rule.
pub const SCHEDULER_EVERY: Duration = Duration::from_secs(60);

/// How often the counter's event source mapping hands it the stream.
pub const COUNTER_EVERY: Duration = Duration::from_secs(5);

/// What a `fail` job that panics says (the simulation keeps these panics out of its output).
pub const SIMULATED_PANIC: &str = "a simulated bug in a handler";

/// A job drawn from the mix, and what it should come to.
pub fn draw_job(rng: &mut fastrand::Rng) -> (NewJob, Expect) {
    let roll = rng.u32(..100);
    let (job_type, payload, expect): (&str, Value, Expect) = match roll {
        0..30 => ("noop", Value::Null, Expect::completes(1)),
        30..50 => ("echo", json!({ "n": rng.u32(..1000) }), Expect::completes(1)),
        50..73 => {
            let payload = json!({ "seconds": rng.u32(1..=120), "steps": rng.u32(1..=10) });
            ("sleep", payload, Expect::completes(1))
        }
        73..75 => {
            // Runs towards Lambda's 15-minute limit, under the largest timeout the API takes.
            let spec = NewJob {
                job_type: "sleep".into(),
                payload: json!({ "seconds": rng.u32(300..=840), "steps": rng.u32(1..=10) }),
                timeout_seconds: Some(900),
                priority: Priority::new(rng.i64(0..=10)).unwrap_or_default(),
                ..NewJob::default()
            };
            return (spec, Expect::completes(1));
        }
        75..90 => {
            // Three attempts by default: fails the first `times`, then completes.
            let times = rng.u32(0..=4);
            let expect = match times {
                0..3 => Expect::completes(times + 1),
                _ => Expect::fails("attempts_exhausted", 3),
            };
            ("fail", json!({ "times": times, "seconds": rng.u32(0..=30) }), expect)
        }
        90..96 => ("fail", json!({ "retryable": false }), Expect::fails("fatal_error", 1)),
        96..98 => {
            // Overruns its timeout on every attempt: a retryable failure each time.
            let spec = NewJob {
                job_type: "sleep".into(),
                payload: json!({ "seconds": rng.u32(31..=300), "steps": rng.u32(1..=5) }),
                timeout_seconds: Some(rng.u32(5..=30)),
                priority: Priority::new(rng.i64(0..=10)).unwrap_or_default(),
                ..NewJob::default()
            };
            return (spec, Expect::fails("attempts_exhausted", 3));
        }
        _ => (
            "fail",
            json!({ "panic": true, "message": SIMULATED_PANIC }),
            Expect::fails("handler_panicked", 1),
        ),
    };
    let priority = Priority::new(rng.i64(0..=10)).unwrap_or_default();
    let spec = NewJob { job_type: job_type.into(), payload, priority, ..NewJob::default() };
    (spec, expect)
}

/// `spec` going on, one time in four, with a next step: an `echo` or a `noop` of any priority.
fn maybe_pipeline(rng: &mut fastrand::Rng, spec: NewJob) -> NewJob {
    if rng.u8(..4) != 0 {
        return spec;
    }
    let (job_type, payload) = match rng.bool() {
        true => ("echo", json!({ "n": rng.u32(..1000) })),
        false => ("noop", Value::Null),
    };
    let priority = Priority::new(rng.i64(0..=10)).unwrap_or_default();
    let next = NewJob { job_type: job_type.into(), payload, priority, ..NewJob::default() };
    NewJob { next: vec![next], ..spec }
}

/// API clients: `jobs` jobs at random moments over `over`, one at a time or in small batches;
/// some of them pipelines when `pipelines` (drawing nothing more otherwise).
pub async fn clients(world: World, mut rng: fastrand::Rng, jobs: usize, over: Duration, pipelines: bool) {
    let mean_gap = over.as_secs_f64() / jobs.max(1) as f64;
    let mut sent = 0;
    while sent < jobs {
        let gap = -mean_gap * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap.min(over.as_secs_f64()))).await;
        let size = if rng.u8(..10) == 0 { rng.usize(2..=10) } else { 1 };
        let mut draw = || match draw_job(&mut rng) {
            (spec, expect) if pipelines => (maybe_pipeline(&mut rng, spec), expect),
            drawn => drawn,
        };
        let drawn: Vec<(NewJob, Expect)> = (0..size.min(jobs - sent)).map(|_| draw()).collect();
        sent += drawn.len();
        enqueue(&world, drawn).await;
    }
}

/// Enqueue `drawn`, one alone or in a batch, and note what the API accepted or refused.
async fn enqueue(world: &World, drawn: Vec<(NewJob, Expect)>) {
    let accepted = if drawn.len() == 1 {
        let (spec, _) = drawn[0].clone();
        world.service.enqueue(spec).await.map(|(job, _)| vec![job])
    } else {
        let batch_id = world.service.new_batch_id();
        let specs = drawn.iter().map(|(s, _)| s.clone()).collect();
        world.service.enqueue_batch(specs, &batch_id).await
    };
    let mut log = world.log();
    match accepted {
        Ok(jobs) => {
            for (job, (_, expect)) in jobs.into_iter().zip(&drawn) {
                log.accepted.insert(job.id, Accepted { expect: *expect, tier: job.tier });
            }
        }
        Err(_) => log.refused += drawn.len() as u64,
    }
}

/// One run in three, a client enqueues a burst of 200 to 300 low-priority jobs of three to six
/// minutes each at some moment of the first half of `over` (issue 25, item 9): the low tier's
/// 4 invocations of 10 run 40 at a time, so its queue stays deeper than the concurrency for
/// most of an hour, and a job waits in line far past the lost-message walk's 15 minutes.
pub async fn burst(world: World, mut rng: fastrand::Rng, over: Duration) {
    if rng.u8(..3) != 0 {
        return;
    }
    tokio::time::sleep(Duration::from_secs(rng.u64(0..=over.as_secs() / 2))).await;
    let batches = rng.usize(8..=12);
    for _ in 0..batches {
        let drawn = (0..25)
            .map(|_| {
                let spec = NewJob {
                    job_type: "sleep".into(),
                    payload: json!({ "seconds": rng.u32(180..=360), "steps": 1 }),
                    timeout_seconds: Some(600),
                    priority: Priority::LOW,
                    ..NewJob::default()
                };
                (spec, Expect::completes(1))
            })
            .collect();
        enqueue(&world, drawn).await;
    }
    *world.log().faults.entry("backlog_burst").or_default() += 1;
}

/// An operator at the API: cancels and retries jobs, pauses a scope for a while and resumes it.
pub async fn operator(world: World, mut rng: fastrand::Rng, mean_gap: Duration) {
    loop {
        let gap = -mean_gap.as_secs_f64() * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        let ids: Vec<String> = world.log().accepted.keys().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        let id = ids[rng.usize(..ids.len())].clone();
        match rng.u8(..3) {
            0 => {
                world.log().touched.insert(id.clone());
                let _ = world.service.cancel(&id, "ops").await;
            }
            1 => {
                if let Ok(Some(job)) = world.service.get(&id).await
                    && matches!(job.status, JobStatus::Failed | JobStatus::Cancelled | JobStatus::Partial)
                {
                    world.log().touched.insert(id.clone());
                    let _ = world.service.retry(&id, None, "ops").await;
                }
            }
            _ => pause_for_a_while(&world, &mut rng).await,
        }
    }
}

/// An operator who cancels a running job and retries it at once (the named scenario "cancel and
/// retry while the old run is inside a long step"): the old run, still inside its handler, must
/// write nothing more once the new one claimed the job.
pub async fn restarter(world: World, mut rng: fastrand::Rng, mean_gap: Duration) {
    let running = ListQuery { status: Some(JobStatus::Processing), ..ListQuery::default() };
    loop {
        let gap = -mean_gap.as_secs_f64() * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        let Ok(page) = world.ports.store.list(&running, 20, None).await else { continue };
        if page.jobs.is_empty() {
            continue;
        }
        let id = page.jobs[rng.usize(..page.jobs.len())].id.clone();
        restart(&world, &id).await;
    }
}

/// The operator cancels a running job and retries it at once (its run goes on, unaware).
pub async fn restart(world: &World, id: &str) {
    world.log().touched.insert(id.to_owned());
    if world.service.cancel(id, "ops").await.is_ok() {
        // Refused under a throttle: the job stays cancelled, as the operator left it.
        let _ = world.service.retry(id, None, "ops").await;
    }
    *world.log().faults.entry("restart").or_default() += 1;
}

/// Every scope the operator may pause.
pub fn scopes() -> Vec<PauseScope> {
    let mut scopes = vec![PauseScope::All];
    scopes.extend(PriorityTier::ALL.map(PauseScope::Queue));
    scopes.extend(["noop", "echo", "sleep", "fail"].map(|t| PauseScope::Type(t.into())));
    scopes
}

async fn pause_for_a_while(world: &World, rng: &mut fastrand::Rng) {
    let scopes = scopes();
    let scope = scopes[rng.usize(..scopes.len())].clone();
    if world.service.set_paused(&scope, true, "ops").await.is_err() {
        return;
    }
    *world.log().faults.entry("pause").or_default() += 1;
    tokio::time::sleep(Duration::from_secs(rng.u64(60..=3600))).await;
    // Resumed until it takes: the operator sees the 503 and presses again.
    while world.service.set_paused(&scope, false, "ops").await.is_err() {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// Lift every pause (the end of the turbulent phase).
pub async fn resume_everything(world: &World) {
    for scope in scopes() {
        while world.service.set_paused(&scope, false, "ops").await.is_err() {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

/// The scheduler function's timeout, as `infra/template.yaml` deploys it.
pub const SCHEDULER_TIMEOUT: Duration = Duration::from_secs(55);

/// One EventBridge event in this many is delivered twice.
pub const DUPLICATE_TICK_ONE_IN: u32 = 30;

/// The scheduler function as EventBridge and Lambda run it (issue 25, item 1): an invocation every
/// minute whether the last one ended or not, each in a warm environment that is free or a fresh
/// one, killed at its timeout. EventBridge delivers at least once, so now and then an event comes
/// twice and two ticks overlap
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html>); a tick that
/// fails or times out is retried by Lambda's asynchronous invocation a minute later, then two
/// minutes after that
/// (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>).
/// `cold`: every tick in a fresh environment. The ticks die with this task.
pub async fn scheduler(world: World, cold: bool, mut rng: fastrand::Rng) {
    let function =
        Arc::new(SchedulerFunction { world, cold, warm: Mutex::default(), running: AtomicUsize::new(0) });
    let mut ticks = tokio::task::JoinSet::new();
    if !cold {
        function.put_warm(function.world.scheduler.clone());
    }
    loop {
        tokio::time::sleep(SCHEDULER_EVERY).await;
        while ticks.try_join_next().is_some() {}
        ticks.spawn(function.clone().invoke(Duration::ZERO));
        if rng.u32(..DUPLICATE_TICK_ONE_IN) == 0 {
            note(&function.world, "duplicate_tick");
            ticks.spawn(function.clone().invoke(Duration::from_millis(rng.u64(0..=1_000))));
        }
    }
}

/// The scheduler's environments.
struct SchedulerFunction {
    world: World,
    cold: bool,
    warm: Mutex<Vec<Arc<Scheduler>>>,
    running: AtomicUsize,
}

impl SchedulerFunction {
    fn take_warm(&self) -> Option<Arc<Scheduler>> {
        self.warm.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn put_warm(&self, scheduler: Arc<Scheduler>) {
        self.warm.lock().unwrap_or_else(PoisonError::into_inner).push(scheduler);
    }

    /// One event, `after` its moment: the first invocation and Lambda's two retries.
    async fn invoke(self: Arc<Self>, after: Duration) {
        tokio::time::sleep(after).await;
        for retry_after in [Some(60), Some(120), None] {
            if self.attempt().await {
                return;
            }
            let Some(seconds) = retry_after else { return };
            note(&self.world, "tick_retried");
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
    }

    /// One invocation; whether it succeeded.
    async fn attempt(&self) -> bool {
        let scheduler = match self.take_warm() {
            Some(warm) if !self.cold => warm,
            _ => Arc::new(self.world.cold_scheduler()),
        };
        if self.running.fetch_add(1, Ordering::SeqCst) > 0 {
            note(&self.world, "overlapping_ticks");
        }
        let ran = tokio::time::timeout(SCHEDULER_TIMEOUT, scheduler.tick(self.world.now())).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        match ran {
            Ok(answer) => {
                self.put_warm(scheduler);
                answer.is_ok()
            }
            Err(_) => {
                // Lambda ended it at its timeout; its environment starts afresh.
                note(&self.world, "tick_timed_out");
                false
            }
        }
    }
}

fn note(world: &World, what: &'static str) {
    *world.log().faults.entry(what).or_default() += 1;
}

/// How often DynamoDB's TTL process looks (it deletes what expired over the table's lag ago).
pub const TTL_EVERY: Duration = Duration::from_secs(10 * 60);

/// DynamoDB's TTL process: jobs past their retention are deleted, late, with their changes
/// streamed as any other delete.
pub async fn ttl(world: World) {
    loop {
        tokio::time::sleep(TTL_EVERY).await;
        world.table.expire();
    }
}

/// One in this many batches the counter function counted is reported failed all the same (it
/// timed out after its writes, say) and comes again.
const COUNTED_AGAIN_ONE_IN: u8 = 20;

/// The counter function as its event source mapping runs it: every shard of the stream read on
/// its own, all at once, one batch at a time per shard, each shard's poller keeping its own beat
/// ("Lambda processes each shard ... concurrently", one batch of a shard at a time with a
/// parallelization factor of 1, as the template deploys it:
/// <https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>). A batch that fails comes
/// again from where it stopped, after whatever the other shards counted meanwhile; now and then
/// one that was counted comes again too ([`COUNTED_AGAIN_ONE_IN`]).
pub async fn counter(world: World, every: Duration, mut rng: fastrand::Rng) {
    let shards = world.table.changes().shards();
    let readers: Vec<_> = shards
        .into_iter()
        .map(|shard| tokio::spawn(shard_counter(world.clone(), shard, every, rng.fork())))
        .collect();
    for reader in readers {
        let _ = reader.await;
    }
}

async fn shard_counter(world: World, shard: String, every: Duration, mut rng: fastrand::Rng) {
    let feed = crate::ownership::Observed {
        inner: world.table.changes().shard(&shard),
        witness: world.witness.clone(),
    };
    let mut after: Option<String> = None;
    loop {
        tokio::time::sleep(every + Duration::from_millis(rng.u64(..1_000))).await;
        // The shard's backlog, batch after batch, until it is read to its end or a batch fails.
        loop {
            let Ok(batch) = jobq::ports::table::ChangeFeed::read(&feed, after.as_deref(), 1_000).await else {
                break;
            };
            let Some(last) = batch.last().map(|c| c.seq.clone()) else { break };
            match world.counter.count(&batch).await {
                Ok(_) if rng.u8(..COUNTED_AGAIN_ONE_IN) == 0 => {
                    *world.log().faults.entry("counted batch again").or_default() += 1;
                    break;
                }
                Ok(_) => after = Some(last),
                Err(_) => break,
            }
        }
    }
}

/// The table's change stream as the counter reads it, shown to the ownership witness on the way.
pub fn observed(world: &World) -> crate::ownership::Observed<jobq::adapters::memory::MemoryChanges> {
    crate::ownership::Observed { inner: world.table.changes(), witness: world.witness.clone() }
}
