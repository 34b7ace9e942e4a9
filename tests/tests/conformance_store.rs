//! The job store's conformance suite: the same store rules over the in-memory table and over
//! DynamoDB on the emulator.

use std::sync::Arc;

use jobq::adapters::aws::requests::total;
use jobq::adapters::memory::MemoryTable;
use jobq::ports::Table;
use jobq::store::JobStore;
use jobq_integration_tests::TestEnv;
use jobq_integration_tests::conformance::store::{self as cases, RETENTION, StoreFixture};

fn memory() -> StoreFixture {
    let memory = MemoryTable::default();
    let table: Arc<dyn Table> = Arc::new(memory.clone());
    StoreFixture {
        store: JobStore::over(table.clone(), RETENTION),
        table,
        requests: Box::new(move || memory.requests().values().sum()),
    }
}

async fn dynamodb() -> StoreFixture {
    let env = TestEnv::new().await;
    let store = JobStore::new(env.clients.dynamodb.clone(), &env.config.table, RETENTION);
    let table = store.table_port().clone();
    let requests = env.requests.clone();
    StoreFixture { store, table, requests: Box::new(move || total(&requests.snapshot(), "DynamoDB")) }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::cases::$case(super::memory()).await
            })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::cases::$case(super::dynamodb().await).await
            })*
        }
    };
}

conformance!(
    idempotent_create_returns_the_first_job_in_one_request,
    two_concurrent_claims_exactly_one_wins,
    an_ended_lease_is_taken_back_never_claimed_over,
    a_run_finishes_with_timings_and_a_retry_backs_off,
    terminal_jobs_refuse_cancel_with_a_typed_error,
    cancel_stops_a_running_job_at_its_next_progress_write,
    retry_starts_a_new_generation_and_old_deliveries_are_stale,
    list_by_status_pages_through_250_jobs_without_duplicates_or_gaps,
    pause_flags_are_set_and_cleared_per_scope,
    terminal_jobs_carry_a_ttl_from_the_configured_retention,
    failing_a_generation_leaves_a_retried_job_alone,
    a_dead_letter_leaves_a_live_run_alone,
    a_dead_letter_leaves_a_parked_job_alone,
    a_dead_run_is_failed_only_as_read,
    a_stale_run_cannot_write_over_a_retried_generation,
    a_retry_is_not_claimed_before_its_run_at,
    expired_leases_are_found_by_their_lease_end,
    a_run_whose_outcome_was_lost_is_taken_over_on_the_same_attempt,
    a_create_is_taken_back_only_as_it_left_the_job,
);
