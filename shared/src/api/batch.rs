//! The answers to `POST /jobs/batch`. When not every job was enqueued, job by job, which exist:
//!
//! - 503 `batch_not_created`: this request left no job behind (but jobs its idempotency keys
//!   already had); the same request may be sent again.
//! - 207 `batch_incomplete`: some jobs exist and others do not; send again only the entries whose
//!   `outcome` is `not_created` (and an `unknown` one once `GET /jobs/{id}` finds no job).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::api::error::ErrorBody;
use crate::domain::model::Job;
use crate::handlers::service::{BatchReport, BatchVerdict, EntryOutcome, EntryReport};

/// Every job enqueued (201).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Batch)]
pub struct BatchCreated {
    pub batch_id: String,
    pub jobs: Vec<Job>,
}

/// A batch not enqueued whole. `error.code` is `batch_not_created` (503: this request left no
/// job behind) or `batch_incomplete` (207: some jobs exist); `error.message` says what to send
/// again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchIncomplete {
    pub error: BatchIncompleteError,
    pub batch_id: String,
    pub entries: Vec<BatchEntry>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchIncompleteError {
    pub code: BatchIncompleteCode,
    pub message: String,
    /// Always null: no one field is at fault.
    #[schema(value_type = Option<String>)]
    pub field: (),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchIncompleteCode {
    BatchNotCreated,
    BatchIncomplete,
}

/// One job of the request, by its place in `jobs`. `enqueued`: it exists and its message is on
/// the queue (or it waits scheduled, or its idempotency_key had it already). `unsent`: it exists
/// but its message is not sent yet; the scheduler sends it (JOBQ_RESEND_AFTER_SECONDS).
/// `not_created`: there is no such job; send the entry again. `unknown`: its write failed and
/// could not be undone; it may exist (GET /jobs/{id}).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchEntry {
    pub index: usize,
    /// The job's id; an entry without an idempotency_key sent again gets a new one.
    pub id: String,
    pub outcome: BatchEntryOutcome,
    /// Null when not known (outcome unknown).
    pub exists: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The job, when it exists. Left out rather than null: a plain reference, so a fuzzer
    /// follows it to the job's operations as it does a created job.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Job, required = false)]
    pub job: Option<Job>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchEntryOutcome {
    Enqueued,
    Unsent,
    NotCreated,
    Unknown,
}

/// A 503 of `POST /jobs/batch`: no job of this request was kept (`batch_not_created`, with its
/// entries), or another dependency failed (an `Error`). Written by hand: a `BatchIncomplete` is
/// an `Error` too (it has `error`), so this is an `anyOf`, and utoipa derives only `oneOf`.
#[derive(Debug)]
pub struct BatchUnavailable;

impl PartialSchema for BatchUnavailable {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(BatchIncomplete::name()))
            .item(Ref::from_schema_name(ErrorBody::name()))
            .into()
    }
}

impl ToSchema for BatchUnavailable {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in
            [(BatchIncomplete::name(), BatchIncomplete::schema()), (ErrorBody::name(), ErrorBody::schema())]
        {
            schemas.push((name.into_owned(), schema));
        }
        BatchIncomplete::schemas(schemas);
        ErrorBody::schemas(schemas);
    }
}

pub fn incomplete(report: &BatchReport) -> Response {
    let (status, code) = match report.verdict() {
        BatchVerdict::NothingCreated => {
            (StatusCode::SERVICE_UNAVAILABLE, BatchIncompleteCode::BatchNotCreated)
        }
        BatchVerdict::Partial | BatchVerdict::Complete => {
            (StatusCode::MULTI_STATUS, BatchIncompleteCode::BatchIncomplete)
        }
    };
    let body = BatchIncomplete {
        error: BatchIncompleteError { code, message: report.to_string(), field: () },
        batch_id: report.batch_id.clone(),
        entries: report.entries.iter().map(entry).collect(),
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn entry(entry: &EntryReport) -> BatchEntry {
    let outcome = match entry.outcome {
        EntryOutcome::Enqueued { .. } => BatchEntryOutcome::Enqueued,
        EntryOutcome::Unsent { .. } => BatchEntryOutcome::Unsent,
        EntryOutcome::NotCreated { .. } => BatchEntryOutcome::NotCreated,
        EntryOutcome::Unknown { .. } => BatchEntryOutcome::Unknown,
    };
    BatchEntry {
        index: entry.index,
        id: entry.id.clone(),
        outcome,
        exists: entry.outcome.exists(),
        reason: entry.outcome.reason().map(str::to_owned),
        job: entry.outcome.job().cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_codes_have_the_names_the_readme_gives() {
        let names = |values: Vec<serde_json::Value>| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        let outcomes = [
            BatchEntryOutcome::Enqueued,
            BatchEntryOutcome::Unsent,
            BatchEntryOutcome::NotCreated,
            BatchEntryOutcome::Unknown,
        ];
        let outcomes = outcomes.iter().map(|o| serde_json::json!(o)).collect();
        assert_eq!(names(outcomes), ["\"enqueued\"", "\"unsent\"", "\"not_created\"", "\"unknown\""]);
        let codes = [BatchIncompleteCode::BatchNotCreated, BatchIncompleteCode::BatchIncomplete];
        let codes = codes.iter().map(|c| serde_json::json!(c)).collect();
        assert_eq!(names(codes), ["\"batch_not_created\"", "\"batch_incomplete\""]);
    }
}
