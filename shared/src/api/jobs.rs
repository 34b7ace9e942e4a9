//! The routes of jobs and batches, each with its OpenAPI operation (`#[utoipa::path]`): the
//! router takes its method and path from there, so route and document cannot differ.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};

use super::batch::{self, BatchCreated, BatchIncomplete, BatchUnavailable};
use super::error::ApiError;
use super::input::wire::{BulkRetry, ExternalReport, IdParam, JobSpec, ListParams, NewBatch, RetryJobBody};
use super::input::{self};
use super::request::{json_body, query, rules};
use super::state::{ApiResult, ApiState, Shared};
use crate::domain::caller::{Action, Caller};
use crate::domain::model::{Job, NewJob};
use crate::handlers::service::{BatchSummary, RetryAllReport, ServiceError};
use crate::store::Page;

/// Enqueue a job.
#[utoipa::path(post, path = "/jobs", operation_id = "enqueue", request_body = JobSpec,
    responses(
        (status = 201, description = "created", body = Job, links(
            ("GetJob" = (operation_id = "getJob", parameters(("id" = "$response.body#/id")))),
            ("ReportJob" = (operation_id = "reportJob", parameters(("id" = "$response.body#/id")))),
            ("CancelJob" = (operation_id = "cancelJob", parameters(("id" = "$response.body#/id")))),
            ("RetryJob" = (operation_id = "retryJob", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 200, description = "the job created earlier with this idempotency_key", body = Job),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn enqueue(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let spec = owned(input::new_job(&value, "", &rules(&state), 0)?, &caller, "")?;
    let (job, created) = state.service.enqueue(spec).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(job)).into_response())
}

/// Enqueue up to 100 jobs, all or nothing.
///
/// 201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind
/// (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry
/// saying which (send again only the `not_created` ones).
#[utoipa::path(post, path = "/jobs/batch", operation_id = "enqueueBatch", request_body = NewBatch,
    responses(
        (status = 201, description = "every job enqueued", body = BatchCreated, links(
            ("GetBatch" = (operation_id = "getBatch", parameters(("id" = "$response.body#/batch_id")))),
        )),
        (status = 207, description = "some jobs exist and others do not: each entry says which", body = BatchIncomplete),
        (status = 503, description = "no job of this request was kept (`batch_not_created`, with its entries): send the same request again; or another dependency failure", body = BatchUnavailable),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError),
    ))]
pub async fn enqueue_batch(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let (specs, batch_id) = input::batch(&value, &rules(&state))?;
    let specs = specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| owned(spec, &caller, &format!("jobs[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let batch_id = batch_id.unwrap_or_else(|| state.service.new_batch_id());
    match state.service.enqueue_batch(specs, &batch_id).await {
        Ok(jobs) => Ok((StatusCode::CREATED, Json(BatchCreated { batch_id, jobs })).into_response()),
        Err(ServiceError::BatchIncomplete(report)) => Ok(batch::incomplete(&report)),
        Err(err) => Err(err.into()),
    }
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/jobs", operation_id = "listJobs", params(ListParams),
    responses(
        (status = 200, description = "a page, newest first", body = Page),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn list_jobs(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult {
    let (mut list, limit, cursor) = input::list_query(&query(params)?)?;
    if !caller.sees_all() {
        if list.owner.as_ref().is_some_and(|owner| *owner != caller.owner) {
            return Err(ApiError::forbidden_field("owner", "a submitter lists only its own jobs"));
        }
        list.owner = Some(caller.owner.clone());
    }
    Ok(Json(state.service.list(&list, limit, cursor.as_deref()).await?).into_response())
}

/// Read a job.
#[utoipa::path(get, path = "/jobs/{id}", operation_id = "getJob", params(IdParam),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 404, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn get_job(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult {
    Ok(Json(visible_job(&state, &caller, input::id(&id)?).await?).into_response())
}

/// Report a job's progress or outcome, as an external executor.
#[utoipa::path(patch, path = "/jobs/{id}", operation_id = "reportJob", params(IdParam),
    request_body = ExternalReport,
    responses(
        (status = 200, description = "the job after the report", body = Job),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 404, response = ApiError), (status = 409, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn report_job(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    Path(IdParam { id }): Path<IdParam>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = input::id(&id)?;
    check_visible(&state, &caller, id).await?;
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let update = input::external_update(&value)?;
    Ok(Json(state.service.apply_external(id, &update, &caller.owner).await?).into_response())
}

/// Cancel a job that has not ended.
#[utoipa::path(post, path = "/jobs/{id}/cancel", operation_id = "cancelJob", params(IdParam),
    responses(
        (status = 200, description = "cancelled", body = Job),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 404, response = ApiError), (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    ))]
pub async fn cancel_job(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult {
    let id = input::id(&id)?;
    check_visible(&state, &caller, id).await?;
    Ok(Json(state.service.cancel(id, &caller.owner).await?).into_response())
}

/// Queue a failed, partial or cancelled job again, with fresh attempts.
#[utoipa::path(post, path = "/jobs/{id}/retry", operation_id = "retryJob", params(IdParam),
    request_body(content = Option<RetryJobBody>),
    responses(
        (status = 202, description = "queued again with fresh attempts", body = Job),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 404, response = ApiError), (status = 409, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn retry_job(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    Path(IdParam { id }): Path<IdParam>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = input::id(&id)?;
    check_visible(&state, &caller, id).await?;
    let value = json_body(&headers, body, false).await?;
    let priority = input::retry(value.as_ref())?;
    Ok((StatusCode::ACCEPTED, Json(state.service.retry(id, priority, &caller.owner).await?)).into_response())
}

/// Queue again every job of a status (and type).
#[utoipa::path(post, path = "/jobs/retry", operation_id = "retryAll", request_body = BulkRetry,
    responses(
        (status = 202, description = "retried", body = RetryAllReport),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 413, response = ApiError), (status = 415, response = ApiError),
        (status = 422, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn retry_all(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let value = json_body(&headers, body, true).await?.unwrap_or_default();
    let (status, job_type) = input::bulk_retry(&value)?;
    let (retried, more) = state.service.retry_all(status, job_type.as_deref(), &caller.owner).await?;
    Ok((StatusCode::ACCEPTED, Json(RetryAllReport { retried, more })).into_response())
}

/// A batch's counts and progress.
#[utoipa::path(get, path = "/batches/{id}", operation_id = "getBatch", params(IdParam),
    responses(
        (status = 200, description = "counts and progress", body = BatchSummary),
        (status = 400, response = ApiError), (status = 401, response = ApiError), (status = 403, response = ApiError),
        (status = 404, response = ApiError), (status = 503, response = ApiError),
    ))]
pub async fn get_batch(State(state): Shared, Path(IdParam { id }): Path<IdParam>) -> ApiResult {
    Ok(Json(state.service.batch(input::id(&id)?).await?).into_response())
}

/// The spec with its owner: the caller, or the owner an admin names (a web backend enqueueing
/// for its user); and the caller as who created it. Naming another owner without that right is
/// refused (403).
fn owned(mut spec: NewJob, caller: &Caller, prefix: &str) -> Result<NewJob, ApiError> {
    spec.created_by = Some(caller.owner.clone());
    match &spec.owner {
        Some(named) if *named != caller.owner && !caller.role.allows(Action::EnqueueOnBehalf) => Err(
            ApiError::forbidden_field(&format!("{prefix}owner"), "only an admin enqueues for another owner"),
        ),
        Some(_) => Ok(spec),
        None => {
            spec.owner = Some(caller.owner.clone());
            Ok(spec)
        }
    }
}

/// The job `id`, if `caller` sees it: to a submitter, another owner's job is no job (404, as
/// for one that does not exist, so ids of others' jobs cannot be told apart from none).
async fn visible_job(state: &ApiState, caller: &Caller, id: &str) -> Result<Job, ApiError> {
    match state.service.get(id).await? {
        Some(job) if caller.sees(job.owner.as_deref()) => Ok(job),
        _ => Err(ApiError::not_found(&format!("job {id}"))),
    }
}

/// Before a change to job `id`: 404 if `caller` does not see it (one read, for a caller that
/// does not see every job; an owner never changes, so the check holds for the change after).
async fn check_visible(state: &ApiState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    if caller.sees_all() {
        return Ok(());
    }
    visible_job(state, caller, id).await.map(|_| ())
}
