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
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
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

async fn authorize(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
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

    #[test]
    fn a_token_matches_only_itself() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for wrong in ["", "s3cret", "s3cret-tokem", "s3cret-token ", "S3CRET-TOKEN"] {
            assert!(!token_matches(wrong, "s3cret-token"), "{wrong:?}");
        }
    }
}
