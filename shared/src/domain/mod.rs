//! The domain: jobs and their rules, with no AWS types and no I/O of their own.

pub mod builtin;
pub mod caller;
pub mod context;
pub mod envelope;
pub mod job_error;
pub mod model;
pub mod payload;
pub mod priority;
pub mod progress;
pub mod status;
pub mod task;
