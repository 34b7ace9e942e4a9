//! One error shape everywhere: `{"error": {"code", "message", "field"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{ToResponse, ToSchema};

use crate::handlers::service::ServiceError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None }
    }

    fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// A value of the right syntax but not acceptable (422).
    pub fn invalid(field: &str, message: &str) -> Self {
        let text = if field.is_empty() { message.to_owned() } else { format!("{field} {message}") };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", text).with_field(field)
    }

    /// Something that does not parse at all (400).
    pub fn bad_request(field: &str, message: &str) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("{field}: {message}")).with_field(field)
    }

    pub fn too_large(field: &str, message: &str) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("{field} {message}"))
            .with_field(field)
    }

    /// A caller whose role may not do this (403).
    pub fn forbidden(reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason)
    }

    /// A field only some roles may send (403), named.
    pub fn forbidden_field(field: &str, reason: &str) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("{field}: {reason}")).with_field(field)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
}

/// What every refusal's body is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs: `invalid_field`, `not_found`, `unavailable`, ...
    pub code: &'static str,
    pub message: String,
    /// The field at fault (`jobs[3].payload.width`), when one is.
    pub field: Option<String>,
}

/// The one `Error` response every operation's refusals refer to (`#/components/responses/Error`).
/// By hand: utoipa's derived responses inline their schema, and this one refers to `Error`'s.
impl<'r> ToResponse<'r> for ApiError {
    fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build();
        ("Error", ResponseBuilder::new().description("an error").content("application/json", content).into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code, message: self.message, field: self.field } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Store(StoreError::NotFound { id }) => ApiError::not_found(&format!("job {id}")),
            ServiceError::Store(StoreError::InvalidTransition { id, from, event }) => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_transition",
                format!("job {id} is {from}: {event:?} is not allowed"),
            ),
            ServiceError::Store(StoreError::Conflict { id, .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("job {id} changed while this request ran; read it and try again"),
            ),
            ServiceError::Store(StoreError::BadCursor(reason)) => ApiError::bad_request("cursor", &reason),
            ServiceError::Store(StoreError::Unstorable { field, reason, .. }) => {
                ApiError::too_large(field, &format!("cannot be stored: {reason}"))
            }
            ServiceError::BatchNotFound(id) => ApiError::not_found(&format!("batch {id}")),
            ServiceError::Refused { index, refusal } => {
                // Named as the request names it: a batch's job by its place in `jobs`.
                let refusal = match index {
                    Some(i) => refusal.within(&format!("jobs[{i}].")),
                    None => refusal,
                };
                ApiError::invalid(refusal.field(), &refusal.problem())
            }
            ServiceError::Store(err @ StoreError::Corrupt { .. }) => {
                tracing::error!(error = %err, "corrupt job record");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a stored job could not be read")
            }
            err => dependency_failed(&err),
        }
    }
}

/// An AWS failure, as the caller is told it: whether sending again may help, and nothing of the
/// error itself (its chain names roles, accounts and resources); that goes to the log.
fn dependency_failed(err: &ServiceError) -> ApiError {
    let transient = match err {
        ServiceError::Store(store) => store.is_transient(),
        // A queue missing is the deployment mid-change (or being restored), not a wrong request.
        ServiceError::Queue(queue) => {
            queue.is_transient() || queue.refusal() == Some(crate::ports::queue::Refusal::NoSuchQueue)
        }
        ServiceError::BatchIncomplete(_) | ServiceError::Unavailable { .. } => true,
        _ => false,
    };
    let chain = crate::handlers::service::error_chain(err);
    if transient {
        tracing::error!(error = %chain, "AWS dependency failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a dependency of the service is unavailable; retry shortly (with the same idempotency_key to stay safe)",
        )
    } else {
        // Refused as such (access denied, a request AWS finds invalid): the same request fails
        // the same way, so it is not offered as worth retrying.
        tracing::error!(error = %chain, "AWS refused a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "dependency_refused",
            "a dependency of the service refused the request; sending it again will not help",
        )
    }
}
