//! Reading requests: JSON bodies and query strings, refused with the status that fits.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use serde_json::Value;

use super::error::ApiError;
use super::input;
use super::state::ApiState;

/// Whole request bodies above this are refused before parsing (API Gateway's own limit is 10 MB).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The JSON body: 413 when too large, 415 when not JSON, 400 when it does not parse.
pub async fn json_body(headers: &HeaderMap, body: Body, required: bool) -> Result<Option<Value>, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large("body", &format!("is over {MAX_BODY_BYTES} bytes")))?;
    if bytes.is_empty() {
        return if required {
            Err(ApiError::bad_request("body", "a JSON body is required"))
        } else {
            Ok(None)
        };
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" {
        let mut err = ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send Content-Type: application/json (got {content_type:?})"),
        );
        err.field = Some("Content-Type".into());
        return Err(err);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        let mut err = ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        );
        err.field = Some("body".into());
        err
    })
}

pub fn query(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    params.map(|Query(p)| p).map_err(|e| ApiError::bad_request("query", &e.body_text()))
}

pub fn rules(state: &ApiState) -> input::Rules<'_> {
    input::Rules {
        // Without a bucket, no larger than a job record holds: refused here (413), not later.
        max_payload_bytes: state.service.payload_limit(state.settings.max_payload_bytes),
        job_types: state.service.job_types(),
        now: Utc::now(),
    }
}
