//! A run's life on the in-memory ports: who owns a job while it runs, what a panic takes down,
//! how a run that died is found, and when a retry may run. Time is tokio's paused clock, which
//! the ports read through [`TokioClock`]: a simulated hour takes milliseconds.

mod dead_runs;
mod messages;
mod retries;
mod taken_back;

use std::sync::Arc;

use chrono::DateTime;
use jobq::domain::task::Registry;
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::{Clock, TokioClock};
use jobq::{Job, NewJob, Ports, PriorityTier};
use serde_json::{Value, json};

struct Stack {
    clock: Arc<dyn Clock>,
    table: jobq::adapters::memory::MemoryTable,
    queues: Arc<jobq::adapters::memory::MemoryQueues>,
    ports: Ports,
    service: JobService,
    worker: Arc<Worker>,
    scheduler: Scheduler,
}

fn stack(mut registry: Registry) -> Stack {
    let base = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(base));
    let (ports, aws) = Ports::memory(clock.clone()).expect("memory ports");
    jobq::domain::builtin::register(&mut registry);
    let types = registry.job_types();
    let service = ports.service(&aws.config, types.clone());
    let settings = SchedulerSettings::from_lookup(|_| None).expect("defaults");
    let scheduler = ports.scheduler(&aws.config, types, settings).expect("scheduler");
    let worker = Arc::new(ports.worker(registry, WorkerSettings::default()));
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

/// The job's own message, hidden for the rest of the test (a test drives the deliveries).
async fn hide_enqueue_message(s: &Stack, tier: PriorityTier) {
    let received = s.ports.queues.receive(tier, 10, 0, Some(43_200)).await.expect("receive");
    assert_eq!(received.len(), 1, "the enqueue's message");
}
