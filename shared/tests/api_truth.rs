//! The API through the real router and service on the in-memory ports: what a caller reads right
//! after its own write, with the table's default reads lagging as DynamoDB's do; what a failure of
//! AWS tells the caller (whether to retry, and nothing of AWS's error); and ids too long for a key.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use chrono::DateTime;
use jobq::Ports;
use jobq::api::ApiSettings;
use jobq::domain::task::Registry;
use jobq::ports::ManualClock;
use jobq::ports::table::{
    BatchGot, Cond, IndexQuery, Item, QueryPage, Table, TableError, TransactUpdate, Update,
};
use jobq::store::JobStore;
use jobq::wiring::MemoryAws;
use serde_json::{Value, json};
use tower::ServiceExt;

fn ports() -> (Ports, MemoryAws) {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    Ports::memory(Arc::new(clock)).expect("memory ports")
}

fn api(ports: &Ports, aws: &MemoryAws) -> axum::Router {
    let types = Registry::with_builtins().job_types();
    jobq::api::router(ports.service(&aws.config, types), ApiSettings::default())
}

/// One request: the status, the Retry-After header and the body as text.
async fn send(
    api: &axum::Router,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, String) {
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(axum::body::Body::empty, |b| axum::body::Body::from(b.to_string()));
    let response =
        api.clone().oneshot(request.body(body).expect("request")).await.expect("router never fails");
    let status = response.status();
    let retry_after =
        response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    (status, retry_after, String::from_utf8_lossy(&bytes).into_owned())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

#[tokio::test]
async fn a_job_reads_back_at_once_though_default_reads_lag() {
    let (ports, aws) = ports();
    aws.table.set_read_lag(Some(25));
    let api = api(&ports, &aws);
    for _ in 0..10 {
        let (status, _, created) = send(&api, Method::POST, "/jobs", Some(json!({"type": "noop"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = json_of(&created)["id"].as_str().expect("id").to_owned();
        let (status, _, read) = send(&api, Method::GET, &format!("/jobs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "the job just created: {read}");
        assert_eq!(json_of(&read)["status"], "queued");
        let (status, _, _) = send(&api, Method::POST, &format!("/jobs/{id}/cancel"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, read) = send(&api, Method::GET, &format!("/jobs/{id}"), None).await;
        assert_eq!(json_of(&read)["status"], "cancelled", "the caller's own cancel, read back");
    }
}

#[tokio::test]
async fn a_batch_reads_back_at_once_though_its_index_lags() {
    let (ports, aws) = ports();
    aws.table.set_read_lag(Some(26));
    let api = api(&ports, &aws);
    for round in 0..10 {
        let jobs =
            json!({"jobs": [{"type": "noop"}, {"type": "noop"}, {"type": "echo", "delay_seconds": 3600}]});
        let (status, _, created) = send(&api, Method::POST, "/jobs/batch", Some(jobs)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let batch_id = json_of(&created)["batch_id"].as_str().expect("batch id").to_owned();
        let (status, _, read) = send(&api, Method::GET, &format!("/batches/{batch_id}"), None).await;
        assert_eq!(status, StatusCode::OK, "round {round}, the batch just created: {read}");
        let summary = json_of(&read);
        assert_eq!(summary["total"], 3, "{summary}");
        assert_eq!(summary["done"], false);
    }
    let (status, _, _) = send(&api, Method::GET, "/batches/no-such-batch", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown batch is still not found");
}

/// A table that fails every request with an error whose chain names a role and an account, as
/// AWS's do.
#[derive(Debug)]
struct Failing {
    transient: bool,
}

impl Failing {
    fn error(&self, operation: &'static str) -> TableError {
        let source = "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/jobq-api-role/jobq-api \
                      is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/prod-jobs-7f3a"
            .into();
        match self.transient {
            true => TableError::Transient { operation, source },
            false => TableError::Rejected { operation, source },
        }
    }
}

#[async_trait::async_trait]
impl Table for Failing {
    async fn put(&self, _: Item, _: Option<&Cond>) -> Result<(), TableError> {
        Err(self.error("PutItem"))
    }
    async fn get(&self, _: &str, _: bool) -> Result<Option<Item>, TableError> {
        Err(self.error("GetItem"))
    }
    async fn update(&self, _: &str, _: &Update, _: Option<&Cond>) -> Result<Option<Item>, TableError> {
        Err(self.error("UpdateItem"))
    }
    async fn delete(&self, _: &str, _: Option<&Cond>) -> Result<(), TableError> {
        Err(self.error("DeleteItem"))
    }
    async fn batch_get(&self, _: &[String]) -> Result<BatchGot, TableError> {
        Err(self.error("BatchGetItem"))
    }
    async fn batch_put(&self, _: Vec<Item>) -> Result<Vec<Item>, TableError> {
        Err(self.error("BatchWriteItem"))
    }
    async fn query(&self, _: &IndexQuery) -> Result<QueryPage, TableError> {
        Err(self.error("Query"))
    }
    async fn transact_update(&self, _: &[TransactUpdate]) -> Result<(), TableError> {
        Err(self.error("TransactWriteItems"))
    }
}

fn failing_api(transient: bool) -> axum::Router {
    let (mut ports, aws) = ports();
    ports.store = JobStore::over(Arc::new(Failing { transient }), aws.config.retention);
    api(&ports, &aws)
}

fn tells_nothing_of_aws(body: &str) {
    for secret in ["arn:", "123456789012", "jobq-api-role", "AccessDenied", "prod-jobs-7f3a"] {
        assert!(!body.contains(secret), "the body shows {secret:?}: {body}");
    }
}

#[tokio::test]
async fn a_503_says_retry_and_nothing_of_the_aws_error() {
    let api = failing_api(true);
    for (method, path, body) in [
        (Method::GET, "/jobs/0193d5e2-0000-7000-8000-000000000000", None),
        (Method::POST, "/jobs", Some(json!({"type": "noop"}))),
        (Method::GET, "/stats", None),
        (Method::GET, "/health", None),
    ] {
        let (status, retry_after, text) = send(&api, method, path, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {text}");
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert!(json_of(&text)["error"]["message"].as_str().expect("message").contains("retry"), "{text}");
        tells_nothing_of_aws(&text);
    }
    // A batch that could not be written says, entry by entry, what became of each: in words of
    // its own, not AWS's.
    let batch = json!({"jobs": [{"type": "noop"}, {"type": "noop", "idempotency_key": "k"}]});
    let (status, _, text) = send(&api, Method::POST, "/jobs/batch", Some(batch)).await;
    assert!([StatusCode::MULTI_STATUS, StatusCode::SERVICE_UNAVAILABLE].contains(&status), "{text}");
    tells_nothing_of_aws(&text);
}

#[tokio::test]
async fn a_request_aws_refuses_as_such_is_not_offered_as_retryable() {
    let api = failing_api(false);
    for (method, path, body) in [
        (Method::GET, "/jobs/0193d5e2-0000-7000-8000-000000000000", None),
        (Method::POST, "/jobs", Some(json!({"type": "noop"}))),
    ] {
        let (status, retry_after, text) = send(&api, method, path, body).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {text}");
        assert_eq!(retry_after, None, "{path}: no Retry-After for a refusal");
        assert!(!text.contains("retry shortly"), "{text}");
        tells_nothing_of_aws(&text);
    }
}

#[tokio::test]
async fn ids_too_long_for_a_key_are_refused_naming_them() {
    let (ports, aws) = ports();
    let api = api(&ports, &aws);
    let long = "x".repeat(3000);
    for (method, path) in [
        (Method::GET, format!("/jobs/{long}")),
        (Method::POST, format!("/jobs/{long}/cancel")),
        (Method::POST, format!("/jobs/{long}/retry")),
        (Method::GET, format!("/batches/{long}")),
    ] {
        let (status, _, text) = send(&api, method, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert_eq!(json_of(&text)["error"]["field"], "id", "{text}");
    }
    let (status, _, text) = send(&api, Method::GET, &format!("/jobs?batch_id={long}"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_eq!(json_of(&text)["error"]["field"], "batch_id", "{text}");
    let (status, _, _) = send(&api, Method::GET, &format!("/jobs/{}", "x".repeat(128)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an id of the longest length is looked up");
}
