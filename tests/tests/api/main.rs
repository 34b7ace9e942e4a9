//! Every route through the real router against the emulator.

mod authorizers;
mod fuzz;
mod owners;

use std::time::Duration;

use axum::http::StatusCode;
use jobq::adapters::aws::requests::total;
use jobq::api::identity::IdentitySettings;
use jobq::api::{ApiSettings, ROUTES};
use jobq::domain::task::Registry;
use jobq::{JobStatus, PriorityTier};
use jobq_integration_tests::{TestEnv, call, call_bytes, call_raw};
use serde_json::{Value, json};

fn error_field(body: &Value) -> Option<&str> {
    body["error"]["field"].as_str()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn enqueue_is_idempotent_by_key_and_costs_one_write_and_one_send() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let body = json!({"type": "echo", "payload": {"file": "a.pdf"}, "priority": "high", "idempotency_key": "upload-1"});

    let before = env.requests.snapshot();
    let (status, first) = call(&api, "POST", "/jobs", Some(body.clone())).await;
    let requests = env.requests.since(&before);
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["status"].as_str(), first["tier"].as_str(), first["priority"].as_u64()),
        (Some("queued"), Some("high"), Some(9))
    );
    assert_eq!(requests.get("DynamoDB:PutItem"), Some(&1), "{requests:?}");
    assert_eq!(requests.get("SQS:SendMessage"), Some(&1), "{requests:?}");
    assert_eq!(total(&requests, "DynamoDB") + total(&requests, "SQS"), 2, "{requests:?}");

    let (status, second) =
        call(&api, "POST", "/jobs", Some(json!({"type": "echo", "idempotency_key": "upload-1"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["payload"], json!({"file": "a.pdf"}), "the first job, unchanged");

    let (status, fetched) =
        call(&api, "GET", &format!("/jobs/{}", first["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!((status, &fetched["id"]), (StatusCode::OK, &first["id"]));
    let (status, missing) = call(&api, "GET", "/jobs/nope", None).await;
    assert_eq!((status, error_code(&missing)), (StatusCode::NOT_FOUND, "not_found"));

    // Delays beyond SQS's 15 minutes wait as `scheduled`, with no message yet.
    let (status, later) =
        call(&api, "POST", "/jobs", Some(json!({"type": "noop", "delay_seconds": 3600}))).await;
    assert_eq!((status, later["status"].as_str()), (StatusCode::CREATED, Some("scheduled")));
    let (_, soon) =
        call(&api, "POST", "/jobs", Some(json!({"type": "noop", "delay_seconds": 60, "priority": 0}))).await;
    assert_eq!(soon["status"].as_str(), Some("queued"));
    assert_eq!(env.queues().depth(PriorityTier::Low).await.expect("depth").delayed, 1);
}

#[tokio::test]
async fn a_batch_is_written_and_sent_in_batches_and_summarised() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let jobs: Vec<Value> = (0..25).map(|i| json!({"type": "noop", "payload": {"i": i}})).collect();
    let before = env.requests.snapshot();
    let (status, created) =
        call(&api, "POST", "/jobs/batch", Some(json!({"jobs": jobs, "batch_id": "import-7"}))).await;
    let requests = env.requests.since(&before);
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["batch_id"], "import-7");
    assert_eq!(created["jobs"].as_array().map(Vec::len), Some(25));
    assert_eq!(requests.get("DynamoDB:BatchWriteItem"), Some(&1), "{requests:?}");
    assert_eq!(requests.get("SQS:SendMessageBatch"), Some(&3), "{requests:?}");
    // And one note on the batch's counter item, so that it is found at once.
    assert_eq!(requests.get("DynamoDB:UpdateItem"), Some(&1), "{requests:?}");
    assert_eq!(total(&requests, "DynamoDB") + total(&requests, "SQS"), 5, "{requests:?}");

    let (status, summary) = call(&api, "GET", "/batches/import-7", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((summary["total"].as_u64(), summary["counts"]["queued"].as_u64()), (Some(25), Some(25)));
    assert_eq!((summary["progress"].as_u64(), summary["done"].as_bool()), (Some(0), Some(false)));

    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    env.run_until(&worker, Duration::from_secs(60), || async {
        env.count_changes().await;
        call(&api, "GET", "/batches/import-7", None).await.1["done"] == json!(true)
    })
    .await;
    let (_, summary) = call(&api, "GET", "/batches/import-7", None).await;
    assert_eq!(
        (summary["counts"]["completed"].as_u64(), summary["progress"].as_u64()),
        (Some(25), Some(100))
    );
    assert!(summary["finished_at"].is_string() && summary["started_at"].is_string());
    let (status, missing) = call(&api, "GET", "/batches/none", None).await;
    assert_eq!((status, error_code(&missing)), (StatusCode::NOT_FOUND, "not_found"));

    // With idempotency keys a repeated batch gives the same jobs, not new ones.
    let keyed: Vec<Value> =
        (0..3).map(|i| json!({"type": "noop", "idempotency_key": format!("k{i}")})).collect();
    let (_, a) = call(&api, "POST", "/jobs/batch", Some(json!({"jobs": keyed.clone()}))).await;
    let (_, b) = call(&api, "POST", "/jobs/batch", Some(json!({"jobs": keyed}))).await;
    let ids = |v: &Value| v["jobs"].as_array().map(|j| j.iter().map(|x| x["id"].clone()).collect::<Vec<_>>());
    assert_eq!(ids(&a), ids(&b));
}

#[tokio::test]
async fn listing_pages_through_three_pages() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let jobs: Vec<Value> = (0..25).map(|_| json!({"type": "echo"})).collect();
    call(&api, "POST", "/jobs/batch", Some(json!({"jobs": jobs}))).await;
    call(&api, "POST", "/jobs", Some(json!({"type": "noop"}))).await;

    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    let mut path = "/jobs?status=queued&type=echo&limit=10".to_owned();
    loop {
        let (status, page) = call(&api, "GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for job in page["jobs"].as_array().into_iter().flatten() {
            assert_eq!(job["type"], "echo");
            assert!(seen.insert(job["id"].as_str().unwrap_or_default().to_owned()), "duplicate");
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/jobs?status=queued&type=echo&limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 25));
    let (_, all) = call(&api, "GET", "/jobs", None).await;
    assert_eq!(all["jobs"].as_array().map(Vec::len), Some(26), "default limit 50 covers all");
}

#[tokio::test]
async fn cancel_retry_and_bulk_retry_follow_the_state_machine() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let (_, job) = call(&api, "POST", "/jobs", Some(json!({"type": "noop"}))).await;
    let id = job["id"].as_str().unwrap_or_default().to_owned();

    let (status, conflict) = call(&api, "POST", &format!("/jobs/{id}/retry"), None).await;
    assert_eq!(
        (status, error_code(&conflict)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "queued jobs are not retried"
    );
    let (status, cancelled) = call(&api, "POST", &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    let (status, _) = call(&api, "POST", &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "a terminal job cannot be cancelled");
    let (status, _) = call(&api, "POST", "/jobs/nope/cancel", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, retried) =
        call(&api, "POST", &format!("/jobs/{id}/retry"), Some(json!({"priority": "low"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(
        (retried["status"].as_str(), retried["generation"].as_u64(), retried["tier"].as_str()),
        (Some("queued"), Some(1), Some("low"))
    );

    // Bulk: three failed jobs of type noop are retried; the worker then completes them.
    let store = env.store();
    let mut failed_ids = Vec::new();
    for _ in 0..3 {
        let (_, job) = call(&api, "POST", "/jobs", Some(json!({"type": "noop"}))).await;
        let id = job["id"].as_str().unwrap_or_default().to_owned();
        store
            .fail(&id, &jobq::JobFailure { message: "x".into(), details: None }, chrono::Utc::now())
            .await
            .expect("fail");
        failed_ids.push(id);
    }
    let (status, bulk) =
        call(&api, "POST", "/jobs/retry", Some(json!({"status": "failed", "type": "noop"}))).await;
    assert_eq!(
        (status, bulk["retried"].as_u64(), bulk["more"].as_bool()),
        (StatusCode::ACCEPTED, Some(3), Some(false))
    );
    let (status, bad) = call(&api, "POST", "/jobs/retry", Some(json!({"status": "completed"}))).await;
    assert_eq!((status, error_field(&bad)), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));

    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let ids = failed_ids.clone();
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.jobs(&ids).await.iter().all(|j| j.status == JobStatus::Completed)
    })
    .await;
}

#[tokio::test]
async fn an_external_executor_reports_through_patch() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let (_, job) = call(&api, "POST", "/jobs", Some(json!({"type": "echo"}))).await;
    let path = format!("/jobs/{}", job["id"].as_str().unwrap_or_default());

    let (status, body) = call(&api, "PATCH", &path, Some(json!({"status": "completed"}))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "queued cannot complete"
    );
    let (status, running) = call(
        &api,
        "PATCH",
        &path,
        Some(json!({"status": "processing", "github_workflow_run_id": 987654321})),
    )
    .await;
    assert_eq!(
        (status, running["status"].as_str(), running["attempts"].as_u64()),
        (StatusCode::OK, Some("processing"), Some(1))
    );
    assert_eq!(running["github_workflow_run_id"], "987654321");
    let (status, progress) =
        call(&api, "PATCH", &path, Some(json!({"progress": 40, "current_step": "build"}))).await;
    assert_eq!(
        (status, progress["progress"].as_u64(), progress["current_step"].as_str()),
        (StatusCode::OK, Some(40), Some("build"))
    );
    let (status, done) =
        call(&api, "PATCH", &path, Some(json!({"status": "completed", "result": {"artifact": "x.zip"}})))
            .await;
    assert_eq!(
        (status, done["status"].as_str(), done["progress"].as_u64()),
        (StatusCode::OK, Some("completed"), Some(100))
    );
    assert_eq!(done["result"], json!({"artifact": "x.zip"}));
    assert!(done["completed_at"].is_string() && done["duration_ms"].is_u64());
    let (status, _) = call(&api, "PATCH", &path, Some(json!({"progress": 10}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a finished job takes no more reports");
    let (status, bad) = call(&api, "PATCH", &path, Some(json!({"status": "done"}))).await;
    assert_eq!((status, error_field(&bad)), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let (status, _) = call(&api, "PATCH", "/jobs/nope", Some(json!({"progress": 1}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_pause_and_health_report_the_queue() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    for _ in 0..3 {
        call(&api, "POST", "/jobs", Some(json!({"type": "noop", "priority": "high"}))).await;
    }
    call(&api, "POST", "/jobs", Some(json!({"type": "fail", "payload": {"retryable": false}}))).await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.count_changes().await;
        let (_, stats) = call(&api, "GET", "/stats", None).await;
        stats["counts"]["completed"] == json!(3) && stats["counts"]["failed"] == json!(1)
    })
    .await;
    call(&api, "POST", "/jobs", Some(json!({"type": "noop", "priority": 0}))).await;
    env.count_changes().await;
    let (status, stats) = call(&api, "GET", "/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["counts"]["queued"], 1);
    assert_eq!(stats["types"]["noop"]["completed"], 3);
    assert_eq!(stats["types"]["noop"]["success_rate"], 1.0);
    assert!(
        stats["types"]["noop"]["avg_processing_ms"].is_number()
            && stats["types"]["noop"]["avg_wait_ms"].is_number()
    );
    assert_eq!(stats["types"]["fail"]["failed"], 1);
    assert_eq!(stats["tiers"]["low"]["queue"]["visible"], 1);
    assert_eq!(stats["tiers"]["normal"]["dlq_depth"], 1, "the fatal failure's dead letter");
    let (_, typed) = call(&api, "GET", "/stats?type=fail", None).await;
    assert_eq!(
        (typed["counts"]["failed"].as_u64(), typed["counts"]["completed"].as_u64()),
        (Some(1), Some(0))
    );

    let (status, flags) = call(&api, "POST", "/pause", Some(json!({"scope": "queue:low"}))).await;
    assert_eq!((status, flags["paused"].clone()), (StatusCode::OK, json!(["queue:low"])));
    call(&api, "POST", "/pause", Some(json!({"scope": "type:resize"}))).await;
    let (_, flags) = call(&api, "GET", "/pause", None).await;
    assert_eq!(flags["paused"], json!(["queue:low", "type:resize"]));
    let (_, flags) = call(&api, "POST", "/resume", Some(json!({"scope": "queue:low"}))).await;
    assert_eq!(flags["paused"], json!(["type:resize"]));
    let (_, stats) = call(&api, "GET", "/stats", None).await;
    assert_eq!(stats["paused"]["paused"], json!(["type:resize"]));
    let (status, bad) = call(&api, "POST", "/pause", Some(json!({"scope": "queue:urgent"}))).await;
    assert_eq!((status, error_field(&bad)), (StatusCode::UNPROCESSABLE_ENTITY, Some("scope")));

    let (status, health) = call(&api, "GET", "/health", None).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(health["table"], env.config.table.as_str());
    assert_eq!(health["queues"]["high"], env.names.queue(PriorityTier::High).as_str());
    assert_eq!(health["dlqs"]["low"], env.names.dlq(PriorityTier::Low).as_str());
    // A dependency gone: 503 naming it.
    env.clients
        .sqs
        .delete_queue()
        .queue_url(env.config.dlqs.get(PriorityTier::Low))
        .send()
        .await
        .expect("delete");
    let (status, down) = call(&api, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_field(&down).is_some_and(|f| f.contains(&env.names.dlq(PriorityTier::Low))), "{down}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_naming_the_field() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings { max_payload_bytes: 1024, ..ApiSettings::default() });
    let raw = |ct: Option<&'static str>, body: &'static str| {
        let api = api.clone();
        async move { call_raw(&api, "POST", "/jobs", ct, body.as_bytes().to_vec(), None).await }
    };
    let (status, body) = raw(Some("application/json"), "{\"type\": ").await;
    assert_eq!(
        (status, error_code(&body), error_field(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json", Some("body"))
    );
    let (status, body) = raw(Some("text/plain"), "{\"type\": \"noop\"}").await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let (status, _) = raw(Some("application/json; charset=utf-8"), "{\"type\": \"noop\"}").await;
    assert_eq!(status, StatusCode::CREATED, "a charset parameter is fine");

    let cases = [
        (json!({"type": "resize"}), StatusCode::UNPROCESSABLE_ENTITY, "type"),
        (json!({"type": 7}), StatusCode::UNPROCESSABLE_ENTITY, "type"),
        (json!({"type": "noop", "priority": 11}), StatusCode::UNPROCESSABLE_ENTITY, "priority"),
        (json!({"type": "noop", "max_attempts": "three"}), StatusCode::UNPROCESSABLE_ENTITY, "max_attempts"),
        (
            json!({"type": "noop", "payload": {"blob": "x".repeat(2000)}}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload",
        ),
        // A payload that does not fit its type's input, at the door rather than at run time.
        (
            json!({"type": "sleep", "payload": {"steps": "ten"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload.steps",
        ),
        (
            json!({"type": "fail", "payload": {"times": -1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload.times",
        ),
        (
            json!({"type": "echo", "next": [{"type": "sleep", "payload": {"naps": 2}}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "next[0].payload.naps",
        ),
    ];
    for (body, want_status, want_field) in cases {
        let (status, error) = call(&api, "POST", "/jobs", Some(body.clone())).await;
        assert_eq!((status, error_field(&error)), (want_status, Some(want_field)), "{body}: {error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let batch = json!({"jobs": [{"type": "noop"}, {"type": "sleep", "payload": {"seconds": []}}]});
    let (status, error) = call(&api, "POST", "/jobs/batch", Some(batch)).await;
    assert_eq!(
        (status, error_field(&error)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("jobs[1].payload.seconds"))
    );
    let (status, error) = call(&api, "GET", "/jobs?limit=501", None).await;
    assert_eq!((status, error_field(&error)), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
    let (status, error) = call(&api, "GET", "/jobs?cursor=garbage", None).await;
    assert_eq!((status, error_field(&error)), (StatusCode::BAD_REQUEST, Some("cursor")));
    let (status, error) = call(&api, "GET", "/nowhere", None).await;
    assert_eq!((status, error_code(&error)), (StatusCode::NOT_FOUND, "route_not_found"));
    let (status, error) = call(&api, "DELETE", "/jobs", None).await;
    assert_eq!((status, error_code(&error)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    // Nothing above created a job but the one with a charset.
    let (_, all) = call(&api, "GET", "/jobs", None).await;
    assert_eq!(all["jobs"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_aws_failure_is_503_and_leaves_nothing_half_done() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let url = env.config.queues.get(PriorityTier::Normal).clone();
    env.clients.sqs.delete_queue().queue_url(&url).send().await.expect("delete queue");

    let body = json!({"type": "noop", "idempotency_key": "order-9"});
    let (status, error) = call(&api, "POST", "/jobs", Some(body.clone())).await;
    assert_eq!((status, error_code(&error)), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"), "{error}");
    // The caller of an API without credentials is the anonymous admin: its keys are its own.
    let id = jobq::domain::model::job_id_for_owner_key(jobq::domain::caller::ANONYMOUS_OWNER, "order-9");
    assert_eq!(env.store().get(&id, true).await.expect("get"), None, "no job left that would never run");

    // The queue is back: the client's retry with the same key gives exactly one job, delivered.
    jobq::adapters::aws::provision::provision(&env.clients, &env.names).await.expect("re-provision");
    let (status, job) = call(&api, "POST", "/jobs", Some(body.clone())).await;
    assert_eq!((status, job["id"].as_str()), (StatusCode::CREATED, Some(id.as_str())));
    let (status, _) = call(&api, "POST", "/jobs", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, all) = call(&api, "GET", "/jobs", None).await;
    assert_eq!(all["jobs"].as_array().map(Vec::len), Some(1));
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    env.run_until(&worker, Duration::from_secs(30), || async {
        env.job(&id).await.status == JobStatus::Completed
    })
    .await;
}

#[tokio::test]
async fn a_token_guards_every_route_but_health_and_the_document() {
    let env = TestEnv::new().await;
    let api =
        env.api(ApiSettings { identity: IdentitySettings::single_token("s3cret"), ..ApiSettings::default() });
    let (status, body) = call_raw(&api, "GET", "/jobs", None, Vec::new(), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (status, _) = call_raw(&api, "GET", "/jobs", None, Vec::new(), Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call_raw(&api, "GET", "/jobs", None, Vec::new(), Some("s3cret")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call_raw(&api, "GET", "/health", None, Vec::new(), None).await.0, StatusCode::OK);
    assert_eq!(call_raw(&api, "GET", "/openapi.json", None, Vec::new(), None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_documented_route_is_served_and_no_other_method() {
    let env = TestEnv::new().await;
    let api = env.api(ApiSettings::default());
    let (status, doc) = call(&api, "GET", "/openapi.json", None).await;
    assert_eq!((status, doc["openapi"].as_str()), (StatusCode::OK, Some("3.1.0")));
    let documented = jobq::api::openapi::operations(&doc);
    let mut routes: Vec<(String, String)> =
        ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routes.sort();
    assert_eq!(documented, routes, "the served document lists exactly the routes");
    for (method, path) in ROUTES {
        let concrete = path.replace("{id}", "some-id");
        let (status, served_type, bytes) = call_bytes(
            &api,
            &method.to_uppercase(),
            &concrete,
            Some("application/json"),
            b"{}".to_vec(),
            None,
        )
        .await;
        // The dashboard and /metrics answer HTML and text; every refusal is JSON.
        if served_type.starts_with("application/json") {
            let body: Value = serde_json::from_slice(&bytes).expect("a JSON answer parses");
            let code = error_code(&body);
            assert!(
                code != "route_not_found" && code != "method_not_allowed",
                "{method} {path} is not served: {body}"
            );
        } else {
            assert_eq!(status, StatusCode::OK, "{method} {path} answered {served_type} with {status}");
        }
        for other in ["get", "post", "patch", "put", "delete"] {
            if !ROUTES.iter().any(|(m, p)| *m == other && p == path) {
                let (status, _) = call(&api, &other.to_uppercase(), &concrete, None).await;
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{other} {path} is served but not documented"
                );
            }
        }
    }
}
