//! Parts of a job too large for its item: a payload or result whose JSON exceeds [`INLINE_MAX`]
//! is kept in the bucket under [`BLOB_PREFIX`], and the item names it by key (`payload_ref`,
//! `result_ref`). Small parts stay inline, so the common path makes no bucket request.
//!
//! Every key is unique to its write (a token in the name): an object is written before the item
//! that names it, so a write that then loses its condition (a repeated idempotency key, a run
//! that lost its job) leaves an unnamed object behind, never a changed one.

use std::sync::Arc;

use serde_json::Value;

use super::write::{backoff, may_resend_blob};
use super::{JobStore, StoreError};
use crate::model::Job;
use crate::ports::blobs::{BlobError, Blobs};

/// The largest payload or result kept in the item itself, as JSON. With both at this size, the
/// bounded small fields (see [`super::bounds`]) and a pipeline, an item stays under 400 KB.
pub const INLINE_MAX: usize = 32 * 1024;
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

    /// Keep the payload of the new job `job` in the bucket when it is too large for the item.
    pub(super) async fn spill_payload(&self, job: &mut Job) -> Result<(), StoreError> {
        let body = serde_json::to_vec(&job.payload).unwrap_or_default();
        if body.len() <= INLINE_MAX {
            return Ok(());
        }
        let key = format!("{BLOB_PREFIX}{}/payload-{}.json", job.id, self.ids.token());
        self.put_blob(&job.id, "payload", &key, body).await?;
        job.spilled.payload = Some(key);
        Ok(())
    }

    /// Where `result` of a run of `job` goes: `None` inline, else the key it was stored under.
    pub(super) async fn spill_result(&self, job: &Job, result: &Value) -> Result<Option<String>, StoreError> {
        let body = serde_json::to_vec(result).unwrap_or_default();
        if body.len() <= INLINE_MAX {
            return Ok(None);
        }
        let key = format!("{BLOB_PREFIX}{}/result-{}.json", job.id, self.ids.token());
        self.put_blob(&job.id, "result", &key, body).await?;
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

    /// `job` with its payload and result read back from the bucket, as if stored inline.
    pub async fn resolve(&self, mut job: Job) -> Result<Job, StoreError> {
        if let Some(key) = job.spilled.payload.take() {
            job.payload = self.get_blob(&job.id, &key).await?;
        }
        if let Some(key) = job.spilled.result.take() {
            job.result = Some(self.get_blob(&job.id, &key).await?);
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
