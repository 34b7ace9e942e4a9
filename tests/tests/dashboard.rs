//! The dashboard page and `GET /metrics`, against the emulator.
//! (The page in a real browser: tests/browser, run by `make test`.)

use std::time::Duration;

use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use jobq::api::ApiSettings;
use jobq::api::identity::IdentitySettings;
use jobq::domain::task::Registry;
use jobq::{JobStatus, NewJob};
use jobq_integration_tests::{TestEnv, call, call_raw};
use serde_json::json;
use tower::ServiceExt;

/// Status, headers and body text of one request.
async fn get_text(
    router: &axum::Router,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, header::HeaderMap, String) {
    let mut request = Request::builder().uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("router");
    let (parts, body) = response.into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

fn token_settings() -> ApiSettings {
    ApiSettings { identity: IdentitySettings::single_token("s3cret"), ..ApiSettings::default() }
}

#[tokio::test]
async fn the_dashboard_page_is_served_with_a_policy_that_allows_only_its_own_scripts() {
    let env = TestEnv::new().await;
    let api = env.api(token_settings());
    let (status, headers, body) = get_text(&api, "/dashboard", None).await;
    assert_eq!(status, StatusCode::OK, "the page holds no data and opens without the token");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce");
    assert!(body.contains(&format!("<script nonce=\"{nonce}\">")), "the page's script carries the nonce");
    let (_, second, _) = get_text(&api, "/dashboard", None).await;
    assert_ne!(
        second[header::CONTENT_SECURITY_POLICY],
        headers[header::CONTENT_SECURITY_POLICY],
        "fresh nonce"
    );

    // What the page reads still needs the token.
    let (status, body) = call_raw(&api, "GET", "/stats", None, Vec::new(), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
}

#[tokio::test]
async fn metrics_expose_the_table_and_the_queues_in_the_prometheus_format() {
    let env = TestEnv::new().await;
    let api = env.api(token_settings());
    let (status, _, _) = get_text(&api, "/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for _ in 0..3 {
        env.enqueue(NewJob { job_type: "noop".into(), ..NewJob::default() }).await;
    }
    let failing = env
        .enqueue(NewJob {
            job_type: "fail".into(),
            payload: json!({"retryable": false}),
            priority: jobq::Priority::HIGH,
            ..NewJob::default()
        })
        .await;
    env.count_changes().await;
    let (status, headers, text) = get_text(&api, "/metrics", Some("s3cret")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        headers[header::CONTENT_TYPE].to_str().expect("ascii").starts_with("application/openmetrics-text")
    );
    assert!(text.contains("jobq_jobs{status=\"queued\"} 4"), "{text}");
    assert!(text.contains("jobq_queue_messages{tier=\"normal\",state=\"visible\"} 3"), "{text}");
    assert!(text.contains("jobq_queue_messages{tier=\"high\",state=\"visible\"} 1"), "{text}");

    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let store = env.store();
    env.run_until(&worker, Duration::from_secs(60), || async {
        store.count(JobStatus::Queued, None).await.expect("count") == 0
    })
    .await;
    assert_eq!(env.job(&failing.id).await.status, JobStatus::Failed);
    env.count_changes().await;
    let (_, _, text) = get_text(&api, "/metrics", Some("s3cret")).await;
    for sample in [
        "jobq_jobs{status=\"completed\"} 3",
        "jobq_jobs{status=\"failed\"} 1",
        "jobq_jobs_ended_total{type=\"noop\",outcome=\"completed\"} 3",
        "jobq_jobs_ended_total{type=\"fail\",outcome=\"failed\"} 1",
        "jobq_job_runs_total{type=\"noop\"} 3",
        "jobq_queue_messages{tier=\"normal\",state=\"visible\"} 0",
        "jobq_paused{scope=\"all\"} 0",
    ] {
        assert!(text.lines().any(|l| l == sample), "{sample} in\n{text}");
    }
    let (status, _) = call_raw(
        &api,
        "POST",
        "/pause",
        Some("application/json"),
        json!({"scope": "type:noop"}).to_string().into_bytes(),
        Some("s3cret"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, text) = get_text(&api, "/metrics", Some("s3cret")).await;
    assert!(text.lines().any(|l| l == "jobq_paused{scope=\"type:noop\"} 1"), "{text}");
}

#[tokio::test]
async fn a_job_failed_while_a_dependency_was_down_completes_when_retried_after() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let until = Utc::now() + chrono::Duration::seconds(2);
    let (status, job) = call(
        &api,
        "POST",
        "/jobs",
        Some(
            json!({"type": "fail", "max_attempts": 1, "payload": {"until": jobq::domain::model::format_time(until)}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("id").to_owned();
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    env.run_until(&worker, Duration::from_secs(30), || async { env.job(&id).await.status.is_terminal() })
        .await;
    assert_eq!(env.job(&id).await.status, JobStatus::Failed, "failed before `until`");

    tokio::time::sleep((until - Utc::now()).to_std().unwrap_or_default()).await;
    let (status, _) = call(&api, "POST", &format!("/jobs/{id}/retry"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    env.run_until(&worker, Duration::from_secs(30), || async { env.job(&id).await.status.is_terminal() })
        .await;
    let job = env.job(&id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1));
}
