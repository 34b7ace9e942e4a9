//! Everything but job specs: bulk retry, pause scopes, external executors' updates, list queries.

use serde_json::Value;

use super::fields::{integer, object, reject_unknown, run_id, string};
use super::{MAX_ID_CHARS, MAX_SPEC_BYTES};
use crate::JobFailure;
use crate::api::error::ApiError;
use crate::domain::caller::MAX_OWNER_CHARS;
use crate::domain::status::{JobEvent, JobStatus};
use crate::store::{ExternalUpdate, PauseScope};

/// `POST /jobs/retry`: `{status: "failed" | "partial" | "cancelled", type?}`.
pub fn bulk_retry(value: &Value) -> Result<(JobStatus, Option<String>), ApiError> {
    let map = object(value, "")?;
    reject_unknown(map, &["status", "type"], "")?;
    let status = match string(map, "status", "", 32)?.as_deref().map(str::parse::<JobStatus>) {
        Some(Ok(status)) if JobStatus::sources(JobEvent::Retry).contains(&status) => status,
        Some(_) => return Err(ApiError::invalid("status", "must be one of failed, partial, cancelled")),
        None => return Err(ApiError::invalid("status", "is required")),
    };
    Ok((status, string(map, "type", "", 128)?))
}

/// `POST /pause`, `POST /resume`: `{scope}`.
pub fn scope(value: &Value) -> Result<PauseScope, ApiError> {
    let map = object(value, "")?;
    reject_unknown(map, &["scope"], "")?;
    string(map, "scope", "", 200)?
        .ok_or_else(|| ApiError::invalid("scope", "is required"))?
        .parse()
        .map_err(|e: crate::store::PauseScopeError| ApiError::invalid("scope", &e.to_string()))
}

/// `PATCH /jobs/{id}`: what an external executor reports.
pub fn external_update(value: &Value) -> Result<ExternalUpdate, ApiError> {
    let map = object(value, "")?;
    reject_unknown(
        map,
        &["status", "progress", "current_step", "message", "result", "error", "github_workflow_run_id"],
        "",
    )?;
    let event = match string(map, "status", "", 32)?.as_deref() {
        None => None,
        Some(text) => Some(match text.parse::<JobStatus>() {
            Ok(JobStatus::Processing) => JobEvent::Claim,
            Ok(JobStatus::Completed) => JobEvent::Complete,
            Ok(JobStatus::Partial) => JobEvent::CompletePartially,
            Ok(JobStatus::Failed) => JobEvent::Fail,
            Ok(JobStatus::Cancelled) => JobEvent::Cancel,
            Ok(JobStatus::Queued) => JobEvent::Retry,
            _ => {
                return Err(ApiError::invalid(
                    "status",
                    "must be one of processing, completed, partial, failed, cancelled, queued",
                ));
            }
        }),
    };
    let error = match map.get("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(message)) => Some(JobFailure { message: message.clone(), details: None }),
        Some(Value::Object(e)) => match e.get("message") {
            Some(Value::String(message)) => {
                Some(JobFailure { message: message.clone(), details: e.get("details").cloned() })
            }
            _ => return Err(ApiError::invalid("error.message", "must be a string")),
        },
        Some(_) => return Err(ApiError::invalid("error", "must be a string or {message, details}")),
    };
    let result = map.get("result").filter(|v| !v.is_null()).cloned();
    if result.as_ref().and_then(|r| serde_json::to_string(r).ok()).is_some_and(|s| s.len() > MAX_SPEC_BYTES) {
        return Err(ApiError::too_large("result", &format!("the limit is {MAX_SPEC_BYTES} bytes")));
    }
    Ok(ExternalUpdate {
        event,
        progress: integer(map, "progress", "", 0, 100)?.map(|p| p as u8),
        current_step: string(map, "current_step", "", 256)?,
        message: string(map, "message", "", 2048)?,
        result,
        error,
        github_workflow_run_id: run_id(map, "")?,
    })
}

/// A job or batch id from a path: at most [`MAX_ID_CHARS`] characters (400 naming `id`), so that
/// no read is sent that DynamoDB would refuse for its key's length.
pub fn id(id: &str) -> Result<&str, ApiError> {
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::bad_request("id", &format!("must be at most {MAX_ID_CHARS} characters")));
    }
    Ok(id)
}

/// The parameters of `GET /jobs`.
pub(super) const LIST_PARAMS: [&str; 7] = ["status", "type", "batch_id", "owner", "group", "limit", "cursor"];

/// `GET /jobs` query: status, type, batch_id, owner, group, limit (1..=500, default 50), cursor.
pub fn list_query(
    params: &std::collections::HashMap<String, String>,
) -> Result<(crate::store::ListQuery, usize, Option<String>), ApiError> {
    if let Some(unknown) = params.keys().find(|k| !LIST_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::invalid(unknown, "unknown query parameter"));
    }
    // An empty `type`, `batch_id` or `cursor` is no filter; an empty status or limit is wrong.
    let nonempty = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let status = params
        .get("status")
        .map(|s| s.parse::<JobStatus>().map_err(|e| ApiError::invalid("status", &e.to_string())))
        .transpose()?;
    let limit = match params.get("limit") {
        None => 50,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "must be an integer from 1 to 500")),
        },
    };
    for name in ["type", "batch_id", "group"] {
        if params.get(name).is_some_and(|v| v.chars().count() > MAX_ID_CHARS) {
            return Err(ApiError::invalid(name, &format!("must be at most {MAX_ID_CHARS} characters")));
        }
    }
    let cursor = nonempty("cursor");
    if let Some(c) = &cursor {
        crate::store::decode_cursor(c)
            .map_err(|_| ApiError::bad_request("cursor", "not a cursor returned by this API"))?;
    }
    if params.get("owner").is_some_and(|v| v.chars().count() > MAX_OWNER_CHARS) {
        return Err(ApiError::invalid("owner", &format!("must be at most {MAX_OWNER_CHARS} characters")));
    }
    let query = crate::store::ListQuery {
        status,
        job_type: nonempty("type"),
        batch_id: nonempty("batch_id"),
        owner: nonempty("owner"),
        group: nonempty("group"),
    };
    Ok((query, limit, cursor))
}
