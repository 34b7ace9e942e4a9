//! The table port's conformance suite against the in-memory table and DynamoDB on the emulator.

use std::sync::Arc;

use jobq::adapters::aws::{DynamoStreamFeed, DynamoTable};
use jobq::adapters::memory::MemoryTable;
use jobq::ports::Table;
use jobq::ports::table::ChangeFeed;
use jobq_integration_tests::TestEnv;
use jobq_integration_tests::conformance::table as cases;

fn memory() -> Arc<dyn Table> {
    Arc::new(MemoryTable::default())
}

async fn dynamodb() -> Arc<dyn Table> {
    let env = TestEnv::new().await;
    Arc::new(DynamoTable::new(env.clients.dynamodb.clone(), &env.config.table))
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $case() {
                super::cases::$case(super::memory()).await
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $case() {
                super::cases::$case(super::dynamodb().await).await
            })*
        }
    };
}

conformance!(
    a_conditional_put_is_refused_with_the_current_item,
    updates_apply_every_action_and_return_the_new_item,
    conditions_compare_as_dynamodb_does,
    an_invalid_update_is_refused_and_changes_nothing,
    an_oversize_item_is_refused_whole,
    conditional_deletes_and_batches,
    index_queries_order_limit_filter_and_continue,
    index_queries_read_a_range_with_both_ends,
);

/// Cases that read the change stream too.
mod with_changes {
    use super::*;

    #[tokio::test]
    async fn a_refused_transaction_changes_nothing_in_memory() {
        let table = MemoryTable::default();
        let feed: Arc<dyn ChangeFeed> = Arc::new(table.changes());
        cases::a_refused_transaction_changes_nothing(Arc::new(table), feed).await
    }

    #[tokio::test]
    async fn a_refused_transaction_changes_nothing_in_dynamodb() {
        let env = TestEnv::new().await;
        let table = Arc::new(DynamoTable::new(env.clients.dynamodb.clone(), &env.config.table));
        let feed: Arc<dyn ChangeFeed> = Arc::new(DynamoStreamFeed::new(&env.clients, &env.config.table));
        cases::a_refused_transaction_changes_nothing(table, feed).await
    }
}

/// Cases the emulator does not implement as DynamoDB does (see the suite's notes).
mod memory_only {
    #[tokio::test]
    async fn an_oversize_update_changes_nothing() {
        super::cases::an_oversize_update_changes_nothing(super::memory()).await
    }
}
