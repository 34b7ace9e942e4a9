//! What SQS does with a receipt handle: change the visibility of the message it names, delete
//! it. See the module documentation of [`super`] for what a handle may name.

use chrono::{DateTime, Utc};

use super::limits::{check_count, check_visibility, invalid};
use super::{INVALID_PARAMETER, State, seconds};
use crate::ports::queue::{EntryFailure, MAX_VISIBILITY_SECONDS, QueueError, Refusal};

impl State {
    pub(super) fn change_visibility(
        &mut self,
        url: &str,
        receipt: &str,
        secs: i32,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        const OPERATION: &str = "ChangeMessageVisibility";
        check_visibility(OPERATION, secs)?;
        let queue = self.queue(OPERATION, url)?;
        let Some(index) = queue.find(receipt) else {
            return Err(QueueError::refused(
                OPERATION,
                Refusal::InvalidReceipt,
                format!("receipt {receipt:?}"),
            ));
        };
        let message = &mut queue.messages[index];
        if !message.is_in_flight(now) {
            return Err(QueueError::refused(
                OPERATION,
                Refusal::NotInFlight,
                "its visibility already ran out",
            ));
        }
        let until = now + seconds(secs);
        if message.received_at.is_some_and(|at| until > at + seconds(MAX_VISIBILITY_SECONDS)) {
            return Err(invalid(OPERATION, "hidden more than 12 hours in total".into()));
        }
        message.visible_at = until;
        Ok(())
    }

    /// Each entry as a ChangeMessageVisibility; a refusal fails that entry alone, as in SQS.
    pub(super) fn change_visibility_batch(
        &mut self,
        url: &str,
        receipts: &[String],
        secs: i32,
        now: DateTime<Utc>,
    ) -> Result<Vec<EntryFailure>, QueueError> {
        const OPERATION: &str = "ChangeMessageVisibilityBatch";
        check_count(OPERATION, receipts.len())?;
        self.queue(OPERATION, url)?;
        let mut failures = Vec::new();
        for (index, receipt) in receipts.iter().enumerate() {
            if let Err(err) = self.change_visibility(url, receipt, secs, now) {
                let code = match &err {
                    QueueError::Refused { refusal: Refusal::NotInFlight, .. } => "MessageNotInflight",
                    QueueError::Refused { refusal: Refusal::InvalidReceipt, .. } => "ReceiptHandleIsInvalid",
                    _ => INVALID_PARAMETER,
                };
                let (code, message) = (code.into(), err.to_string());
                failures.push(EntryFailure { index, code, message, sender_fault: true });
            }
        }
        Ok(failures)
    }

    pub(super) fn delete_batch(
        &mut self,
        url: &str,
        receipts: &[String],
    ) -> Result<Vec<EntryFailure>, QueueError> {
        const OPERATION: &str = "DeleteMessageBatch";
        check_count(OPERATION, receipts.len())?;
        let stale_kept = self.stale_receipts_kept;
        let queue = self.queue(OPERATION, url)?;
        let mut failures = Vec::new();
        for (index, receipt) in receipts.iter().enumerate() {
            if let Some(found) = queue.find(receipt) {
                let latest = queue.messages[found].receipts.last().is_some_and(|r| r == receipt);
                if !latest && stale_kept {
                    continue; // succeeds; the message stays
                }
                // A copy the delete missed comes back when its visibility runs out; each delete
                // misses independently and rarely, so the same message's next delete holds.
                if queue.deletes_kept > 0 && !queue.messages[found].missed_delete {
                    queue.deletes_kept -= 1;
                    queue.messages[found].missed_delete = true;
                    continue;
                }
                let message = queue.messages.remove(found);
                queue.deleted.extend(message.receipts);
            } else if !queue.deleted.contains(receipt) {
                failures.push(EntryFailure {
                    index,
                    code: "ReceiptHandleIsInvalid".into(),
                    message: format!("the receipt handle {receipt:?} is not valid"),
                    sender_fault: true,
                });
            }
        }
        Ok(failures)
    }
}
