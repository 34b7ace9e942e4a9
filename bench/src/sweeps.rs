//! What waiting and sweeping cost over time, on the in-memory ports under a manual clock (the
//! scale and the hours are out of the emulator's reach): AWS requests per paused job per hour,
//! and one scheduler run's and one dashboard refresh's requests with a million jobs retained.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jobq::adapters::memory::{MemoryQueues, MemoryTable};
use jobq::domain::task::Registry;
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::{Clock, ManualClock};
use jobq::store::{ListQuery, PauseScope};
use jobq::{Job, JobStatus, NewJob, Ports};
use serde_json::json;

use crate::figure::{self, BenchError, Result};

struct Stack {
    clock: ManualClock,
    table: MemoryTable,
    queues: Arc<MemoryQueues>,
    ports: Ports,
    service: JobService,
    worker: Worker,
    scheduler: Scheduler,
}

fn stack() -> Result<Stack> {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default());
    let (ports, aws) =
        Ports::memory(Arc::new(clock.clone())).map_err(|e| BenchError::unexpected("ports", e))?;
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types.clone());
    let settings =
        SchedulerSettings::from_lookup(|_| None).map_err(|e| BenchError::unexpected("settings", e))?;
    let scheduler =
        ports.scheduler(&aws.config, types, settings).map_err(|e| BenchError::unexpected("scheduler", e))?;
    let worker = ports.worker(registry, WorkerSettings::default());
    Ok(Stack { clock, table: aws.table, queues: aws.queues, ports, service, worker, scheduler })
}

impl Stack {
    /// (all requests, job-moving requests: writes and sends) so far, table and queues together.
    fn requests(&self) -> (u64, u64) {
        let table = self.table.requests();
        let queues = self.queues.requests().snapshot();
        let all = table.values().sum::<u64>() + queues.values().sum::<u64>();
        let writes: u64 = ["UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem"]
            .iter()
            .map(|op| table.get(*op).copied().unwrap_or(0))
            .sum();
        let sends: u64 = ["SQS:SendMessage", "SQS:SendMessageBatch"]
            .iter()
            .map(|k| queues.get(*k).copied().unwrap_or(0))
            .sum();
        (all, writes + sends)
    }
}

fn err(what: &'static str) -> impl FnOnce(jobq::handlers::service::ServiceError) -> BenchError {
    move |e| BenchError::unexpected(what, e)
}

pub async fn run() {
    match paused().await {
        Ok(line) => figure::emit(&line),
        Err(e) => figure::emit(&figure::failed("paused_job_requests_per_hour", &e)),
    }
    match tick_cost().await {
        Ok(serde_json::Value::Array(lines)) => lines.iter().for_each(figure::emit),
        Ok(line) => figure::emit(&line),
        Err(e) => figure::emit(&figure::failed("scheduler_tick_cost", &e)),
    }
    match resume_release().await {
        Ok(line) => figure::emit(&line),
        Err(e) => figure::emit(&figure::failed("resume_release", &e)),
    }
}

/// 100,000 jobs parked while paused, then resumed: scheduler runs (one a minute, each within its
/// 40 s budget, here back to back) until every parked job's message is sent, with DynamoDB
/// taking 5 ms a request.
async fn resume_release() -> Result<serde_json::Value> {
    const PARKED: usize = 100_000;
    let base = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let clock = ManualClock::new(base);
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let (ports, aws) = Ports::memory(clock.clone()).map_err(|e| BenchError::unexpected("ports", e))?;
    let types = Registry::with_builtins().job_types();
    let settings =
        SchedulerSettings::from_lookup(|_| None).map_err(|e| BenchError::unexpected("settings", e))?;
    let scheduler =
        ports.scheduler(&aws.config, types, settings).map_err(|e| BenchError::unexpected("scheduler", e))?;
    let now = clock.now();
    let jobs: Vec<Job> = (0..PARKED)
        .map(|i| {
            Job::new(NewJob { job_type: "echo".into(), payload: json!({ "n": i }), ..NewJob::default() }, now)
        })
        .collect();
    ports.store.create_many(&jobs).await.map_err(|e| BenchError::unexpected("create", e))?;
    for job in &jobs {
        ports.store.park(&job.id, 0, now).await.map_err(|e| BenchError::unexpected("park", e))?;
    }
    aws.table.set_latency(std::time::Duration::from_millis(5));
    let (mut released, mut per_run) = (0, Vec::new());
    let mut minutes = 0;
    let started = std::time::Instant::now();
    while released < PARKED && minutes < 60 {
        minutes += 1;
        let report = scheduler.tick(now + Duration::minutes(minutes)).await.map_err(err("tick"))?;
        released += report.released;
        per_run.push(report.released);
    }
    let depth: u64 = {
        let mut sent = 0;
        for tier in jobq::PriorityTier::ALL {
            let d = ports.queues.depth(tier).await.map_err(|e| BenchError::unexpected("depth", e))?;
            sent += d.visible + d.delayed;
        }
        sent
    };
    Ok(json!({
        "figure": "resume_release",
        "parked": PARKED,
        "table_latency_ms": 5,
        "scheduler_runs_to_release_all": minutes,
        "seconds_sweeping": figure::round(started.elapsed().as_secs_f64()),
        "released_per_run": per_run,
        "messages_sent": depth,
        "target_minutes": 10,
        "met": released == PARKED && minutes <= 10,
        "note": "the scheduler runs once a minute, so runs are minutes after the resume",
    }))
}

/// Requests counted at the steps of [`pause_day`]: (all, job-moving), as [`Stack::requests`].
struct PauseDay {
    before_enqueue: (u64, u64),
    enqueued: (u64, u64),
    parked: (u64, u64),
    end: (u64, u64),
}

/// `jobs` jobs of a paused type, then `hours` of the scheduler every minute and the queues
/// drained every minute.
async fn pause_day(jobs: u64, hours: i64) -> Result<PauseDay> {
    let s = stack()?;
    let scope = PauseScope::Type("echo".into());
    s.service.set_paused(&scope, true, "ops").await.map_err(err("pause"))?;
    let before_enqueue = s.requests();
    for i in 0..jobs {
        let spec = NewJob { job_type: "echo".into(), payload: json!({ "n": i }), ..NewJob::default() };
        s.service.enqueue(spec).await.map_err(err("enqueue"))?;
    }
    let enqueued = s.requests();
    drain(&s.ports.queues, &s.worker).await.map_err(|e| BenchError::unexpected("drain", e))?;
    let parked = s.requests();
    for _ in 0..(hours * 60) {
        s.clock.advance(Duration::minutes(1));
        s.scheduler.tick(s.clock.now()).await.map_err(err("tick"))?;
        drain(&s.ports.queues, &s.worker).await.map_err(|e| BenchError::unexpected("drain", e))?;
    }
    Ok(PauseDay { before_enqueue, enqueued, parked, end: s.requests() })
}

/// 1,000 jobs paused for 24 hours, against the same 24 hours with none: what the paused jobs add.
async fn paused() -> Result<serde_json::Value> {
    const JOBS: u64 = 1_000;
    const HOURS: i64 = 24;
    let day = pause_day(JOBS, HOURS).await?;
    let idle = pause_day(0, HOURS).await?;
    let job_hours = (JOBS * HOURS as u64) as f64;
    let since_enqueue = |d: &PauseDay| d.end.0 - d.enqueued.0;
    let added = since_enqueue(&day).saturating_sub(since_enqueue(&idle));
    Ok(json!({
        "figure": "paused_job_requests_per_hour",
        "jobs": JOBS,
        "hours": HOURS,
        "value": figure::round(added as f64 / job_hours),
        "unit": "AWS requests per paused job per hour, amortised (parking and the pause, less the same day with no jobs)",
        "enqueue_requests_per_job": figure::round((day.enqueued.0 - day.before_enqueue.0) as f64 / JOBS as f64),
        "park_requests_per_job": figure::round((day.parked.0 - day.enqueued.0) as f64 / JOBS as f64),
        "moving_requests_per_job_hour_while_paused": figure::round((day.end.1 - day.parked.1) as f64 / job_hours),
        "idle_stack_requests_per_hour": figure::round(since_enqueue(&idle) as f64 / HOURS as f64),
        "all_requests_per_job_hour_with_idle_stack": figure::round(since_enqueue(&day) as f64 / job_hours),
        "target_per_job_hour": 1,
        "met": (added as f64 / job_hours) <= 1.0,
        "note": "the idle stack (scheduler every minute, queues polled every minute) costs the same with or without paused jobs",
    }))
}

/// A scheduler run with 1,000,000 retained jobs: 999,000 ended, 990 due in 30 days, 10 due now.
async fn tick_cost() -> Result<serde_json::Value> {
    const RETAINED: usize = 1_000_000;
    let s = stack()?;
    let now = s.clock.now();
    let empty = tick_requests(&s, now).await?;
    let store = &s.ports.store;
    let put = |jobs: Vec<Job>| async move {
        store.create_many(&jobs).await.map_err(|e| BenchError::unexpected("create", e))
    };
    for chunk in 0..(RETAINED / 1_000) {
        let jobs: Vec<Job> = (0..1_000)
            .map(|i| {
                let spec = match (chunk, i) {
                    (0, 0..10) => noop_at(now + Duration::minutes(5)),
                    (0, 10..1000) => noop_at(now + Duration::days(30)),
                    _ => NewJob { job_type: "noop".into(), ..NewJob::default() },
                };
                let mut job = Job::new(spec, now - Duration::days(3));
                if chunk > 0 {
                    job.status = JobStatus::Completed;
                }
                job
            })
            .collect();
        put(jobs).await?;
    }
    // On a table whose jobs were created before the lost-message walk began, the first runs walk
    // them all, once (in service, each job is walked once, a period after its creation).
    let before = s.requests().0;
    let mut catch_up_runs = 0;
    loop {
        catch_up_runs += 1;
        let start = s.requests().0;
        s.scheduler.tick(now).await.map_err(err("catch-up tick"))?;
        let cost = s.requests().0 - start;
        if cost <= empty + 100 || catch_up_runs == 10 {
            break;
        }
    }
    let walked = s.requests().0 - before;
    // Ten more due in 5 minutes, created as long ago as the rest (walked past already).
    let due: Vec<Job> =
        (0..10).map(|_| Job::new(noop_at(now + Duration::minutes(6)), now - Duration::days(3))).collect();
    put(due).await?;
    let before = s.requests().0;
    let report = s.scheduler.tick(now + Duration::minutes(1)).await.map_err(err("tick"))?;
    let retained = s.requests().0 - before;
    let tick = json!({
        "figure": "scheduler_tick_cost",
        "retained_jobs": RETAINED,
        "due": report.released,
        "requests_empty_table": empty,
        "requests_with_retained": retained,
        "first_runs_walking_the_retained_once": catch_up_runs,
        "requests_walking_the_retained_once": walked,
        "walk_requests_per_job": figure::round(walked as f64 / RETAINED as f64),
        "note": "a run reads the rows due (one page per watch and shard) and the due jobs, and walks the jobs created a period before, once each; retained jobs add nothing",
    });
    let small = stack()?;
    let refresh_small = dashboard_refresh(&small).await?;
    let refresh_retained = dashboard_refresh(&s).await?;
    Ok(json!([tick, {
        "figure": "dashboard_refresh_cost",
        "retained_jobs": RETAINED,
        "requests_with_100_jobs": refresh_small,
        "requests_with_retained": refresh_retained,
        "target": "the same",
        "met": refresh_small == refresh_retained,
        "note": "GET /stats, GET /jobs?limit=20, GET /jobs?status=failed&limit=10 and one batch summary (of a batch of 100 counted from the change stream): table and queue requests",
    }]))
}

/// The requests of one dashboard refresh (what the page asks every few seconds), after a batch
/// of 100 jobs ran and the change stream was counted.
async fn dashboard_refresh(s: &Stack) -> Result<u64> {
    let feed = s.table.changes();
    let batch: Vec<NewJob> =
        (0..100).map(|_| NewJob { job_type: "noop".into(), ..NewJob::default() }).collect();
    s.service.enqueue_batch(batch, "recent").await.map_err(err("batch"))?;
    drain(&s.ports.queues, &s.worker).await.map_err(|e| BenchError::unexpected("drain", e))?;
    let counter = s.ports.counter();
    jobq::handlers::counter::drain(&counter, &feed, None)
        .await
        .map_err(|e| BenchError::unexpected("count", e))?;
    let before = s.requests().0;
    s.service.stats(None).await.map_err(err("stats"))?;
    s.service.list(&ListQuery::default(), 20, None).await.map_err(err("list"))?;
    let failed = ListQuery { status: Some(JobStatus::Failed), ..ListQuery::default() };
    s.service.list(&failed, 10, None).await.map_err(err("list failed"))?;
    let summary = s.service.batch("recent").await.map_err(err("batch summary"))?;
    if summary.total != 100 {
        return Err(BenchError::unexpected("batch summary", format!("{} jobs, not 100", summary.total)));
    }
    Ok(s.requests().0 - before)
}

fn noop_at(at: DateTime<Utc>) -> NewJob {
    NewJob { job_type: "noop".into(), run_at: Some(at), ..NewJob::default() }
}

async fn tick_requests(s: &Stack, now: DateTime<Utc>) -> Result<u64> {
    let before = s.requests().0;
    s.scheduler.tick(now).await.map_err(err("tick"))?;
    Ok(s.requests().0 - before)
}
