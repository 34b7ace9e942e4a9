//! A job created but not yet sent. An enqueue whose message cannot be sent takes its job back, so
//! a failed enqueue leaves nothing behind; but only the job as its own create left it. Another
//! enqueue of the same key that finds the job waiting, never started, and sends it a message
//! first marks it as sending ([`JobStore::mark_sending`]): a write, so the first create's
//! [`JobStore::take_back`] is refused then, and the job stays with the message the second sent.
//! Without the mark, the first could delete a job whose message had just gone out, and that
//! message would find nothing to run.

use super::attrs::{ATTEMPTS, STATUS, WRITE_TOKEN};
use super::codec::{n, s};
use super::keys;
use super::write::{Write, aws, changed};
use super::{Created, JobStore, StoreError};
use crate::domain::model::Job;
use crate::domain::status::JobStatus;
use crate::ports::table::{Cond, TableError};

/// What one create wrote, to take it back with: the job's id and the create's write token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReceipt {
    id: String,
    token: String,
}

/// `queued` with no attempt: no run has started it.
fn unstarted() -> Cond {
    Cond::eq(STATUS, s(JobStatus::Queued.as_str())).and(Cond::eq(ATTEMPTS, n(0)))
}

impl JobStore {
    /// [`JobStore::create`], with the receipt [`JobStore::take_back`] takes. (For a job that
    /// existed, the receipt takes nothing back: the item is another create's.)
    pub async fn create_undoable(&self, job: &Job) -> Result<(Created, CreateReceipt), StoreError> {
        let token = self.write_token();
        let created = self.create_as(job, &token).await?;
        Ok((created, CreateReceipt { id: job.id.clone(), token }))
    }

    /// Remove the job `receipt`'s create wrote, as that create left it: never started and not
    /// written since (a claim, a cancel, another enqueue's [`JobStore::mark_sending`]). Refused
    /// otherwise, or when the job is gone: `NotFound`.
    pub async fn take_back(&self, receipt: &CreateReceipt) -> Result<(), StoreError> {
        let as_created = unstarted().and(Cond::eq(WRITE_TOKEN, s(&receipt.token)));
        match self.table.delete(&keys::job_pk(&receipt.id), Some(&as_created)).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed { .. }) => Err(StoreError::NotFound { id: receipt.id.clone() }),
            Err(err) => Err(aws("DeleteItem", err)),
        }
    }

    /// Note that this caller sends a message to the job `id`, which never started (one write,
    /// changing only its write token): the create that made it no longer takes it back. `NotFound`
    /// when it is gone (taken back first: create it again); a `Conflict` carrying the job when a
    /// run or anything else moved it on (it needs no message).
    pub async fn mark_sending(&self, id: &str) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.condition(unstarted());
        w.returning_nothing();
        self.write(id, w, "UpdateItem(sending)", changed).await.map(drop)
    }

    /// Remove a job that never started (an enqueue whose message could not be sent), so a failed
    /// enqueue leaves nothing behind. Refused once anything has happened to the job. Only for a
    /// job no one else can know of (a fresh id): one with an idempotency key is taken back by its
    /// receipt ([`JobStore::take_back`]).
    pub async fn delete_unstarted(&self, id: &str) -> Result<(), StoreError> {
        match self.table.delete(&keys::job_pk(id), Some(&unstarted())).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed { .. }) => Err(StoreError::NotFound { id: id.to_owned() }),
            Err(err) => Err(aws("DeleteItem", err)),
        }
    }
}
