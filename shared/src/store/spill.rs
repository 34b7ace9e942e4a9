//! Parts of a job too large for its item: a payload, result or pipeline `next` whose JSON exceeds
//! [`INLINE_BUDGET`] (with a bucket; [`INLINE_MAX`] without one) is kept in the bucket under
//! [`BLOB_PREFIX`], and the item names it by key (`payload_ref`, `result_ref`, `next_ref`). Small
//! parts stay inline, so the common path makes no bucket request.
//!
//! Why so small a budget: DynamoDB charges every write by the whole item (one unit per started
//! KB of the larger of before and after), and a job's item is written at least three times
//! (create, claim, finish) plus once per progress write and heartbeat. A part of `k` KB inline
//! costs `k` units on each; in the bucket it costs one PUT (about four write units' price) and
//! a GET per run or read (a third of one). From about 2 KB the bucket is the cheaper place.
//!
//! Every key is unique to its write (a token in the name): an object is written before the item
//! that names it, so a write that then loses its condition (a repeated idempotency key, a run
//! that lost its job) leaves an unnamed object behind, never a changed one.

use std::sync::Arc;

use serde_json::Value;

use super::attrs::{NEXT_REF, PAYLOAD_REF, RESULT_REF};
use super::write::{backoff, may_resend_blob};
use super::{JobStore, StoreError};
use crate::domain::model::Job;
use crate::ports::blobs::{BlobError, Blobs};
use crate::ports::table::{Attr, Change};

/// The largest payload, result or `next` kept in the item itself, as JSON, when there is no
/// bucket for larger ones (a larger one is refused). With all three at this size and the bounded
/// small fields (see [`super::bounds`]), an item stays far under 400 KB.
pub const INLINE_MAX: usize = 32 * 1024;
/// With a bucket: the largest payload, result or `next` kept in the item, as JSON. With all three
/// at this size, the progress message at its bound and the fixed fields (about 1 KB), a job's
/// item is under 12 KB on its common writes, 2 or 3 units for a typical job; an error keeps its
/// own bounds (see [`super::bounds`]).
pub const INLINE_BUDGET: usize = 2 * 1024;
/// The largest result kept in the bucket: what a worker may hold in memory and an API
/// response carry.
pub const SPILL_MAX: usize = 5 * 1024 * 1024;
/// Where the bucket keeps job parts. Never turned into jobs by the upload notification (the
/// ingest handler skips it).
pub const BLOB_PREFIX: &str = "jobq-data/";
/// Days after which the bucket expires the objects under [`BLOB_PREFIX`] (a lifecycle rule): past
/// the longest a job may wait for its run (a year's delay) and its retention once ended, so no
/// job still names one.
pub const SPILL_EXPIRATION_DAYS: u32 = 400;

impl JobStore {
    /// The same store, keeping parts too large for an item in `blobs`.
    pub fn with_blobs(mut self, blobs: Arc<dyn Blobs>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// The same store with no bucket: a part too large for an item is refused (`Unstorable`),
    /// and one kept in a bucket cannot be read back.
    pub fn without_blobs(mut self) -> Self {
        self.blobs = None;
        self
    }

    /// Whether parts too large for an item have a bucket to go to.
    pub fn has_blobs(&self) -> bool {
        self.blobs.is_some()
    }

    /// The bucket parts too large for an item go to, if any.
    pub fn blobs(&self) -> Option<&Arc<dyn Blobs>> {
        self.blobs.as_ref()
    }

    /// The largest part kept inline: small with a bucket to put the rest in.
    fn inline_max(&self) -> usize {
        match self.blobs {
            Some(_) => INLINE_BUDGET,
            None => INLINE_MAX,
        }
    }

    /// Keep the payload and the pipeline's `next` of the new job `job` in the bucket when too
    /// large for the item. A part put before a failure of the other is deleted again.
    pub(super) async fn spill_parts(&self, job: &mut Job) -> Result<(), StoreError> {
        job.spilled.payload = self.spill(&job.id, "payload", &job.payload).await?;
        if job.next.is_empty() {
            return Ok(());
        }
        match self.spill(&job.id, "next", &job.next).await {
            Ok(key) => job.spilled.next = key,
            Err(err) => {
                self.discard_all(&job.spilled).await;
                return Err(err);
            }
        }
        Ok(())
    }

    /// Where `result` of a run of `job` goes: `None` inline, else the key it was stored under.
    pub(super) async fn spill_result(&self, job: &Job, result: &Value) -> Result<Option<String>, StoreError> {
        self.spill(&job.id, "result", result).await
    }

    /// `part` of job `id` named `field`: `None` when it stays inline, else the key it was put under.
    async fn spill(
        &self,
        id: &str,
        field: &'static str,
        part: &impl serde::Serialize,
    ) -> Result<Option<String>, StoreError> {
        let body = serde_json::to_vec(part).unwrap_or_default();
        if body.len() <= self.inline_max() {
            return Ok(None);
        }
        let key = format!("{BLOB_PREFIX}{id}/{field}-{}.json", self.ids.token());
        self.put_blob(id, field, &key, body).await?;
        Ok(Some(key))
    }

    async fn put_blob(
        &self,
        id: &str,
        field: &'static str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), StoreError> {
        let unstorable = |reason: String| StoreError::Unstorable { id: id.to_owned(), field, reason };
        let bytes = body.len();
        let Some(blobs) = &self.blobs else {
            return Err(unstorable(format!(
                "it is {bytes} bytes of JSON, over the {INLINE_MAX} a job record holds, and no bucket is configured for larger ones"
            )));
        };
        if bytes > SPILL_MAX {
            return Err(unstorable(format!("it is {bytes} bytes of JSON; the limit is {SPILL_MAX}")));
        }
        let mut round = 0;
        loop {
            round += 1;
            match blobs.put(key, body.clone()).await {
                Ok(()) => return Ok(()),
                Err(err) if may_resend_blob(round, &err) => backoff(round).await,
                Err(err) if err.is_transient() => return Err(blob_error(err)),
                Err(err) => return Err(unstorable(format!("the bucket refused it: {err}"))),
            }
        }
    }

    /// Best effort: the object under `key` is named by no job (the write naming it lost its
    /// condition), so it goes now rather than at the bucket's expiry.
    pub(super) async fn discard_blob(&self, key: &str) {
        let Some(blobs) = &self.blobs else { return };
        if let Err(err) = blobs.delete(key).await {
            tracing::warn!(error = %err, key, "could not delete an object no job names; the bucket's expiry will");
        }
    }

    /// Best effort: every object `spilled` names goes.
    pub(super) async fn discard_all(&self, spilled: &crate::domain::model::Spilled) {
        for key in spilled.keys() {
            self.discard_blob(key).await;
        }
    }

    /// Delete the objects of job items `changes` show removed: DynamoDB's TTL deleting a job past
    /// its retention, or an enqueue taken back. Named by no item any more, they go with their job
    /// rather than at the bucket's expiry. For the change stream's consumer (the counter function)
    /// to call with each batch it reads: a job with parts in the bucket costs one DeleteObject per
    /// part when it goes (S3 charges nothing for deletes); a job without, nothing. A batch read
    /// twice deletes nothing twice (deleting a missing object succeeds). Returns how many.
    pub async fn discard_removed(&self, changes: &[Change]) -> usize {
        let mut deleted = 0;
        let removed = changes.iter().filter(|c| c.new.is_none() && super::keys::id_from_pk(&c.key).is_some());
        for old in removed.filter_map(|c| c.old.as_ref()) {
            for attribute in [PAYLOAD_REF, RESULT_REF, NEXT_REF] {
                if let Some(key) =
                    old.get(attribute).and_then(Attr::as_str).filter(|k| k.starts_with(BLOB_PREFIX))
                {
                    self.discard_blob(key).await;
                    deleted += 1;
                }
            }
        }
        deleted
    }

    /// `job` with its payload, result and `next` read back from the bucket, as if stored inline.
    /// A read that lagged may name an object a later write replaced and deleted (a retry's):
    /// then the job as it is now is read back instead.
    pub async fn resolve(&self, job: Job) -> Result<Job, StoreError> {
        let (id, spilled) = (job.id.clone(), job.spilled.clone());
        match self.resolve_parts(job).await {
            Err(err) if !err.is_transient() && !spilled.is_empty() => match self.get(&id, true).await? {
                Some(now) if now.spilled != spilled => self.resolve_parts(now).await,
                _ => Err(err),
            },
            resolved => resolved,
        }
    }

    async fn resolve_parts(&self, mut job: Job) -> Result<Job, StoreError> {
        if let Some(key) = job.spilled.payload.take() {
            job.payload = self.get_blob(&job.id, &key).await?;
        }
        if let Some(key) = job.spilled.result.take() {
            job.result = Some(self.get_blob(&job.id, &key).await?);
        }
        self.resolve_next(job).await
    }

    /// `job` with its pipeline's `next` read back (what a completed job's next step needs).
    pub async fn resolve_next(&self, mut job: Job) -> Result<Job, StoreError> {
        if let Some(key) = job.spilled.next.take() {
            let next = self.get_blob(&job.id, &key).await?;
            job.next = serde_json::from_value(next).map_err(|e| StoreError::Corrupt {
                id: job.id.clone(),
                source: super::CorruptItem { attribute: "next_ref", reason: format!("{key}: {e}") },
            })?;
        }
        Ok(job)
    }

    /// `job` with its payload read back (a run needs no earlier result).
    pub async fn resolve_payload(&self, mut job: Job) -> Result<Job, StoreError> {
        if let Some(key) = job.spilled.payload.take() {
            job.payload = self.get_blob(&job.id, &key).await?;
        }
        Ok(job)
    }

    async fn get_blob(&self, id: &str, key: &str) -> Result<Value, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            id: id.to_owned(),
            source: super::CorruptItem { attribute: "payload_ref", reason },
        };
        let Some(blobs) = &self.blobs else {
            return Err(corrupt(format!("names {key} in a bucket, but no bucket is configured")));
        };
        let mut round = 0;
        let body = loop {
            round += 1;
            match blobs.get(key).await {
                Ok(body) => break body,
                Err(err) if may_resend_blob(round, &err) => backoff(round).await,
                Err(BlobError::NotFound { .. }) => {
                    return Err(corrupt(format!("{key} is not in the bucket")));
                }
                Err(err) => return Err(blob_error(err)),
            }
        };
        serde_json::from_slice(&body).map_err(|e| corrupt(format!("{key}: {e}")))
    }
}

fn blob_error(err: BlobError) -> StoreError {
    let operation = match &err {
        BlobError::NotFound { operation, .. }
        | BlobError::Transient { operation, .. }
        | BlobError::Rejected { operation, .. } => *operation,
    };
    StoreError::Aws { operation, source: Box::new(err) }
}
