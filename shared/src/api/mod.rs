//! The HTTP API, written once as an axum `Router`: the API Lambda runs it under `lambda_http`
//! (API Gateway HTTP API, payload v2), the local stack under a plain HTTP server.

pub mod access;
mod batch;
pub mod dashboard;
pub mod error;
pub mod identity;
pub mod input;
pub mod openapi;
pub mod prometheus;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

pub use error::ApiError;

use crate::config::{ConfigError, Vars, process_env};
use crate::handlers::service::{JobService, RetryAllReport, ServiceError};

/// Every route, as `(method, path)`: the OpenAPI document must list exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/batches/{id}"),
    ("get", "/dashboard"),
    ("get", "/health"),
    ("get", "/jobs"),
    ("get", "/jobs/{id}"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/pause"),
    ("get", "/stats"),
    ("patch", "/jobs/{id}"),
    ("post", "/jobs"),
    ("post", "/jobs/batch"),
    ("post", "/jobs/retry"),
    ("post", "/jobs/{id}/cancel"),
    ("post", "/jobs/{id}/retry"),
    ("post", "/pause"),
    ("post", "/resume"),
];

/// Whole request bodies above this are refused before parsing (API Gateway's own limit is 10 MB).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `JOBQ_API_TOKEN`: when set, every route but `/health` and `/openapi.json` needs
    /// `Authorization: Bearer <token>` (in AWS, API Gateway's IAM or JWT authorizer guards the API).
    pub token: Option<String>,
    /// `JOBQ_MAX_PAYLOAD_BYTES`: the largest job payload, as JSON (default 256 KiB).
    pub max_payload_bytes: usize,
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(lookup);
        let max_payload_bytes = vars
            .number(
                "JOBQ_MAX_PAYLOAD_BYTES",
                input::DEFAULT_MAX_PAYLOAD_BYTES as u64,
                1..=input::MAX_SPEC_BYTES as u64,
            )
            .map_err(|e| e.with_hint("a job must fit one DynamoDB item"))?;
        Ok(ApiSettings { token: vars.raw("JOBQ_API_TOKEN"), max_payload_bytes: max_payload_bytes as usize })
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings { token: None, max_payload_bytes: input::DEFAULT_MAX_PAYLOAD_BYTES }
    }
}

#[derive(Debug)]
pub struct ApiState {
    pub service: JobService,
    pub settings: ApiSettings,
}

type Shared = State<Arc<ApiState>>;
type ApiResult = Result<Response, ApiError>;

pub fn router(service: JobService, settings: ApiSettings) -> Router {
    let state = Arc::new(ApiState { service, settings });
    Router::new()
        .route("/jobs", post(enqueue).get(list_jobs))
        .route("/jobs/batch", post(enqueue_batch))
        .route("/jobs/retry", post(retry_all))
        .route("/jobs/{id}", get(get_job).patch(report_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/retry", post(retry_job))
        .route("/batches/{id}", get(get_batch))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(dashboard::page))
        .route("/pause", get(pause_flags).post(pause))
        .route("/resume", post(resume))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_document))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

async fn authorize(State(state): Shared, request: Request, next: Next) -> Response {
    // The dashboard page holds no data: what it shows comes from routes that need the token.
    let open = matches!(request.uri().path(), "/health" | "/openapi.json" | "/dashboard");
    if let (Some(token), false) = (&state.settings.token, open) {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| token_matches(given, token)) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer <JOBQ_API_TOKEN>",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether the bearer token `given` is `token`, in time that does not depend on where they
/// differ (a comparison that stops at the first wrong byte lets a caller find the token byte by
/// byte from response times). Only the length may show.
fn token_matches(given: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The JSON body: 413 when too large, 415 when not JSON, 400 when it does not parse.
async fn json_body(headers: &HeaderMap, body: Body, required: bool) -> Result<Option<Value>, ApiError> {
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

fn query(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    params.map(|Query(p)| p).map_err(|e| ApiError::bad_request("query", &e.body_text()))
}

fn rules(state: &ApiState) -> input::Rules<'_> {
    input::Rules {
        // Without a bucket, no larger than a job record holds: refused here (413), not later.
        max_payload_bytes: state.service.payload_limit(state.settings.max_payload_bytes),
        job_types: state.service.job_types(),
        now: Utc::now(),
    }
}

async fn enqueue(State(state): Shared, headers: HeaderMap, body: Body) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let spec = input::new_job(&value, "", &rules(&state), 0)?;
    let (job, created) = state.service.enqueue(spec).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(job)).into_response())
}

async fn enqueue_batch(State(state): Shared, headers: HeaderMap, body: Body) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let (specs, batch_id) = input::batch(&value, &rules(&state))?;
    let batch_id = batch_id.unwrap_or_else(|| state.service.new_batch_id());
    match state.service.enqueue_batch(specs, &batch_id).await {
        Ok(jobs) => {
            Ok((StatusCode::CREATED, Json(json!({ "batch_id": batch_id, "jobs": jobs }))).into_response())
        }
        Err(ServiceError::BatchIncomplete(report)) => Ok(batch::incomplete(&report)),
        Err(err) => Err(err.into()),
    }
}

async fn list_jobs(
    State(state): Shared,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult {
    let (list, limit, cursor) = input::list_query(&query(params)?)?;
    let page = state.service.list(&list, limit, cursor.as_deref()).await?;
    Ok(Json(json!({ "jobs": page.jobs, "next_cursor": page.next_cursor })).into_response())
}

async fn get_job(State(state): Shared, Path(id): Path<String>) -> ApiResult {
    match state.service.get(input::id(&id)?).await? {
        Some(job) => Ok(Json(job).into_response()),
        None => Err(ApiError::not_found(&format!("job {id}"))),
    }
}

async fn report_job(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = input::id(&id)?;
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let update = input::external_update(&value)?;
    Ok(Json(state.service.apply_external(id, &update).await?).into_response())
}

async fn cancel_job(State(state): Shared, Path(id): Path<String>) -> ApiResult {
    Ok(Json(state.service.cancel(input::id(&id)?).await?).into_response())
}

async fn retry_job(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = input::id(&id)?;
    let value = json_body(&headers, body, false).await?;
    let priority = input::retry(value.as_ref())?;
    Ok((StatusCode::ACCEPTED, Json(state.service.retry(id, priority).await?)).into_response())
}

async fn retry_all(State(state): Shared, headers: HeaderMap, body: Body) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let (status, job_type) = input::bulk_retry(&value)?;
    let (retried, more) = state.service.retry_all(status, job_type.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(RetryAllReport { retried, more })).into_response())
}

async fn get_batch(State(state): Shared, Path(id): Path<String>) -> ApiResult {
    Ok(Json(state.service.batch(input::id(&id)?).await?).into_response())
}

async fn stats(
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

async fn metrics(State(state): Shared) -> ApiResult {
    let text = prometheus::render(&state.service.stats(None).await?);
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text).into_response())
}

async fn pause_flags(State(state): Shared) -> ApiResult {
    Ok(Json(state.service.pause_flags().await?).into_response())
}

async fn pause(State(state): Shared, headers: HeaderMap, body: Body) -> ApiResult {
    set_paused(&state, &headers, body, true).await
}

async fn resume(State(state): Shared, headers: HeaderMap, body: Body) -> ApiResult {
    set_paused(&state, &headers, body, false).await
}

async fn set_paused(state: &ApiState, headers: &HeaderMap, body: Body, paused: bool) -> ApiResult {
    let value = json_body(headers, body, true).await?.unwrap_or_default();
    let scope = input::scope(&value)?;
    Ok(Json(state.service.set_paused(&scope, paused).await?).into_response())
}

async fn health(State(state): Shared) -> ApiResult {
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

async fn openapi_document(State(state): Shared) -> Json<Value> {
    Json(openapi::document(state.service.job_types()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let types = crate::domain::task::Registry::with_builtins().job_types();
        let documented = openapi::operations(&openapi::document(&types));
        let mut routes: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        routes.sort();
        assert_eq!(documented, routes);
    }

    #[test]
    fn a_token_matches_only_itself() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for wrong in ["", "s3cret", "s3cret-tokem", "s3cret-token ", "S3CRET-TOKEN"] {
            assert!(!token_matches(wrong, "s3cret-token"), "{wrong:?}");
        }
    }

    #[test]
    fn settings_check_the_payload_limit() {
        let ok = ApiSettings::from_lookup(|k| (k == "JOBQ_MAX_PAYLOAD_BYTES").then(|| "1024".into()))
            .expect("valid");
        assert_eq!(ok.max_payload_bytes, 1024);
        assert!(
            ApiSettings::from_lookup(|k| (k == "JOBQ_MAX_PAYLOAD_BYTES").then(|| "10000000".into())).is_err()
        );
        assert_eq!(ApiSettings::from_lookup(|_| None).expect("defaults"), ApiSettings::default());
    }
}
