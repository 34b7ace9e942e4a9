//! The service's own routes: statistics, metrics, pause flags, health and this API's document,
//! each with its OpenAPI operation (`#[utoipa::path]`), which the router takes its route from.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::error::ApiError;
use super::input::wire::{Scope, StatsParams};
use super::input::{self};
use super::prometheus;
use super::request::{json_body, query};
use super::state::{ApiResult, ApiState, Shared};
use crate::domain::caller::Caller;
use crate::handlers::service::{Health, ServiceError, Stats};
use crate::store::PauseFlags;

/// Counts by status, runs by type, each tier's queue, and the pause flags.
#[utoipa::path(get, path = "/stats", operation_id = "stats", params(StatsParams),
    responses(
        (status = 200, description = "statistics", body = Stats),
        (status = 401, response = ApiError), (status = 403, response = ApiError), (status = 422, response = ApiError),
        (status = 503, response = ApiError),
    ))]
pub async fn stats(
    State(state): Shared,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult {
    let params = query(params)?;
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "type") {
        return Err(ApiError::invalid(unknown, "unknown query parameter"));
    }
    let job_type = params.get("type").filter(|t| !t.is_empty());
    Ok(Json(state.service.stats(job_type.map(String::as_str)).await?).into_response())
}

/// The figures of /stats in the Prometheus (OpenMetrics) text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics",
    responses(
        (status = 200, description = "metrics", body = String, content_type = "application/openmetrics-text"),
        (status = 401, response = ApiError), (status = 403, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn metrics(State(state): Shared) -> ApiResult {
    let text = prometheus::render(&state.service.stats(None).await?);
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response())
}

/// The scopes paused now.
#[utoipa::path(get, path = "/pause", operation_id = "pauseFlags",
    responses(
        (status = 200, description = "paused scopes", body = PauseFlags),
        (status = 401, response = ApiError), (status = 403, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn pause_flags(State(state): Shared) -> ApiResult {
    Ok(Json(state.service.pause_flags().await?).into_response())
}

/// Pause all jobs, a tier's queue, or a job type.
#[utoipa::path(post, path = "/pause", operation_id = "pause", request_body = Scope,
    responses(
        (status = 200, description = "paused scopes", body = PauseFlags),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn pause(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    set_paused(&state, &caller, &headers, body, true).await
}

/// End a pause.
#[utoipa::path(post, path = "/resume", operation_id = "resume", request_body = Scope,
    responses(
        (status = 200, description = "paused scopes", body = PauseFlags),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn resume(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    set_paused(&state, &caller, &headers, body, false).await
}

async fn set_paused(
    state: &ApiState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
    paused: bool,
) -> ApiResult {
    let value = json_body(headers, body, true).await?.unwrap_or_default();
    let scope = input::scope(&value)?;
    Ok(Json(state.service.set_paused(&scope, paused, &caller.owner).await?).into_response())
}

/// Who the API takes the caller for: its owner name and role.
#[utoipa::path(get, path = "/me", operation_id = "me",
    responses(
        (status = 200, description = "the caller", body = Caller),
        (status = 401, response = ApiError), (status = 403, response = ApiError),
    ))]
pub async fn me(Extension(caller): Extension<Caller>) -> ApiResult {
    Ok(Json(caller).into_response())
}

/// Whether the table, the queues and the bucket answer.
#[utoipa::path(get, path = "/health", operation_id = "health",
    responses(
        (status = 200, description = "every dependency answers", body = Health),
        (status = 503, response = ApiError),
    ))]
pub async fn health(State(state): Shared) -> ApiResult {
    match state.service.health().await {
        Ok(health) => Ok(Json(health).into_response()),
        Err(ServiceError::Unavailable { dependency, reason }) => {
            // The reason names the resource and AWS's error chain: for the log only.
            tracing::error!(dependency, reason, "health: a dependency is unavailable");
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the {dependency} is unavailable; retry shortly"),
            );
            err.field = Some(dependency);
            Err(err)
        }
        Err(other) => Err(other.into()),
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi",
    responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_document(State(state): Shared) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], state.document.clone()).into_response()
}
