//! A run's parts kept in the bucket: its payload read back before the handler runs (a bucket that
//! does not answer costing no attempt), and a result that cannot be stored failing the job at
//! once (sending it again would fail again).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, warn};

use super::batch::Processed;
use super::decision::{Backoff, Handled, Recording, RunDecision, decide_run};
use super::heartbeat::Held;
use super::state::Worker;
use crate::domain::envelope::Envelope;
use crate::domain::model::Job;
use crate::domain::progress::ProgressUpdate;
use crate::domain::task::JobError;
use crate::store::StoreError;

/// A claimed job's payload, as the bucket gave it.
#[derive(Debug)]
pub(super) enum Payload {
    /// In place (read back, or inline all along): run the handler.
    Read(Job),
    /// Refused (the object is gone, or access is denied): the run fails with this error.
    Refused(Job, JobError),
    /// The bucket did not answer (throttled, unavailable): the run waits, see `payload_later`.
    NotYet(Job, StoreError),
}

impl Worker {
    /// The claimed `job` with its payload. A refused read fails the job at once, saying why:
    /// sending it again meets the same refusal, so spending its other attempts would only delay
    /// the failure (once the object or the permission is back, a retry from the API runs it anew).
    pub(super) async fn with_payload(&self, job: Job) -> Payload {
        if job.spilled.payload.is_none() {
            return Payload::Read(job);
        }
        match self.store.resolve_payload(job.clone()).await {
            Ok(resolved) => Payload::Read(resolved),
            Err(err) if err.is_transient() => Payload::NotYet(job, err),
            Err(err) => {
                Payload::Refused(job, JobError::fatal(format!("the payload could not be read: {err}")))
            }
        }
    }

    /// The bucket did not answer for the payload of the run `job` (its attempt counted at claim):
    /// the delivery is sent again, a fresh delayed message as for AWS's other transient errors, to
    /// resume this very run on the same attempt (`take_over`, conditional on the job's generation
    /// and this run's token), so the hiccup costs no attempt and no step toward the DLQ. The wait
    /// doubles with each failure but ends within the run's lease, before which no other delivery
    /// can claim the job (and so spend an attempt).
    pub(super) async fn payload_later(
        &self,
        job: &Job,
        envelope: &Envelope,
        held: &Held,
        err: &StoreError,
    ) -> Processed {
        let resume = Envelope {
            again: envelope.again,
            ..Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
                .resuming(job.run_id.clone())
                .at_attempt(job.attempts)
        };
        let lease_left = job.lease_until.map(|until| until - self.clock.now()).and_then(|d| d.to_std().ok());
        let wait = self
            .settings
            .transient_wait(envelope.again)
            .min(lease_left.unwrap_or_default())
            .max(Duration::from_secs(1));
        warn!(
            error = %err,
            retry_in_seconds = wait.as_secs(),
            failed_before = envelope.again,
            "the payload could not be read; the run resumes on the same attempt"
        );
        (self.send_again(&resume.failed_again(), held.tier, &held.receipt, wait).await, None)
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
