//! The job store as the domain's progress port: a running job's reports are written to its
//! record, conditional on the run still holding it (see [`JobStore::progress`]).

use crate::domain::model::Job;
use crate::domain::progress::{BoxFuture, ProgressError, ProgressUpdate, ProgressWriter};

use super::{JobStore, StoreError};

impl ProgressWriter for JobStore {
    fn write<'a>(
        &'a self,
        run: &'a Job,
        update: &'a ProgressUpdate,
    ) -> BoxFuture<'a, Result<(), ProgressError>> {
        Box::pin(async move { self.progress(run, update).await.map_err(progress_error) })
    }
}

/// A refusal means the run lost its job (cancelled, taken over, or removed): the handler stops.
/// Anything else is a write to try again with the next report.
fn progress_error(err: StoreError) -> ProgressError {
    match err {
        StoreError::Conflict { id, .. } | StoreError::NotFound { id } => ProgressError::Refused { id },
        other => ProgressError::Failed(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;
    use crate::store::Conflict;

    #[test]
    fn a_refused_write_stops_the_run_and_a_failed_one_does_not() {
        let job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, chrono::Utc::now());
        let conflict = StoreError::Conflict {
            id: job.id.clone(),
            reason: Conflict::NotOwner { attempt: 1 },
            current: Box::new(job.clone()),
        };
        assert!(matches!(progress_error(conflict), ProgressError::Refused { id } if id == job.id));
        let gone = StoreError::NotFound { id: job.id.clone() };
        assert!(matches!(progress_error(gone), ProgressError::Refused { .. }));
        let throttled = StoreError::Aws { operation: "UpdateItem(progress)", source: "throttled".into() };
        assert!(matches!(progress_error(throttled), ProgressError::Failed(_)));
    }
}
