//! Messages done with while their batch still runs. Lambda deletes a batch's messages only when
//! the invocation returns, and the worker hid them only a little past one lease
//! (`hide_for_first_lease`): a message dropped at once (its job cancelled, finished, or running
//! elsewhere) in a batch with a long run would come back every lease, a receive counted each
//! time, until SQS moved it to the dead-letter queue. So while the batch runs, what is done is
//! deleted before its hold runs out, in one request per ten per period.

use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use tokio::time::Instant;
use tracing::warn;

use super::state::Worker;
use crate::domain::priority::PriorityTier;

/// Receipts of the batch's messages done with, not yet deleted.
#[derive(Debug, Default)]
pub(super) struct Done(Mutex<Vec<(PriorityTier, String)>>);

impl Done {
    pub(super) fn note(&self, tier: Option<PriorityTier>, record: &SqsMessage) {
        if let (Some(tier), Some(receipt)) = (tier, record.receipt_handle.clone())
            && let Ok(mut done) = self.0.lock()
        {
            done.push((tier, receipt));
        }
    }

    fn take(&self) -> Vec<(PriorityTier, String)> {
        self.0.lock().map(|mut done| std::mem::take(&mut *done)).unwrap_or_default()
    }
}

/// How long before a hold runs out its done messages are deleted.
const MARGIN: Duration = Duration::from_secs(10);

impl Worker {
    /// Await `batch`; meanwhile, each `period` from `first_hold_ends` (less a margin), delete the
    /// messages `done` names so far.
    pub(super) async fn settling<T>(
        &self,
        batch: impl std::future::Future<Output = T>,
        first_hold_ends: Instant,
        period: Duration,
        done: &Done,
    ) -> T {
        tokio::pin!(batch);
        let mut next = first_hold_ends.checked_sub(MARGIN).unwrap_or(first_hold_ends);
        let period = period.saturating_sub(MARGIN).max(Duration::from_secs(1));
        loop {
            tokio::select! {
                out = &mut batch => return out,
                () = tokio::time::sleep_until(next) => {
                    self.delete_done(done).await;
                    next += period;
                }
            }
        }
    }

    async fn delete_done(&self, done: &Done) {
        let done = done.take();
        for tier in PriorityTier::ALL {
            let receipts: Vec<String> =
                done.iter().filter(|(t, _)| *t == tier).map(|(_, r)| r.clone()).collect();
            if receipts.is_empty() {
                continue;
            }
            // Not deleted now, it is deleted when the invocation returns, or comes back once more.
            match self.queues.delete_batch(tier, &receipts).await {
                Ok(refused) if refused.is_empty() => {}
                Ok(refused) => warn!(refused = refused.len(), "could not delete some messages done with"),
                Err(err) => warn!(error = %err, "could not delete the messages done with"),
            }
        }
    }
}
