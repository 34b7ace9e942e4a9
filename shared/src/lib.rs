//! jobq: a priority job queue on AWS primitives.
//!
//! The job record in DynamoDB is the source of truth; SQS messages are small envelopes pointing
//! at it. Every status change goes through [`status::JobStatus::apply`] and is written with a
//! condition on the source status, so races resolve inside DynamoDB.
//!
//! The crate in layers, each using only those above it:
//! - [`domain`]: jobs, statuses and their transitions, priorities, envelopes, tasks; no AWS.
//! - [`ports`]: what the handlers need from outside (table, message queues, clock) as traits,
//!   with the typed conditions and updates every job write is made of.
//! - [`store`] and [`queue`]: the job store's rules and the tier queues, over the ports.
//! - [`adapters`]: the ports on AWS ([`aws`]: DynamoDB, SQS, provisioning, request counting) and in
//!   memory ([`memory`], for tests and the simulation), held together by one conformance suite.
//! - [`handlers`]: the worker, dead-letter, ingest and scheduler handlers and the job service.
//! - [`api`]: the HTTP API; [`wiring`]: the ports handlers are assembled from;
//!   [`memory_stack`]: the service and a worker on the in-memory ports.
//!
//! Every module keeps its short path (`jobq::worker`, `jobq::model`, ...).

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

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

pub use adapters::aws::{provision, requests};
pub use adapters::{aws, memory};
pub use domain::{builtin, context, envelope, model, payload, priority, status, task};
pub use handlers::{counter, dlq, ingest, scheduler, service, worker};

pub use config::Config;
pub use envelope::Envelope;
pub use model::{Job, JobFailure, NewJob};
pub use priority::{PerTier, Priority, PriorityTier};
pub use status::{JobEvent, JobStatus};
pub use wiring::Ports;
