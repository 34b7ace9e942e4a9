//! The [`Worker`] itself: what it holds and how it is built. Kept apart from its steps so that
//! each step module imports the worker, and no module imports one that imports it back.

use std::sync::Arc;

use super::pause_cache::PauseCache;
use super::queue_names::queue_name;
use super::settings::WorkerSettings;
use crate::domain::priority::{PerTier, PriorityTier};
use crate::domain::task::Registry;
use crate::ports::{Clock, Ids};
use crate::queue::TierQueues;
use crate::store::DynamoJobStore;

/// Runs the jobs of SQS batches: the ports it drives, and how it is set. Its steps are `impl`
/// blocks in their own modules (`engine`, `effects`, `heartbeat`, `large`, `settle`).
#[derive(Debug)]
pub struct Worker {
    pub(super) store: DynamoJobStore,
    pub(super) queues: TierQueues,
    pub(super) dlqs: TierQueues,
    pub(super) queue_names: PerTier<String>,
    pub(super) registry: Arc<Registry>,
    pub(super) settings: WorkerSettings,
    /// The pause flags last read, for the batches they may judge.
    pub(super) pause: PauseCache,
    /// Where record times come from. Timeouts and the ticker run on tokio's time.
    pub(super) clock: Arc<dyn Clock>,
    /// Where backoff jitter comes from (seeded in the simulation, so a run replays).
    pub(super) ids: Arc<dyn Ids>,
}

impl Worker {
    /// A worker running `registry`'s job types: jobs in `store`, their messages on the tier
    /// `queues`, dead letters to `dlqs`; record times from `clock`, backoff jitter from `ids`.
    pub fn new(
        store: DynamoJobStore,
        queues: TierQueues,
        dlqs: TierQueues,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        registry: Registry,
        settings: WorkerSettings,
    ) -> Self {
        Worker {
            queue_names: PerTier::from_fn(|t| queue_name(queues.url(t)).to_owned()),
            store,
            queues,
            dlqs,
            registry: Arc::new(registry),
            settings,
            pause: PauseCache::default(),
            clock,
            ids,
        }
    }

    /// The same worker, reading the time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same worker, drawing jitter from `ids`.
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> Self {
        self.ids = ids;
        self
    }

    pub fn store(&self) -> &DynamoJobStore {
        &self.store
    }

    /// The tier whose queue an event source ARN names.
    pub(super) fn tier_of_arn(&self, arn: &str) -> Option<PriorityTier> {
        let name = arn.rsplit(':').next()?;
        self.queue_names.iter().find(|(_, n)| n.as_str() == name).map(|(t, _)| t)
    }
}
