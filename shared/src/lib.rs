//! jobq: a priority job queue on AWS primitives.
//!
//! The job record in DynamoDB is the source of truth; SQS messages are small envelopes pointing
//! at it. Every status change goes through [`domain::status::JobStatus::apply`] and is written with a
//! condition on the source status, so races resolve inside DynamoDB.
//!
//! The crate in layers, each using only those above it:
//! - [`domain`]: jobs, statuses and their transitions, priorities, envelopes, tasks; no AWS.
//! - [`ports`]: what the handlers need from outside (table, message queues, clock) as traits,
//!   with the typed conditions and updates every job write is made of.
//! - [`store`] and [`queue`]: the job store's rules and the tier queues, over the ports.
//! - [`adapters`]: the ports on AWS ([`adapters::aws`]: DynamoDB, SQS, provisioning, request
//!   counting) and in memory ([`adapters::memory`], for tests and the simulation), held together by
//!   one conformance suite.
//! - [`handlers`]: the worker, dead-letter, ingest and scheduler handlers and the job service,
//!   each taking only the ports it uses.
//! - [`api`]: the HTTP API; [`wiring`]: the ports, on AWS or in memory, and each handler built on
//!   them; [`memory_stack`]: the service and a worker on the in-memory ports.

pub mod adapters;
pub mod api;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod memory_stack;
pub mod metrics;
pub mod ports;
#[cfg(test)]
mod proptest_support;
pub mod queue;
pub mod resources;
pub mod runtime;
pub mod store;
pub mod telemetry;
pub mod wiring;

// Every module has one path (`jobq::handlers::worker`, `jobq::domain::model`); the types most
// programs name are also at the root.
pub use config::Config;
pub use domain::envelope::Envelope;
pub use domain::model::{Job, JobFailure, NewJob};
pub use domain::priority::{PerTier, Priority, PriorityTier};
pub use domain::status::{JobEvent, JobStatus};
pub use wiring::Ports;
