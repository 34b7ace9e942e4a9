//! Readers of one field each: every refusal names the field, with its prefix (`jobs[3].type`).

use serde_json::{Map, Value};

use crate::api::error::ApiError;
use crate::domain::priority::Priority;

/// `field` is where the object is expected; empty for the body itself (named `body`).
pub fn object<'v>(value: &'v Value, field: &str) -> Result<&'v Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(|| {
        if field.is_empty() {
            ApiError::invalid("body", "must be a JSON object")
        } else {
            ApiError::invalid(field, "must be an object")
        }
    })
}

pub(super) fn field_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

pub(super) fn reject_unknown(
    map: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), ApiError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(&field_name(prefix, unknown), "unknown field")),
        None => Ok(()),
    }
}

pub(super) fn string(
    map: &Map<String, Value>,
    name: &str,
    prefix: &str,
    max_len: usize,
) -> Result<Option<String>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(ApiError::invalid(&field_name(prefix, name), "must not be empty"))
        }
        Some(Value::String(s)) if s.chars().count() > max_len => Err(ApiError::invalid(
            &field_name(prefix, name),
            &format!("must be at most {max_len} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(&field_name(prefix, name), "must be a string")),
    }
}

pub(super) fn integer(
    map: &Map<String, Value>,
    name: &str,
    prefix: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(ApiError::invalid(
                &field_name(prefix, name),
                &format!("must be an integer from {min} to {max}"),
            )),
        },
        Some(_) => Err(ApiError::invalid(
            &field_name(prefix, name),
            &format!("must be an integer from {min} to {max}"),
        )),
    }
}

/// A GitHub Actions run id: a number or a string of at most 64 characters (as the document
/// says, characters and not bytes), kept as a string.
pub(super) fn run_id(map: &Map<String, Value>, prefix: &str) -> Result<Option<String>, ApiError> {
    match map.get("github_workflow_run_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 64 => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            &field_name(prefix, "github_workflow_run_id"),
            "must be a run id (number or string)",
        )),
    }
}

pub fn priority(map: &Map<String, Value>, prefix: &str) -> Result<Option<Priority>, ApiError> {
    match map.get("priority") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::Number(_) | Value::String(_))) => {
            serde_json::from_value::<Priority>(v.clone()).map(Some).map_err(|_| {
                ApiError::invalid(
                    &field_name(prefix, "priority"),
                    "must be an integer 0-10 or one of \"high\", \"normal\", \"low\"",
                )
            })
        }
        Some(_) => Err(ApiError::invalid(
            &field_name(prefix, "priority"),
            "must be an integer 0-10 or one of \"high\", \"normal\", \"low\"",
        )),
    }
}
