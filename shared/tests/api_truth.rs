//! The API through the real router and service on the in-memory ports: what a caller reads right
//! after its own write, with the table's default reads lagging as DynamoDB's do.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use chrono::DateTime;
use jobq::Ports;
use jobq::api::ApiSettings;
use jobq::ports::ManualClock;
use jobq::service::JobService;
use jobq::task::Registry;
use jobq::wiring::MemoryAws;
use serde_json::{Value, json};
use tower::ServiceExt;

fn ports() -> (Ports, MemoryAws) {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    Ports::memory(Arc::new(clock)).expect("memory ports")
}

fn api(ports: &Ports, aws: &MemoryAws) -> axum::Router {
    let types = Registry::with_builtins().job_types().into_iter().map(str::to_owned).collect::<Vec<_>>();
    jobq::api::router(JobService::from_ports(ports, &aws.config, types), ApiSettings::default())
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
