//! The job store's conformance cases: the same rules over the in-memory table and over DynamoDB
//! (the emulator), run by `tests/tests/conformance_store.rs` against both. Here the fixture and
//! the helpers the cases share.

mod lifecycle;
mod listing;
mod pause;
mod runs;

// The cases by what they cover; `tests/tests/conformance_store.rs` runs each by this path.
pub use lifecycle::{
    a_create_is_taken_back_only_as_it_left_the_job, a_dead_letter_leaves_a_live_run_alone,
    a_dead_letter_leaves_a_parked_job_alone, a_dead_run_is_failed_only_as_read,
    a_stale_run_cannot_write_over_a_retried_generation,
    cancel_stops_a_running_job_at_its_next_progress_write, failing_a_generation_leaves_a_retried_job_alone,
    retry_starts_a_new_generation_and_old_deliveries_are_stale,
    terminal_jobs_carry_a_ttl_from_the_configured_retention, terminal_jobs_refuse_cancel_with_a_typed_error,
};
pub use listing::{
    expired_leases_are_found_by_their_lease_end,
    list_by_status_pages_through_250_jobs_without_duplicates_or_gaps,
};
pub use pause::pause_flags_are_set_and_cleared_per_scope;
pub use runs::{
    a_retry_is_not_claimed_before_its_run_at, a_run_finishes_with_timings_and_a_retry_backs_off,
    a_run_whose_outcome_was_lost_is_taken_over_on_the_same_attempt,
    an_ended_lease_is_taken_back_never_claimed_over, idempotent_create_returns_the_first_job_in_one_request,
    two_concurrent_claims_exactly_one_wins,
};

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jobq::domain::progress::ProgressUpdate;
use jobq::ports::table::Table;
use jobq::store::JobStore;
use jobq::{Job, NewJob};
use serde_json::json;

/// A store to test, its table port, and a count of the table requests made so far.
pub struct StoreFixture {
    pub store: JobStore,
    pub table: Arc<dyn Table>,
    pub requests: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture").field("store", &self.store).finish_non_exhaustive()
    }
}

/// How long the fixtures keep terminal jobs (the TTL case checks it).
pub const RETENTION: Duration = Duration::days(2);

fn new_job(job_type: &str) -> NewJob {
    NewJob { job_type: job_type.into(), payload: json!({"n": 1}), ..NewJob::default() }
}

async fn create(store: &JobStore, spec: NewJob) -> Job {
    store.create(&Job::new(spec, Utc::now())).await.expect("create").into_job()
}

fn update(percent: u8, step: Option<&str>) -> ProgressUpdate {
    ProgressUpdate { percent, step: step.map(str::to_owned), message: None }
}

fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(30)
}
