//! What the service lets in. Every job is created through [`JobService`] (the API, its batch
//! route, schedules and ingest alike), so this is the one gate: a job of a type the deployment
//! does not run, or whose payload does not fit the type's input, is refused before any write.

use super::{JobService, ServiceError};
use crate::domain::model::NewJob;
use crate::domain::payload::JobTypes;

impl JobService {
    /// `spec` (of a batch, the one at `index`) and its pipeline's steps: of registered types,
    /// with payloads that fit them.
    pub(super) fn admit(&self, spec: &NewJob, index: Option<usize>) -> Result<(), ServiceError> {
        self.job_types.check_job(spec).map_err(|refusal| ServiceError::Refused { index, refusal })
    }

    /// The types accepted, with their payloads' checks and schemas.
    pub fn job_types(&self) -> &JobTypes {
        &self.job_types
    }

    /// The largest payload a job may have, as JSON: `configured`, or less when there is no
    /// bucket for payloads too large for a job record.
    pub fn payload_limit(&self, configured: usize) -> usize {
        match self.store.has_blobs() {
            true => configured,
            false => configured.min(crate::store::INLINE_MAX),
        }
    }
}
