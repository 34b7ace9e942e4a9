//! jobq: a priority job queue on AWS primitives.
//!
//! The job record in DynamoDB is the source of truth; SQS messages are small envelopes pointing
//! at it. Every status change goes through [`status::JobStatus::apply`] and is written with a
//! condition on the source status, so races resolve inside DynamoDB.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod api;
pub mod aws;
pub mod builtin;
pub mod config;
pub mod context;
pub mod dlq;
pub mod envelope;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod ports;
pub mod priority;
#[cfg(test)]
mod proptest_support;
pub mod provision;
pub mod queue;
pub mod requests;
pub mod resources;
pub mod runtime;
pub mod scheduler;
pub mod service;
pub mod status;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod worker;

pub use config::Config;
pub use envelope::Envelope;
pub use model::{Job, JobFailure, NewJob};
pub use priority::{PerTier, Priority, PriorityTier};
pub use status::{JobEvent, JobStatus};
