//! A handler's failure, and whether another attempt may help: what a [`Task`](super::task::Task)
//! returns and what a running job's context answers once the job is cancelled.

use serde_json::Value;

use crate::domain::model::JobFailure;

/// Whether another attempt may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Retryable,
    Fatal,
    /// The job was cancelled (or taken over) while running: stop, record nothing more.
    Cancelled,
}

/// A handler's failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub kind: ErrorKind,
    pub message: String,
    pub details: Option<Value>,
}

impl JobError {
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError { kind: ErrorKind::Retryable, message: message.into(), details: None }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        JobError { kind: ErrorKind::Fatal, message: message.into(), details: None }
    }

    pub fn cancelled() -> Self {
        JobError { kind: ErrorKind::Cancelled, message: "job was cancelled".into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }

    pub fn to_failure(&self) -> JobFailure {
        JobFailure { message: self.message.clone(), details: self.details.clone() }
    }
}
