//! A pause takes effect when it answers: on the in-memory ports under tokio's paused clock, with
//! the worker's pause cache as deployed (5 s), warm from a batch just before the pause.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use jobq::adapters::memory::MemoryTable;
use jobq::domain::task::Registry;
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::{Clock, TokioClock};
use jobq::store::PauseScope;
use jobq::{Job, JobStatus, NewJob, Ports};

struct Stack {
    clock: Arc<dyn Clock>,
    table: MemoryTable,
    ports: Ports,
    service: JobService,
    worker: Worker,
    scheduler: Scheduler,
}

fn stack() -> Stack {
    let base = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(base));
    let (ports, aws) = Ports::memory(clock.clone()).expect("memory ports");
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types.clone());
    let settings = SchedulerSettings::from_lookup(|_| None).expect("defaults");
    let scheduler = ports.scheduler(&aws.config, types, settings).expect("scheduler");
    let worker = ports.worker(registry, WorkerSettings::default());
    assert_eq!(WorkerSettings::default().pause_cache, Duration::from_secs(5));
    Stack { clock, table: aws.table, ports, service, worker, scheduler }
}

impl Stack {
    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    async fn job(&self, id: &str) -> Job {
        self.service.get(id).await.expect("get").expect("exists")
    }

    async fn noop(&self) -> String {
        let spec = NewJob { job_type: "noop".into(), ..NewJob::default() };
        self.service.enqueue(spec).await.expect("enqueue").0.id
    }

    /// A `noop` job run to completion: the worker's cache now holds flags read this moment.
    async fn warm_the_cache(&self) {
        let warm = self.noop().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(self.drain().await, 1);
        assert_eq!(self.job(&warm).await.status, JobStatus::Completed);
    }

    fn pause_reads(&self) -> u64 {
        self.table.requests().get("GetItem").copied().unwrap_or(0)
    }
}

#[tokio::test(start_paused = true)]
async fn jobs_enqueued_right_after_a_pause_answered_wait_until_resume_then_run_once() {
    let s = stack();
    s.warm_the_cache().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.service.set_paused(&PauseScope::All, true, "ops").await.expect("pause");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.noop().await);
    }
    // Delivered well inside the cache's 5 s: the flags read before the pause must not serve them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.drain().await, 5);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        s.scheduler.tick(s.clock.now()).await.expect("tick");
        s.drain().await;
    }
    for id in &ids {
        let job = s.job(id).await;
        assert_eq!((job.status, job.attempts, job.started_at), (JobStatus::Queued, 0, None), "{id}");
    }

    s.service.set_paused(&PauseScope::All, false, "ops").await.expect("resume");
    assert_eq!(s.scheduler.tick(s.clock.now()).await.expect("tick").released, 5);
    assert_eq!(s.drain().await, 5);
    for id in &ids {
        let job = s.job(id).await;
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{id} ran once");
    }
}

/// A message sent before the pause answered may start under flags read before it, but only
/// within the cache's 5 s: delivered later, it waits for the resume too.
#[tokio::test(start_paused = true)]
async fn a_message_in_flight_when_the_pause_answers_waits_once_the_cache_ran_out() {
    let s = stack();
    // Sent now, delivered in 4 s: in flight (delayed) across the pause.
    let run_at = s.clock.now() + chrono::Duration::seconds(4);
    let spec = NewJob { job_type: "noop".into(), run_at: Some(run_at), ..NewJob::default() };
    let early = s.service.enqueue(spec).await.expect("enqueue").0.id;
    s.warm_the_cache().await;
    s.service.set_paused(&PauseScope::All, true, "ops").await.expect("pause");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(s.drain().await, 1);
    let job = s.job(&early).await;
    assert_eq!((job.status, job.started_at), (JobStatus::Queued, None), "parked");
}

/// A backlog (messages sent before the cached read) is judged by the cache: no read per batch.
#[tokio::test(start_paused = true)]
async fn a_backlog_sent_before_the_cached_read_costs_no_read_per_batch() {
    let s = stack();
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(s.noop().await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = s.pause_reads();
    assert_eq!(s.drain().await, 30);
    // The flags once for the whole backlog; the rest of the reads are the claims' (none: the
    // claim is an update) and nothing else.
    assert_eq!(s.pause_reads() - before, 1, "{:?}", s.table.requests());
    for id in &ids {
        assert_eq!(s.job(id).await.status, JobStatus::Completed);
    }
}
