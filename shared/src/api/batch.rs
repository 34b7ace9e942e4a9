//! The answer to `POST /jobs/batch` when not every job was enqueued: job by job, which exist.
//!
//! - 503 `batch_not_created`: this request left no job behind (but jobs its idempotency keys
//!   already had); the same request may be sent again.
//! - 207 `batch_incomplete`: some jobs exist and others do not; send again only the entries whose
//!   `outcome` is `not_created` (and an `unknown` one once `GET /jobs/{id}` finds no job).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::handlers::service::{BatchReport, BatchVerdict, EntryReport};

pub fn incomplete(report: &BatchReport) -> Response {
    let (status, code) = match report.verdict() {
        BatchVerdict::NothingCreated => (StatusCode::SERVICE_UNAVAILABLE, "batch_not_created"),
        BatchVerdict::Partial | BatchVerdict::Complete => (StatusCode::MULTI_STATUS, "batch_incomplete"),
    };
    let body = json!({
        "error": { "code": code, "message": report.to_string(), "field": null },
        "batch_id": report.batch_id,
        "entries": report.entries.iter().map(entry).collect::<Vec<_>>(),
    });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn entry(entry: &EntryReport) -> Value {
    let mut value = json!({
        "index": entry.index,
        "id": entry.id,
        "outcome": entry.outcome.as_str(),
        "exists": entry.outcome.exists(),
    });
    if let Some(reason) = entry.outcome.reason() {
        value["reason"] = json!(reason);
    }
    if let Some(job) = entry.outcome.job() {
        value["job"] = json!(job);
    }
    value
}
