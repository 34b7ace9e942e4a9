//! Progress as the domain sees it: a report, and the port a running job's reports go out through.
//! The job store implements the port on its table; unit tests record into memory.

use std::future::Future;
use std::pin::Pin;

use crate::domain::model::Job;

/// A progress report: percent, and the step and message when they change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressUpdate {
    pub percent: u8,
    pub step: Option<String>,
    pub message: Option<String>,
}

/// Why a progress report was not written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// The run no longer holds its job: cancelled, taken over, or the job is gone. The run stops.
    #[error("the run no longer holds job {id}")]
    Refused { id: String },
    /// The write failed for another reason (throttled, unreachable); a later report tries again.
    #[error("progress not written: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a running job's progress goes.
pub trait ProgressWriter: Send + Sync {
    /// Write `update` for the run `run` (the job as its claim returned it).
    fn write<'a>(
        &'a self,
        run: &'a Job,
        update: &'a ProgressUpdate,
    ) -> BoxFuture<'a, Result<(), ProgressError>>;
}
