//! The worker engine: one SQS batch in, one partial batch response out.
//!
//! Per record: decode the envelope (poison goes to the dead-letter path), honour pause flags
//! (deferred as a fresh delayed message, so no attempt is spent and no receive counts toward the
//! DLQ), claim the job (duplicates and stale deliveries are dropped without running), run the
//! handler under a timeout with a ticker for coalesced progress and heartbeats, then finish:
//! completed / partial / failed, or retrying with a backoff as a fresh delayed message.
//! Only records that must come back are listed in the response.
//!
//! - `settings`: the tunables ([`WorkerSettings`]);
//! - `engine`: the [`Worker`] and its async steps, `effects`: the I/O they perform;
//! - `heartbeat`: while a handler runs, its progress writes and lease renewals;
//! - `decision`: pure functions that say what to do with each outcome;
//! - `batch`: what a batch adds up to (response, statistics, metrics);
//! - `polling`: what Lambda's event source mapping does, for the local poller and tests.

mod batch;
mod decision;
mod effects;
mod engine;
mod heartbeat;
mod large;
mod polling;
mod settings;
mod settle;

pub use decision::{DeadLetterReason, crashed_repeatedly, run_limit};
pub use engine::Worker;
pub use polling::{Polled, batch_response, deliver, drain, poll_once, queue_name, sqs_event};
pub use settings::WorkerSettings;
