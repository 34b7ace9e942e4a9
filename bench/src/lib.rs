//! `make bench`: figures as JSON lines, one per figure. Never part of `make test`.
//!
//! Each figure lives in its own module; `jobq-bench FIGURE...` runs some, no argument runs all.
//! Every line has `figure`, the measured values with their `unit`, and (where the issue sets one)
//! `target` and `met`.

pub mod artifacts;
pub mod backlog;
pub mod capacity;
pub mod cold_start;
pub mod e2e;
pub mod figure;
pub mod lambda_runtime;
pub mod local_stack;
pub mod memory_aws;
pub mod priority;
pub mod requests;
pub mod sweeps;
pub mod worker_cpu;
pub mod worker_rss;
pub mod wru;
