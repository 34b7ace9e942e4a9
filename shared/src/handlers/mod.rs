//! The handlers: what each Lambda function (and the local host) runs, over the ports.

pub mod counter;
pub mod dlq;
pub mod enqueue;
pub mod ingest;
pub mod scheduler;
pub mod service;
pub mod worker;
