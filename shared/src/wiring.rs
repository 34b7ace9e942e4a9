//! How the handlers are assembled: the ports they run on, as one value. Lambda and the local host
//! use the AWS adapters ([`Ports::aws`]); tests and the simulation use the in-memory ones. A
//! user's own worker binary, the API, ingest and scheduler all take the same [`Ports`] (and the
//! same `Registry`).

use std::sync::Arc;

use crate::aws::Clients;
use crate::config::Config;
use crate::ports::clock::{self, Clock};
use crate::queue::SqsJobQueue;
use crate::store::JobStore;

#[derive(Debug, Clone)]
pub struct Ports {
    /// The job store, over its table port.
    pub store: JobStore,
    /// The tier queues.
    pub queues: SqsJobQueue,
    /// The tier queues' dead-letter queues.
    pub dlqs: SqsJobQueue,
    pub clock: Arc<dyn Clock>,
    /// For the health check of the uploads bucket (none in memory).
    pub s3: Option<aws_sdk_s3::Client>,
}

impl Ports {
    /// The AWS adapters, on the resources `config` names.
    pub fn aws(clients: &Clients, config: &Config) -> Self {
        Ports {
            store: JobStore::new(clients.dynamodb.clone(), &config.table, config.retention),
            queues: SqsJobQueue::new(clients.sqs.clone(), config.queues.clone()),
            dlqs: SqsJobQueue::new(clients.sqs.clone(), config.dlqs.clone()),
            clock: clock::system(),
            s3: Some(clients.s3.clone()),
        }
    }

    /// The same ports, reading the time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}
