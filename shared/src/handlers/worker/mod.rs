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
//! - `state`: the [`Worker`], what it holds and how it is built;
//! - `engine`: its async steps, `effects`: the I/O they perform, `large`: payloads in the bucket;
//! - `pause_cache`: the pause flags last read, and which deliveries they may judge;
//! - `settle`: deleting messages done with while their batch still runs;
//! - `heartbeat`: while a handler runs, its progress writes and lease renewals;
//! - `decision`: pure functions that say what to do with each outcome;
//! - `batch`: what a batch adds up to (response, statistics, metrics);
//! - `polling`: what Lambda's event source mapping does, for the local poller and tests;
//! - `queue_names`: a queue's name from its URL.

mod batch;
mod decision;
mod effects;
mod engine;
mod heartbeat;
mod large;
mod pause_cache;
mod polling;
mod queue_names;
mod settings;
mod settle;
mod state;

pub use decision::{DeadLetterReason, crashed_repeatedly, run_limit};
pub use polling::{Polled, batch_response, deliver, drain, poll_once, sqs_event};
pub use queue_names::queue_name;
pub use settings::{RESUME_DELAYS, WorkerSettings};
pub use state::Worker;
