//! The simulated deployment: the in-memory ports under tokio's paused clock, the real handlers on
//! them, and the log the simulation keeps of what it did to them (the jobs the API accepted, the
//! jobs a crash or the API touched, the dead letters seen), which the invariants read at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use jobq::adapters::memory::{MemoryBlobs, MemoryQueues, MemoryTable};
use jobq::domain::payload::JobTypes;
use jobq::domain::task::Registry;
use jobq::handlers::counter::CounterEngine;
use jobq::handlers::dlq::DeadLetterHandler;
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings};
use jobq::ports::{Clock, SeededIds, TokioClock};
use jobq::queue::TierQueues;
use jobq::store::JobStore;
use jobq::{Config, Ports, PriorityTier};

use crate::latency::{Latency, SlowBlobs, SlowQueues, SlowTable};
use crate::ownership::{Careless, InvocationIds, Witness};

/// When every simulation starts (any fixed instant: runs must not depend on the wall clock).
pub const EPOCH_SECONDS: i64 = 1_800_000_000;

/// What the simulation expects of a job it enqueued, from its type and payload alone, when no
/// crash and no operator touched it: its end, and the attempts it takes to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// `None`: completes (`noop`, `echo`, `sleep`, or `fail` that recovers within its attempts).
    /// Some: ends `failed` with this reason.
    pub fails: Option<&'static str>,
    pub attempts: u32,
}

impl Expect {
    pub fn completes(attempts: u32) -> Expect {
        Expect { fails: None, attempts }
    }

    pub fn fails(reason: &'static str, attempts: u32) -> Expect {
        Expect { fails: Some(reason), attempts }
    }
}

/// One job the API accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub expect: Expect,
    pub tier: PriorityTier,
}

/// A message that reached a dead-letter queue, as the DLQ consumer saw it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub job_id: Option<String>,
    pub reason: String,
}

/// What the simulation did, for the invariants.
#[derive(Debug, Default)]
pub struct Log {
    /// Every job the API said it accepted, by id.
    pub accepted: BTreeMap<String, Accepted>,
    /// Enqueues the API refused (AWS unavailable): the client would send them again.
    pub refused: u64,
    /// Jobs cancelled, retried or paused from the API at some point: their outcome is the API's.
    pub touched: BTreeSet<String>,
    /// Jobs whose message was in an invocation that was killed (crash or Lambda timeout).
    pub crashed: BTreeMap<String, u32>,
    /// Invocations killed, cold starts, invocations run.
    pub kills: u64,
    pub cold_starts: u64,
    pub invocations: u64,
    /// Dead letters seen, first delivery of each message only.
    pub letters: Vec<Letter>,
    /// Jobs whose messages Lambda received for an invocation it then throttled (a receive
    /// counted toward maxReceiveCount, the job not judged): a dead letter of theirs is AWS's doing.
    pub throttled_receives: BTreeSet<String>,
    pub letter_ids: BTreeSet<String>,
    /// Fault windows and events injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Longest DynamoDB or SQS unavailability injected.
    pub longest_outage: chrono::Duration,
    /// Windows in which everything was paused (a scenario's [`crate::script::Action::PauseAll`]):
    /// from the pause's answer to the resume's request.
    pub paused_all: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Request counters noted by a scenario's script, by name.
    pub snapshots: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Requests the harness itself made to set a scenario up (a retained history): not the
    /// deployment's, so left out of its budget.
    pub harness_requests: BTreeMap<String, u64>,
    /// Jobs and batches a client read at once after the API accepted them, and those the read
    /// did not find (a read that lags its own write: the caller would see 404).
    pub read_at_once: u64,
    pub unread_at_once: Vec<String>,
}

/// How long a DynamoDB transaction holds its items here: its usual latency, some tens of ms.
pub const TRANSACTION_TIME: std::time::Duration = std::time::Duration::from_millis(30);

/// The deployment and the log, shared by every simulated actor.
#[derive(Debug, Clone)]
pub struct World {
    pub clock: Arc<dyn Clock>,
    pub ports: Ports,
    pub table: MemoryTable,
    pub queues: Arc<MemoryQueues>,
    pub blobs: MemoryBlobs,
    pub config: Config,
    pub service: JobService,
    pub scheduler: Arc<Scheduler>,
    pub dlq: Arc<DeadLetterHandler>,
    pub counter: CounterEngine,
    pub log: Arc<Mutex<Log>>,
    /// Who made each change to a job item, and the ownership violations among them.
    pub witness: Arc<Witness>,
    /// The seeded latency of every port call the deployment makes ([`crate::latency`]).
    pub latency: Arc<Latency>,
    job_types: JobTypes,
    /// Every worker environment's settings.
    worker_settings: WorkerSettings,
}

impl World {
    /// A fresh deployment whose ids, write tokens and jitter come from `seed`, with the
    /// deployment's `breaks` ([`crate::Breaks::one_receive`], [`crate::Breaks::minute_retention`],
    /// [`crate::Breaks::unwatched`]).
    pub fn new(seed: u64, breaks: crate::Breaks) -> World {
        let base = DateTime::from_timestamp(EPOCH_SECONDS, 0).unwrap_or_default();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(base));
        // Creating in-memory queues fails only on a bad name: ours are fixed.
        let (ports, mut aws) = Ports::memory(clock.clone()).unwrap_or_else(|e| panic!("memory ports: {e}"));
        // Every call takes a seeded time there and back, drawn apart from the seed's other draws.
        let latency = Latency::new(seed ^ 0x6c61_7465);
        let mut ports = slowed(ports, &aws.config, &latency);
        if breaks.one_receive {
            for tier in PriorityTier::ALL {
                let url = aws.config.queues.get(tier);
                aws.queues.set_max_receive_count(url, 1).unwrap_or_else(|e| panic!("redrive: {e}"));
            }
        }
        if breaks.minute_retention {
            aws.config.retention = chrono::Duration::minutes(1);
            ports.store = JobStore::over(ports.store.table_port().clone(), aws.config.retention);
        }
        if breaks.unwatched {
            let table = Arc::new(crate::unwatched::Unwatched(ports.store.table_port().clone()));
            ports.store = JobStore::over(table, aws.config.retention);
        }
        // The bucket for payloads and results too large for a job item, as deployed.
        let blobs = MemoryBlobs::default();
        let bucket = Arc::new(SlowBlobs(Arc::new(blobs.clone()), latency.clone()));
        let ports = ports.with_blobs(bucket).with_ids(Arc::new(SeededIds::new(seed)));
        // The stream is recorded from the first write on, as DynamoDB Streams enabled at creation.
        aws.table.changes();
        // A transaction holds its items a while, and one meeting another there is cancelled
        // (`TransactionConflict`), as DynamoDB's are.
        aws.table.set_transaction_time(TRANSACTION_TIME);
        // Reads without ConsistentRead, and every index query, lag as DynamoDB's do; the lags
        // drawn from the seed, apart from its other draws.
        aws.table.set_read_lag(Some(seed ^ 0x6c61_6773));
        // DynamoDB's TTL deletes an expired item hours to two days late, each item its own while,
        // and reads see it until then (see `jobq::adapters::memory::TtlLag`).
        aws.table.set_ttl_lag(jobq::adapters::memory::TtlLag::Seeded(seed ^ 0x7474_6c00));
        // Write units by step of a job's life, for the report.
        aws.table.classify_writes(jobq::adapters::memory::capacity::job_step);
        let job_types = registry().job_types();
        let service = ports.service(&aws.config, job_types.clone());
        let scheduler = ports
            .scheduler(&aws.config, job_types.clone(), scheduler_settings())
            .unwrap_or_else(|e| panic!("the simulation's schedules: {e}"));
        World {
            clock,
            dlq: Arc::new(ports.dead_letters()),
            counter: ports.counter(),
            service,
            scheduler: Arc::new(scheduler),
            table: aws.table,
            queues: aws.queues,
            blobs,
            config: aws.config,
            ports,
            log: Arc::default(),
            witness: Arc::default(),
            latency,
            job_types,
            worker_settings: worker_settings(breaks),
        }
    }

    /// A new worker environment (a cold start): its own pause cache, as a fresh Lambda has, and
    /// its own ids, which tell the witness which invocation drew each token.
    /// `careless`: its run writes do not name their run ([`crate::ownership::Careless`]).
    pub fn cold_worker(&self, careless: bool) -> (Worker, Arc<InvocationIds>) {
        let ids = Arc::new(InvocationIds::new(self.ports.ids.clone(), self.witness.clone()));
        let mut ports = self.ports.clone();
        if careless {
            let table = Arc::new(Careless(ports.store.table_port().clone()));
            ports.store = JobStore::over(table, self.config.retention);
        }
        let ports = ports.with_ids(ids.clone());
        (ports.worker(registry(), self.worker_settings.clone()), ids)
    }

    /// A scheduler in a fresh environment: it has seen no tick before.
    pub fn cold_scheduler(&self) -> Scheduler {
        self.ports
            .scheduler(&self.config, self.job_types.clone(), scheduler_settings())
            .unwrap_or_else(|e| panic!("the simulation's schedules: {e}"))
    }

    pub fn job_types(&self) -> &JobTypes {
        &self.job_types
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `ports` with every table and queue call delayed by `latency`.
fn slowed(mut ports: Ports, config: &Config, latency: &Arc<Latency>) -> Ports {
    let table = Arc::new(SlowTable(ports.store.table_port().clone(), latency.clone()));
    ports.store = JobStore::over(table, config.retention);
    let queues: Arc<dyn jobq::queue::MessageQueue> =
        Arc::new(SlowQueues(ports.queues.port().clone(), latency.clone()));
    ports.queues = TierQueues::with_port(queues.clone(), config.queues.clone());
    ports.dlqs = TierQueues::with_port(queues, config.dlqs.clone());
    ports
}

/// The defaults, or a 3-second lease ([`crate::Breaks::chatty_leases`]).
fn worker_settings(breaks: crate::Breaks) -> WorkerSettings {
    let defaults = WorkerSettings::default();
    match breaks.chatty_leases {
        true => WorkerSettings { lease: std::time::Duration::from_secs(3), ..defaults },
        false => defaults,
    }
}

fn scheduler_settings() -> SchedulerSettings {
    SchedulerSettings::from_lookup(|_| None).unwrap_or_else(|e| panic!("defaults: {e}"))
}

/// The built-in job types: what every deployment runs.
pub fn registry() -> Registry {
    Registry::with_builtins()
}
