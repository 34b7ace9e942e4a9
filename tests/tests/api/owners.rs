//! Owners and roles through the real router: each role reaches only its routes, a submitter only
//! its own jobs (another owner's answers 404), keys are per owner, and an admin enqueues for
//! another owner.

use axum::http::StatusCode;
use jobq::api::ApiSettings;
use jobq::api::identity::IdentitySettings;
use jobq::domain::model::job_id_for_key;
use jobq::{JobStatus, NewJob};
use jobq_integration_tests::{TestEnv, call_bytes, call_raw};
use serde_json::{Value, json};

const TOKENS: &str = "tA=alice:submitter,tB=bob:submitter,tV=vera:viewer,tE=exec:executor,tX=ops:admin";

struct Api {
    router: axum::Router,
}

impl Api {
    fn new(env: &TestEnv) -> Api {
        let identity = IdentitySettings::tokens(TOKENS).expect("tokens");
        Api { router: env.api(ApiSettings { identity, ..ApiSettings::default() }) }
    }

    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        call_raw(&self.router, method, path, Some("application/json"), bytes, token).await
    }

    async fn enqueue(&self, token: &str, spec: Value) -> Value {
        let (status, job) = self.call(Some(token), "POST", "/jobs", Some(spec)).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        job
    }

    async fn ids(&self, token: &str, query: &str) -> Vec<String> {
        let (status, page) = self.call(Some(token), "GET", &format!("/jobs{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|j| j["id"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// The refusal's status and its JSON error's code and field.
fn refusal((status, body): (StatusCode, Value)) -> (StatusCode, String, Option<String>) {
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
    (status, code, body["error"]["field"].as_str().map(str::to_owned))
}

fn forbidden(field: Option<&str>) -> (StatusCode, String, Option<String>) {
    (StatusCode::FORBIDDEN, "forbidden".into(), field.map(str::to_owned))
}

#[tokio::test]
async fn a_submitter_sees_and_changes_only_its_own_jobs() {
    let env = TestEnv::new().await;
    let api = Api::new(&env);
    let alices = api.enqueue("tA", json!({"type": "noop", "idempotency_key": "k1"})).await;
    let bobs = api.enqueue("tB", json!({"type": "noop", "idempotency_key": "k1"})).await;
    assert_eq!((alices["owner"].as_str(), bobs["owner"].as_str()), (Some("alice"), Some("bob")));
    assert_ne!(alices["id"], bobs["id"], "the same key from two owners makes two jobs");
    let again =
        api.call(Some("tA"), "POST", "/jobs", Some(json!({"type": "noop", "idempotency_key": "k1"}))).await;
    assert_eq!((again.0, &again.1["id"]), (StatusCode::OK, &alices["id"]), "a key is its owner's");

    let id = alices["id"].as_str().expect("id");
    let not_found = |r: (StatusCode, Value)| refusal(r).0 == StatusCode::NOT_FOUND;
    assert!(not_found(api.call(Some("tB"), "GET", &format!("/jobs/{id}"), None).await));
    assert!(not_found(api.call(Some("tB"), "POST", &format!("/jobs/{id}/cancel"), None).await));
    assert!(not_found(api.call(Some("tB"), "POST", &format!("/jobs/{id}/retry"), None).await));
    assert_eq!(api.call(Some("tA"), "GET", &format!("/jobs/{id}"), None).await.0, StatusCode::OK);
    assert_eq!(env.job(id).await.status, JobStatus::Queued, "nothing bob sent changed it");

    assert_eq!(api.ids("tA", "").await, [id.to_owned()]);
    assert_eq!(api.ids("tB", "").await, [bobs["id"].as_str().expect("id").to_owned()]);
    let asked = api.call(Some("tA"), "GET", "/jobs?owner=bob", None).await;
    assert_eq!(refusal(asked), forbidden(Some("owner")));
    let mut all = api.ids("tV", "").await;
    all.sort();
    let mut both = vec![id.to_owned(), bobs["id"].as_str().expect("id").to_owned()];
    both.sort();
    assert_eq!(all, both, "a viewer sees every owner's jobs");
    assert_eq!(api.ids("tV", "?owner=bob").await, [bobs["id"].as_str().expect("id").to_owned()]);

    let cancelled = api.call(Some("tA"), "POST", &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!((cancelled.0, cancelled.1["status"].as_str()), (StatusCode::OK, Some("cancelled")));
}

#[tokio::test]
async fn each_role_reaches_only_its_routes_and_refusals_have_the_error_shape() {
    let env = TestEnv::new().await;
    let api = Api::new(&env);
    let job = api.enqueue("tX", json!({"type": "noop"})).await;
    let id = job["id"].as_str().expect("id");

    let unauthorized = (StatusCode::UNAUTHORIZED, "unauthorized".to_owned(), None);
    assert_eq!(refusal(api.call(None, "GET", "/jobs", None).await), unauthorized);
    assert_eq!(refusal(api.call(Some("nope"), "GET", "/jobs", None).await), unauthorized);
    assert_eq!(api.call(None, "GET", "/health", None).await.0, StatusCode::OK);
    assert_eq!(refusal(api.call(None, "GET", "/favicon.ico", None).await), unauthorized, "no route said");
    assert_eq!(api.call(Some("tV"), "GET", "/favicon.ico", None).await.0, StatusCode::NOT_FOUND);
    let another_method = api.call(None, "POST", "/health", None).await.0;
    assert_eq!(another_method, StatusCode::METHOD_NOT_ALLOWED, "an open path is no secret");

    for (method, path, body) in [
        ("POST", "/jobs".to_owned(), Some(json!({"type": "noop"}))),
        ("POST", format!("/jobs/{id}/cancel"), None),
        ("POST", format!("/jobs/{id}/retry"), None),
        ("PATCH", format!("/jobs/{id}"), Some(json!({"progress": 5}))),
        ("POST", "/jobs/retry".to_owned(), Some(json!({"status": "failed"}))),
        ("POST", "/pause".to_owned(), Some(json!({"scope": "all"}))),
    ] {
        let answer = api.call(Some("tV"), method, &path, body).await;
        assert_eq!(refusal(answer), forbidden(None), "a viewer cannot {method} {path}");
    }
    for path in ["/stats", "/pause"] {
        assert_eq!(
            refusal(api.call(Some("tA"), "GET", path, None).await),
            forbidden(None),
            "submitter {path}"
        );
        assert_eq!(api.call(Some("tV"), "GET", path, None).await.0, StatusCode::OK, "viewer {path}");
    }
    let metrics = |token| call_bytes(&api.router, "GET", "/metrics", None, Vec::new(), Some(token));
    assert_eq!(metrics("tA").await.0, StatusCode::FORBIDDEN, "a submitter reads no metrics");
    assert_eq!(metrics("tV").await.0, StatusCode::OK, "a viewer does");
    assert_eq!(refusal(api.call(Some("tE"), "GET", "/jobs", None).await), forbidden(None), "executor lists");
    assert_eq!(api.call(Some("tE"), "GET", &format!("/jobs/{id}"), None).await.0, StatusCode::OK);
    let reported = api.call(Some("tE"), "PATCH", &format!("/jobs/{id}"), Some(json!({"progress": 5}))).await;
    assert!(!matches!(reported.0, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{reported:?}");
}

#[tokio::test]
async fn an_admin_enqueues_for_an_owner_and_nobody_else_may() {
    let env = TestEnv::new().await;
    let api = Api::new(&env);
    let for_alice = api.enqueue("tX", json!({"type": "noop", "owner": "alice", "group": "book:1"})).await;
    assert_eq!((for_alice["owner"].as_str(), for_alice["group"].as_str()), (Some("alice"), Some("book:1")));
    let own = api.enqueue("tA", json!({"type": "noop"})).await;
    let mut listed = api.ids("tA", "").await;
    listed.sort();
    let mut expected =
        [for_alice["id"].as_str().expect("id").to_owned(), own["id"].as_str().expect("id").to_owned()];
    expected.sort();
    assert_eq!(listed, expected, "the admin's enqueue lists under alice");
    assert_eq!(api.ids("tA", "?group=book:1").await, [for_alice["id"].as_str().expect("id").to_owned()]);

    let named = api.call(Some("tA"), "POST", "/jobs", Some(json!({"type": "noop", "owner": "bob"}))).await;
    assert_eq!(refusal(named), forbidden(Some("owner")));
    let batch = json!({"jobs": [{"type": "noop"}, {"type": "noop", "owner": "bob"}]});
    assert_eq!(
        refusal(api.call(Some("tA"), "POST", "/jobs/batch", Some(batch)).await),
        forbidden(Some("jobs[1].owner"))
    );
    let reserved =
        api.call(Some("tX"), "POST", "/jobs", Some(json!({"type": "noop", "owner": "jobq:scheduler"}))).await;
    assert_eq!(
        (reserved.0, reserved.1["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("owner"))
    );
}

#[tokio::test]
async fn no_key_reaches_a_system_job() {
    let env = TestEnv::new().await;
    let api = Api::new(&env);
    let key = "schedule:nightly:2026-12-07T00:00:00.000Z";
    let scheduled = NewJob {
        job_type: "noop".into(),
        idempotency_key: Some(key.into()),
        owner: Some("jobq:scheduler".into()),
        ..NewJob::default()
    };
    let system = env.enqueue(scheduled).await;
    assert_eq!(system.id, job_id_for_key(key));
    let (status, mine) =
        api.call(Some("tA"), "POST", "/jobs", Some(json!({"type": "noop", "idempotency_key": key}))).await;
    assert_eq!(status, StatusCode::CREATED, "a new job of alice's, not the schedule's: {mine}");
    assert_ne!(mine["id"].as_str(), Some(system.id.as_str()));
    let (status, _) = api.call(Some("tA"), "GET", &format!("/jobs/{}", system.id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a system job is no job to a submitter");
    assert_eq!(api.call(Some("tX"), "GET", &format!("/jobs/{}", system.id), None).await.0, StatusCode::OK);
}

/// Who created, cancelled, retried, reported on and paused, and when: on the record, in
/// `GET /jobs/{id}` and `GET /pause`.
#[tokio::test]
async fn the_audit_names_who_changed_a_job_and_when() {
    let env = TestEnv::new().await;
    let api = Api::new(&env);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let job = api.enqueue("tX", json!({"type": "noop", "owner": "alice"})).await;
    assert_eq!((job["owner"].as_str(), job["audit"]["created_by"].as_str()), (Some("alice"), Some("ops")));
    let id = job["id"].as_str().expect("id");
    let mark = |job: &Value, what: &str| {
        let at = job["audit"][what]["at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        assert!(at.is_some_and(|at| at >= before), "{what} has its time: {job}");
        job["audit"][what]["by"].as_str().unwrap_or_default().to_owned()
    };
    let (status, cancelled) = api.call(Some("tA"), "POST", &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(mark(&cancelled, "cancelled"), "alice");
    let (status, retried) = api.call(Some("tX"), "POST", &format!("/jobs/{id}/retry"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(mark(&retried, "retried"), "ops");
    let report = json!({"progress": 40, "message": "halfway"});
    let (status, patched) = api.call(Some("tE"), "PATCH", &format!("/jobs/{id}"), Some(report)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(mark(&patched, "patched"), "exec");
    // Read back from the record: every mark kept.
    let (_, read) = api.call(Some("tV"), "GET", &format!("/jobs/{id}"), None).await;
    let marks = ["cancelled", "retried", "patched"].map(|what| mark(&read, what));
    assert_eq!(marks, ["alice", "ops", "exec"], "{read}");
    assert_eq!(read["audit"]["created_by"].as_str(), Some("ops"));

    let (status, flags) = api.call(Some("tX"), "POST", "/pause", Some(json!({"scope": "type:noop"}))).await;
    assert_eq!(status, StatusCode::OK, "{flags}");
    let (_, flags) = api.call(Some("tV"), "GET", "/pause", None).await;
    assert_eq!(flags["changes"]["type:noop"]["by"].as_str(), Some("ops"), "{flags}");
    assert_eq!(flags["changes"]["type:noop"]["paused"].as_bool(), Some(true), "{flags}");
    api.call(Some("tX"), "POST", "/resume", Some(json!({"scope": "type:noop"}))).await;
    let (_, flags) = api.call(Some("tV"), "GET", "/pause", None).await;
    assert_eq!(flags["changes"]["type:noop"]["paused"].as_bool(), Some(false), "{flags}");
}
