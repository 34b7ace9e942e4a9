//! How the handlers are assembled: the ports they run on, as one value, and each handler built
//! from the few of them it takes. Lambda and the local host use the AWS adapters
//! ([`Ports::aws`]); tests and the simulation use the in-memory ones ([`Ports::memory`]). A
//! user's own worker binary, the API, ingest and scheduler are all built from the same [`Ports`]
//! (and the same `Registry`): `Ports::aws(&clients, &config).worker(registry, settings)`.

use std::sync::Arc;

use crate::adapters::aws::Clients;
use crate::config::{Config, ConfigError};
use crate::domain::payload::JobTypes;
use crate::domain::task::Registry;
use crate::handlers::counter::CounterEngine;
use crate::handlers::dlq::DeadLetterHandler;
use crate::handlers::scheduler::{Scheduler, SchedulerSettings};
use crate::handlers::service::JobService;
use crate::handlers::worker::{Worker, WorkerSettings};
use crate::ports::clock::{self, Clock};
use crate::ports::ids::{self, Ids};
use crate::queue::TierQueues;
use crate::store::JobStore;

#[derive(Debug, Clone)]
pub struct Ports {
    /// The job store, over its table port.
    pub store: JobStore,
    /// The tier queues.
    pub queues: TierQueues,
    /// The tier queues' dead-letter queues.
    pub dlqs: TierQueues,
    pub clock: Arc<dyn Clock>,
    /// New job ids, write tokens and jitter (seeded in the simulation, so a run replays).
    pub ids: Arc<dyn Ids>,
}

impl Ports {
    /// The AWS adapters, on the resources `config` names.
    pub fn aws(clients: &Clients, config: &Config) -> Self {
        let mut store = JobStore::new(clients.dynamodb.clone(), &config.table, config.retention);
        if let Some(bucket) = &config.bucket {
            store =
                store.with_blobs(Arc::new(crate::adapters::aws::S3Blobs::new(clients.s3.clone(), bucket)));
        }
        Ports {
            store,
            queues: TierQueues::new(clients.sqs.clone(), config.queues.clone()),
            dlqs: TierQueues::new(clients.sqs.clone(), config.dlqs.clone()),
            clock: clock::system(),
            ids: ids::random(),
        }
    }

    /// The same ports, reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same ports, keeping payloads and results too large for a job record in `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn crate::ports::Blobs>) -> Self {
        self.store = self.store.with_blobs(blobs);
        self
    }

    /// The same ports, drawing ids, write tokens and jitter from `ids` (the store's too).
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> Self {
        self.store = self.store.with_ids(ids.clone());
        self.ids = ids;
        self
    }
}

/// Each handler, from the ports it takes.
impl Ports {
    /// A worker running `registry`'s job types off the tier queues.
    pub fn worker(&self, registry: Registry, settings: WorkerSettings) -> Worker {
        let (store, queues, dlqs) = (self.store.clone(), self.queues.clone(), self.dlqs.clone());
        Worker::new(store, queues, dlqs, self.clock.clone(), self.ids.clone(), registry, settings)
    }

    /// The job service (the API's, ingest's), accepting `job_types`; `config` names the
    /// resources its health check reports.
    pub fn service(&self, config: &Config, job_types: JobTypes) -> JobService {
        let (store, queues, dlqs) = (self.store.clone(), self.queues.clone(), self.dlqs.clone());
        JobService::new(store, queues, dlqs, self.clock.clone(), self.ids.clone(), config, job_types)
    }

    /// The scheduler, enqueueing recurring jobs of `job_types` through a service of its own.
    pub fn scheduler(
        &self,
        config: &Config,
        job_types: JobTypes,
        settings: SchedulerSettings,
    ) -> Result<Scheduler, ConfigError> {
        Scheduler::new(self.service(config, job_types), settings)
    }

    /// The dead-letter handler, bringing letters it could not record back early on the DLQs (and
    /// making a completed job's missing next step on the tier queues).
    pub fn dead_letters(&self) -> DeadLetterHandler {
        let (store, queues) = (self.store.clone(), self.queues.clone());
        DeadLetterHandler::new(store, queues, self.clock.clone()).with_dead_letter_queues(self.dlqs.clone())
    }

    /// The counter, keeping the counters from the table's change stream.
    pub fn counter(&self) -> CounterEngine {
        CounterEngine::new(self.store.clone(), self.clock.clone())
    }
}

/// The in-memory adapters behind a [`Ports`], for tests and the simulation to drive and inspect.
#[derive(Debug, Clone)]
pub struct MemoryAws {
    pub table: crate::adapters::memory::MemoryTable,
    pub queues: Arc<crate::adapters::memory::MemoryQueues>,
    /// Names the memory resources as `Config::from_env` names the real ones.
    pub config: Config,
}

impl Ports {
    /// The in-memory adapters, with the resources `provision` creates on AWS: the three tier
    /// queues (visibility and redrive to their DLQs as in the template) and the table.
    pub fn memory(clock: Arc<dyn Clock>) -> Result<(Ports, MemoryAws), crate::queue::QueueError> {
        use crate::adapters::memory::{MemoryQueues, QueueSettings};
        use crate::resources::{MAX_RECEIVE_COUNT, QUEUE_VISIBILITY_TIMEOUT_SECONDS, ResourceNames};
        let names = ResourceNames::new("jobq-");
        let queues = Arc::new(MemoryQueues::new(clock.clone()));
        let visibility = i32::try_from(QUEUE_VISIBILITY_TIMEOUT_SECONDS).unwrap_or(43_200);
        let mut dlqs = crate::PerTier::from_fn(|_| String::new());
        let mut tiers = dlqs.clone();
        for tier in crate::PriorityTier::ALL {
            let dlq = queues.create_queue(&names.dlq(tier), QueueSettings::new(visibility))?;
            let settings = QueueSettings::new(visibility).with_redrive(dlq.clone(), MAX_RECEIVE_COUNT);
            *tiers.get_mut(tier) = queues.create_queue(&names.queue(tier), settings)?;
            *dlqs.get_mut(tier) = dlq;
        }
        let config = Config {
            table: names.table(),
            queues: tiers.clone(),
            dlqs: dlqs.clone(),
            ingest_queue: None,
            bucket: None,
            retention: chrono::Duration::days(7),
        };
        let table = crate::adapters::memory::MemoryTable::new(clock.clone());
        let port: Arc<dyn crate::queue::MessageQueue> = queues.clone();
        let ports = Ports {
            store: JobStore::over(Arc::new(table.clone()), config.retention),
            queues: TierQueues::with_port(port.clone(), tiers),
            dlqs: TierQueues::with_port(port, dlqs),
            clock,
            ids: ids::random(),
        };
        Ok((ports, MemoryAws { table, queues, config }))
    }
}
