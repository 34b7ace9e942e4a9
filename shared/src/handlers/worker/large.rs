//! A run's parts kept in the bucket: its payload read back before the handler runs, and a result
//! that cannot be stored failing the job at once (sending it again would fail again).

use chrono::{DateTime, Utc};
use tracing::error;

use super::decision::{Backoff, Handled, Recording, RunDecision, decide_run};
use super::engine::Worker;
use crate::model::Job;
use crate::store::{ProgressUpdate, StoreError};
use crate::task::JobError;

impl Worker {
    /// The claimed `job` with its payload, or why the handler cannot be given it: a bucket that
    /// does not answer is a retryable failure, a payload that is gone a fatal one.
    pub(super) async fn with_payload(&self, job: Job) -> (Job, Option<JobError>) {
        if job.spilled.payload.is_none() {
            return (job, None);
        }
        match self.store.resolve_payload(job.clone()).await {
            Ok(resolved) => (resolved, None),
            Err(err) if err.is_transient() => {
                (job, Some(JobError::retryable(format!("the payload could not be read: {err}"))))
            }
            Err(err) => (job, Some(JobError::fatal(format!("the payload could not be read: {err}")))),
        }
    }

    /// Record a run's outcome. A result that cannot be stored (over the bucket's limit, no
    /// bucket, refused by it) fails the job at once with the reason instead of being retried.
    pub(super) async fn record(
        &self,
        job: &Job,
        recording: Recording,
        backoff: Backoff,
        pending: Option<&ProgressUpdate>,
        now: DateTime<Utc>,
    ) -> (Recording, Result<Job, StoreError>) {
        let finished = self.store.finish(job, recording.outcome.clone(), pending, now).await;
        let Err(StoreError::Unstorable { field, reason, .. }) = &finished else {
            return (recording, finished);
        };
        let message = format!("the {field} could not be stored: {reason}");
        error!(error = %message, "run ended with a result that cannot be stored: failing the job");
        let handled = Handled::Returned(Err(JobError::fatal(message)));
        let RunDecision::Record(failed) = decide_run(handled, job, backoff, now) else {
            return (recording, finished);
        };
        let finished = self.store.finish(job, failed.outcome.clone(), pending, now).await;
        (*failed, finished)
    }
}
