//! Job specs: `POST /jobs`, `POST /jobs/batch` and `POST /jobs/{id}/retry`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::fields::{field_name, integer, object, priority, reject_unknown, run_id, string};
use super::{
    MAX_ATTEMPTS, MAX_BATCH_JOBS, MAX_DELAY_SECONDS, MAX_NEXT_STEPS, MAX_SPEC_BYTES, MAX_TIMEOUT_SECONDS,
    Rules,
};
use crate::api::error::ApiError;
use crate::domain::caller::{MAX_OWNER_CHARS, check_owner};
use crate::domain::model::{NewJob, parse_time};
use crate::domain::priority::Priority;

pub(super) const JOB_FIELDS: &[&str] = &[
    "type",
    "payload",
    "priority",
    "idempotency_key",
    "delay_seconds",
    "run_at",
    "max_attempts",
    "timeout_seconds",
    "batch_id",
    "github_workflow_run_id",
    "next",
    "owner",
    "group",
];

/// One job of `POST /jobs` (or an element of a batch or of `next`, with `prefix` like `jobs[3].`).
pub fn new_job(value: &Value, prefix: &str, rules: &Rules<'_>, depth: usize) -> Result<NewJob, ApiError> {
    let map = object(value, prefix.trim_end_matches('.'))?;
    reject_unknown(map, JOB_FIELDS, prefix)?;
    // Fields are read in this order, so the first wrong one is the one named.
    let job_type = job_type(map, prefix, rules)?;
    let payload = payload(map, prefix, rules)?;
    let run_at = run_at(map, prefix, rules)?;
    let github_workflow_run_id = run_id(map, prefix)?;
    let next = next_steps(map, prefix, rules, depth)?;
    let spec = NewJob {
        job_type,
        payload,
        priority: priority(map, prefix)?.unwrap_or_default(),
        idempotency_key: string(map, "idempotency_key", prefix, 256)?,
        max_attempts: integer(map, "max_attempts", prefix, 1, MAX_ATTEMPTS as i64)?.map(|v| v as u32),
        timeout_seconds: integer(map, "timeout_seconds", prefix, 1, MAX_TIMEOUT_SECONDS as i64)?
            .map(|v| v as u32),
        batch_id: string(map, "batch_id", prefix, 128)?,
        github_workflow_run_id,
        run_at,
        next,
        owner: owner(map, prefix, depth)?,
        group: string(map, "group", prefix, 128)?,
        system_key: false,
        // Set from the caller by the route, never read from a request.
        created_by: None,
    };
    if depth == 0 {
        let total = serde_json::to_string(&spec).map(|s| s.len()).unwrap_or(usize::MAX);
        if total > MAX_SPEC_BYTES {
            return Err(ApiError::too_large(
                &field_name(prefix, "next"),
                &format!("the job with its pipeline is {total} bytes; the limit is {MAX_SPEC_BYTES}"),
            ));
        }
    }
    Ok(spec)
}

/// Whom the job is for: only an admin may name another owner than itself (the route checks the
/// role); a pipeline step belongs to its job's owner and names none.
fn owner(map: &Map<String, Value>, prefix: &str, depth: usize) -> Result<Option<String>, ApiError> {
    let owner = string(map, "owner", prefix, MAX_OWNER_CHARS)?;
    match owner {
        Some(_) if depth > 0 => {
            Err(ApiError::invalid(&field_name(prefix, "owner"), "a pipeline step belongs to its job's owner"))
        }
        Some(owner) => match check_owner(&owner) {
            Ok(()) => Ok(Some(owner)),
            Err(err) => Err(ApiError::invalid(&field_name(prefix, "owner"), &err.to_string())),
        },
        None => Ok(None),
    }
}

fn job_type(map: &Map<String, Value>, prefix: &str, rules: &Rules<'_>) -> Result<String, ApiError> {
    let job_type = string(map, "type", prefix, 128)?
        .ok_or_else(|| ApiError::invalid(&field_name(prefix, "type"), "is required"))?;
    // The job service checks it too (with the payload); here it is named in field order.
    if !rules.job_types.contains(&job_type) {
        return Err(ApiError::invalid(
            &field_name(prefix, "type"),
            &format!("unknown job type {job_type:?}"),
        ));
    }
    Ok(job_type)
}

fn payload(map: &Map<String, Value>, prefix: &str, rules: &Rules<'_>) -> Result<Value, ApiError> {
    let payload = map.get("payload").cloned().unwrap_or(Value::Null);
    let payload_bytes = serde_json::to_string(&payload).map(|s| s.len()).unwrap_or(usize::MAX);
    if payload_bytes > rules.max_payload_bytes {
        return Err(ApiError::too_large(
            &field_name(prefix, "payload"),
            &format!("is {payload_bytes} bytes of JSON; the limit is {}", rules.max_payload_bytes),
        ));
    }
    Ok(payload)
}

/// `delay_seconds` from now, or `run_at`; not both. Either at most [`MAX_DELAY_SECONDS`] ahead.
fn run_at(
    map: &Map<String, Value>,
    prefix: &str,
    rules: &Rules<'_>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let delay = integer(map, "delay_seconds", prefix, 0, MAX_DELAY_SECONDS)?;
    match (delay, map.get("run_at")) {
        (Some(_), Some(v)) if !v.is_null() => {
            Err(ApiError::invalid(&field_name(prefix, "run_at"), "give delay_seconds or run_at, not both"))
        }
        (Some(secs), _) => Ok(Some(rules.now + Duration::seconds(secs))),
        (None, _) => match string(map, "run_at", prefix, 64)? {
            None => Ok(None),
            Some(text) => {
                let at = parse_time(&text).map_err(|_| {
                    ApiError::invalid(
                        &field_name(prefix, "run_at"),
                        "must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z",
                    )
                })?;
                if at > rules.now + Duration::seconds(MAX_DELAY_SECONDS) {
                    return Err(ApiError::invalid(
                        &field_name(prefix, "run_at"),
                        &format!("must be at most {MAX_DELAY_SECONDS} seconds ahead, as delay_seconds"),
                    ));
                }
                Ok(Some(at))
            }
        },
    }
}

/// The pipeline's later steps: only the first job lists them.
fn next_steps(
    map: &Map<String, Value>,
    prefix: &str,
    rules: &Rules<'_>,
    depth: usize,
) -> Result<Vec<NewJob>, ApiError> {
    match map.get("next") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(steps)) if depth == 0 && steps.len() <= MAX_NEXT_STEPS => steps
            .iter()
            .enumerate()
            .map(|(i, step)| new_job(step, &format!("{prefix}next[{i}]."), rules, depth + 1))
            .collect(),
        Some(Value::Array(_)) if depth > 0 => Err(ApiError::invalid(
            &field_name(prefix, "next"),
            "a step cannot have its own next; list the whole chain in the first job",
        )),
        Some(_) => Err(ApiError::invalid(
            &field_name(prefix, "next"),
            &format!("must be an array of at most {MAX_NEXT_STEPS} job specs"),
        )),
    }
}

/// `POST /jobs/batch`: `{jobs: [...], batch_id?}`.
pub fn batch(value: &Value, rules: &Rules<'_>) -> Result<(Vec<NewJob>, Option<String>), ApiError> {
    let map = object(value, "")?;
    reject_unknown(map, &["jobs", "batch_id"], "")?;
    let batch_id = string(map, "batch_id", "", 128)?;
    let jobs = match map.get("jobs") {
        Some(Value::Array(jobs)) if !jobs.is_empty() && jobs.len() <= MAX_BATCH_JOBS => jobs,
        Some(Value::Array(jobs)) if jobs.is_empty() => {
            return Err(ApiError::invalid("jobs", "must not be empty"));
        }
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid("jobs", &format!("at most {MAX_BATCH_JOBS} jobs in one batch")));
        }
        None => return Err(ApiError::invalid("jobs", "is required")),
        Some(_) => return Err(ApiError::invalid("jobs", "must be an array of job specs")),
    };
    let specs = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| new_job(job, &format!("jobs[{i}]."), rules, 0))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((i, _)) = specs.iter().enumerate().find(|(_, s)| s.batch_id.is_some()) {
        return Err(ApiError::invalid(
            &format!("jobs[{i}].batch_id"),
            "set batch_id on the batch, not on its jobs",
        ));
    }
    Ok((specs, batch_id))
}

/// `POST /jobs/{id}/retry`: `{priority?}`, or no body: a null one is none, as an optional field
/// sent as null is one left out.
pub fn retry(value: Option<&Value>) -> Result<Option<Priority>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(None) };
    let map = object(value, "")?;
    reject_unknown(map, &["priority"], "")?;
    priority(map, "")
}
