//! Attribute names of a job item (the key attributes are in [`super::keys`]).

pub const ID: &str = "id";
pub const TYPE: &str = "type";
pub const PAYLOAD: &str = "payload";
pub const PRIORITY: &str = "priority";
pub const TIER: &str = "tier";
pub const STATUS: &str = "status";
pub const ATTEMPTS: &str = "attempts";
pub const MAX_ATTEMPTS: &str = "max_attempts";
pub const PROGRESS: &str = "progress";
pub const CURRENT_STEP: &str = "current_step";
pub const MESSAGE: &str = "message";
pub const RESULT: &str = "result";
/// The bucket key of a payload too large for the item (then `payload` is absent).
pub const PAYLOAD_REF: &str = "payload_ref";
/// The bucket key of a result too large for the item (then `result` is absent).
pub const RESULT_REF: &str = "result_ref";
pub const ERROR: &str = "error";
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
pub const OWNER: &str = "owner";
pub const GROUP: &str = "grp";
pub const BATCH_ID: &str = "batch_id";
/// The audit trail ([`crate::domain::model::Audit`]): who, and when in epoch milliseconds.
pub const CREATED_BY: &str = "created_by";
pub const CANCELLED_BY: &str = "cancelled_by";
pub const CANCELLED_MS: &str = "cancelled_ms";
pub const RETRIED_BY: &str = "retried_by";
pub const RETRIED_MS: &str = "retried_ms";
pub const PATCHED_BY: &str = "patched_by";
pub const PATCHED_MS: &str = "patched_ms";
pub const GITHUB_RUN_ID: &str = "gh_run_id";
pub const TIMEOUT: &str = "timeout_s";
pub const GENERATION: &str = "gen";
pub const CREATED_AT: &str = "created_at";
pub const RUN_AT: &str = "run_at";
pub const STARTED_AT: &str = "started_at";
pub const COMPLETED_AT: &str = "completed_at";
pub const DURATION_MS: &str = "duration_ms";
pub const WAIT_MS: &str = "wait_ms";
/// The end of the current run's lease, in epoch milliseconds.
pub const LEASE: &str = "lease_ms";
/// The token of the job's current (or last) run: every write a run makes names it, so a run that
/// was cancelled, retried or taken over can no longer write.
pub const RUN: &str = "run";
/// When a lost message was last sent again, in epoch milliseconds.
pub const RESENT: &str = "resent_ms";
/// The run the scheduler took a `retrying` job back from (its lease had ended): that run, if it
/// is alive after all (an outage kept it from renewing), owns the job again with its next write.
pub const RECOVERED_RUN: &str = "recovered_run";
pub const NEXT: &str = "next";
/// The bucket key of a pipeline's `next` too large for the item (then `next` is absent).
pub const NEXT_REF: &str = "next_ref";
/// The token of the last write to a job item (see `write.rs`).
pub const WRITE_TOKEN: &str = "wtok";
/// The pause item's string set of paused scopes.
pub const PAUSE_SCOPES: &str = "scopes";
