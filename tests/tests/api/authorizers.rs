//! The caller as Lambda receives it behind API Gateway: an HTTP API (payload 2.0) event whose
//! authorizer verified a JWT (its `sub` and role claim, or scopes) or an IAM principal, decoded by
//! `lambda_http` as the API function decodes it, through the real router.

use axum::http::StatusCode;
use jobq::api::ApiSettings;
use jobq::api::identity::IdentitySettings;
use jobq::config::Vars;
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};
use tower::ServiceExt;

/// An HTTP API event for `method path` with `authorizer` as its request context says.
fn event(method: &str, path: &str, body: Option<Value>, authorizer: Value) -> String {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "host": "api.example.com" },
        "requestContext": {
            "accountId": "111122223333", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "07/Dec/2026:19:00:00 +0000", "timeEpoch": 1796670000000u64,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1",
                      "sourceIp": "192.0.2.1", "userAgent": "test" },
            "authorizer": authorizer
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
    .to_string()
}

fn jwt(claims: Value, scopes: Option<Vec<&str>>) -> Value {
    json!({ "jwt": { "claims": claims, "scopes": scopes } })
}

async fn send(router: &axum::Router, event: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(event).expect("an HTTP API event");
    let response = router.clone().oneshot(request).await.expect("router never fails");
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn settings(vars: &[(&str, &str)]) -> ApiSettings {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let identity = IdentitySettings::from_vars(&Vars::new(lookup)).expect("identity");
    ApiSettings { identity, ..ApiSettings::default() }
}

#[tokio::test]
async fn a_jwt_authorizer_s_sub_owns_the_job_and_its_role_claim_decides() {
    let env = TestEnv::new().await;
    let api = env.api(settings(&[("JOBQ_JWT_ROLE_CLAIM", "custom:jobq_role")]));
    let submitter = jwt(json!({"sub": "user-7", "custom:jobq_role": "submitter"}), None);
    let (status, job) =
        send(&api, &event("POST", "/jobs", Some(json!({"type": "noop"})), submitter.clone())).await;
    assert_eq!((status, job["owner"].as_str()), (StatusCode::CREATED, Some("user-7")), "{job}");
    let id = job["id"].as_str().expect("id");

    let other = jwt(json!({"sub": "user-8"}), Some(vec!["openid", "jobq/submitter"]));
    let (status, _) = send(&api, &event("GET", &format!("/jobs/{id}"), None, other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another sub's job is no job to it");
    let (status, _) = send(&api, &event("GET", &format!("/jobs/{id}"), None, submitter)).await;
    assert_eq!(status, StatusCode::OK);

    let viewer = jwt(json!({"sub": "user-9", "custom:jobq_role": "viewer"}), None);
    let (status, err) = send(&api, &event("POST", "/jobs", Some(json!({"type": "noop"})), viewer)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let roleless = jwt(json!({"sub": "user-10"}), Some(vec!["openid"]));
    let (status, err) = send(&api, &event("GET", "/jobs", None, roleless)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{err}");
}

#[tokio::test]
async fn an_iam_principal_takes_the_role_its_arn_pattern_gives() {
    let env = TestEnv::new().await;
    let roles = r#"{"arn:aws:sts::*:assumed-role/web-*/*": "submitter"}"#;
    let api = env.api(settings(&[("JOBQ_IAM_ROLES", roles)]));
    let iam = |arn: &str| json!({ "iam": { "accountId": "111122223333", "userArn": arn, "userId": "AIDA" } });
    let web = iam("arn:aws:sts::111122223333:assumed-role/web-app/s-1");
    let (status, job) = send(&api, &event("POST", "/jobs", Some(json!({"type": "noop"})), web.clone())).await;
    assert_eq!(
        (status, job["owner"].as_str()),
        (StatusCode::CREATED, Some("arn:aws:sts::111122223333:assumed-role/web-app/s-1"))
    );
    let (status, _) = send(&api, &event("POST", "/pause", Some(json!({"scope": "all"})), web)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a submitter does not pause");
    let stranger = iam("arn:aws:iam::111122223333:user/dana");
    let (status, _) = send(&api, &event("GET", "/jobs", None, stranger)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no pattern, no role");
}
