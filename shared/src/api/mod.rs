//! The HTTP API, written once as an axum `Router`: the API Lambda runs it under `lambda_http`
//! (API Gateway HTTP API, payload v2), the local stack under a plain HTTP server.
//!
//! Each route's handler carries its OpenAPI operation (`#[utoipa::path]`, in `jobs.rs`,
//! `admin.rs` and `dashboard.rs`), and the router is built from those (utoipa-axum), so the
//! document's paths and the router's routes are one list.

pub mod access;
mod admin;
mod batch;
pub mod dashboard;
pub mod error;
pub mod identity;
pub mod input;
mod jobs;
pub mod openapi;
pub mod prometheus;
mod request;
pub mod security;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use access::{Access, open_path, route_access};
pub use error::ApiError;
use identity::IdentityError;
pub use state::{ApiSettings, ApiState};

use crate::domain::payload::JobTypes;
use crate::handlers::service::JobService;

/// Every route, as `(method, path)`: the OpenAPI document must list exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/batches/{id}"),
    ("get", "/dashboard"),
    ("get", "/health"),
    ("get", "/jobs"),
    ("get", "/jobs/{id}"),
    ("get", "/me"),
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

/// The routes with their operations; `routes!` groups the handlers of one path.
fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(jobs::enqueue, jobs::list_jobs))
        .routes(routes!(jobs::enqueue_batch))
        .routes(routes!(jobs::retry_all))
        .routes(routes!(jobs::get_job, jobs::report_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::get_batch))
        .routes(routes!(admin::stats))
        .routes(routes!(admin::metrics))
        .routes(routes!(dashboard::page))
        .routes(routes!(admin::pause_flags, admin::pause))
        .routes(routes!(admin::resume))
        .routes(routes!(admin::health))
        .routes(routes!(admin::me))
        .routes(routes!(admin::openapi_document))
}

/// The OpenAPI document of the routes, with `types`' payload schemas.
pub fn document(types: &JobTypes) -> Value {
    openapi::complete(routes().into_openapi(), types)
}

pub fn router(service: JobService, settings: ApiSettings) -> Router {
    let (router, generated) = routes().split_for_parts();
    let document = openapi::complete(generated, service.job_types()).to_string().into();
    let state = Arc::new(ApiState { service, settings, document });
    router
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

/// Who the caller is, and whether its role may use the route: 401 without credentials this API
/// knows, 403 for a role that may not. The caller goes on to the route in the request.
async fn authorize(State(state): State<Arc<ApiState>>, mut request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_ascii_lowercase();
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let access = path.as_deref().and_then(|path| route_access(&method, path));
    let caller = state.settings.identity.caller(&identity::credentials(&request));
    let action = match access {
        Some(Access::Needs(action)) => action,
        Some(Access::Open) => return next.run(request).await,
        // Another method on an open path: the path is no secret, so 405 (or HEAD's GET) to anyone.
        None if path.as_deref().is_some_and(open_path) => return next.run(request).await,
        // No route (404) or no such method (405): the fallbacks answer, to a caller the API
        // knows; to anyone else every path is 401, so routes cannot be told apart without one.
        None => match caller {
            Err(IdentityError::Unauthenticated(reason)) => {
                return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", reason).into_response();
            }
            _ => return next.run(request).await,
        },
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(IdentityError::Unauthenticated(reason)) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", reason).into_response();
        }
        Err(IdentityError::NoRole(reason)) => return ApiError::forbidden(reason).into_response(),
    };
    if !caller.role.allows(action) {
        let reason = format!("role {} may not {}", caller.role, action.describe());
        return ApiError::forbidden(reason).into_response();
    }
    if action.changes() {
        // Who changed what: the audit trail in the logs (the request path names the job).
        tracing::info!(caller = %caller.owner, role = %caller.role, action = action.describe(),
            method, path = %request.uri().path(), "api change");
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let types = crate::domain::task::Registry::with_builtins().job_types();
        let documented = openapi::operations(&document(&types));
        let mut routes: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
