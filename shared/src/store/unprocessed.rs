//! Batch requests (BatchGetItem, BatchWriteItem) that DynamoDB answers only in part: it returns
//! what it left unprocessed (throttled, or over the response's size), to be sent again. How often
//! and after what pause, shared by the batch reads and the batch put.

use super::StoreError;

/// Sends of one batch request while DynamoDB leaves part of it unprocessed.
pub(super) const BATCH_ROUNDS: u32 = 8;

/// A short backoff before every send of a batch request but the first.
pub(super) async fn pause_before(round: u32) {
    if round > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
    }
}

/// The error of a batch request DynamoDB still left partly unprocessed after [`BATCH_ROUNDS`].
pub(super) fn left_unprocessed(operation: &'static str, what: &str) -> StoreError {
    StoreError::Aws { operation, source: format!("{what} left unprocessed after retries").into() }
}
