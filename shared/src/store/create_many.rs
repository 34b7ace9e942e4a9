//! Putting many fresh jobs at once (BatchWriteItem): the batch enqueue's write, unconditional,
//! beside the conditional one-job `create` of `jobs`.

use super::codec::{self, Item};
use super::unprocessed::{BATCH_ROUNDS, left_unprocessed, pause_before};
use super::write::aws;
use super::{JobStore, StoreError};
use crate::domain::model::Job;

/// BatchWriteItem's limit.
const BATCH_PUT_MAX: usize = 25;

impl JobStore {
    /// Put many new jobs without idempotency keys (fresh ids cannot collide), 25 to a request.
    /// Jobs with a key need the conditional `create` instead.
    pub async fn create_many(&self, jobs: &[Job]) -> Result<(), StoreError> {
        for chunk in jobs.chunks(BATCH_PUT_MAX) {
            let mut pending: Vec<Item> = Vec::with_capacity(chunk.len());
            for job in chunk {
                let mut stored = job.clone();
                self.spill_parts(&mut stored).await?;
                pending.push(codec::encode(&stored));
            }
            for round in 0..BATCH_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                pause_before(round).await;
                pending = self.table.batch_put(pending).await.map_err(|e| aws("BatchWriteItem", e))?;
            }
            if !pending.is_empty() {
                return Err(left_unprocessed("BatchWriteItem", "items"));
            }
        }
        Ok(())
    }
}
