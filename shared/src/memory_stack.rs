//! The whole queue in memory: the service and a worker on the in-memory ports, as tests and
//! benches drive it. Apart from [`crate::wiring`], which builds the ports and the handlers on them:
//! this only puts a pair of those handlers together, under a manual clock.

use std::sync::Arc;

use crate::domain::task::Registry;
use crate::handlers::service::JobService;
use crate::handlers::worker::{Worker, WorkerSettings};
use crate::ports::ManualClock;
use crate::queue::QueueError;
use crate::wiring::{MemoryAws, Ports};

/// The whole queue in memory, as tests and benches drive it: the in-memory ports under a manual
/// clock, the API service and a worker, both with `registry`'s job types.
#[derive(Debug)]
pub struct MemoryStack {
    pub clock: ManualClock,
    pub ports: Ports,
    pub aws: MemoryAws,
    pub service: JobService,
    pub worker: Worker,
}

impl MemoryStack {
    /// Starting at a fixed time, so a run is the same every time.
    pub fn new(registry: Registry) -> Result<Self, QueueError> {
        let start = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let clock = ManualClock::new(start);
        let (ports, aws) = Ports::memory(Arc::new(clock.clone()))?;
        let types = registry.job_types();
        let service = ports.service(&aws.config, types);
        let worker = ports.worker(registry, WorkerSettings::default());
        Ok(MemoryStack { clock, ports, aws, service, worker })
    }
}
