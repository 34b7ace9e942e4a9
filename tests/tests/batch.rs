//! `POST /jobs/batch` on the real adapters when SQS or DynamoDB fail part of it: the answer lists,
//! entry by entry, exactly the jobs the table holds. A fault proxy between the API's clients and
//! the emulator injects what each test scripts (with the SDK's retries off, so every injected
//! fault reaches the product).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use jobq::PriorityTier;
use jobq::api::ApiSettings;
use jobq_integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy};
use jobq_integration_tests::{TestEnv, call};
use serde_json::{Value, json};

async fn api_via_proxy(env: &TestEnv) -> (FaultProxy, axum::Router) {
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::none()).await;
    let (clients, _) = env.clients_via_with_attempts(proxy.url(), 1);
    let types = jobq::domain::task::Registry::with_builtins().job_types();
    (
        proxy,
        jobq::api::router(
            jobq::Ports::aws(&clients, &env.config).service(&env.config, types),
            ApiSettings::default(),
        ),
    )
}

fn entries(answer: &Value) -> &[Value] {
    answer["entries"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The entries' ids whose `exists` is `exists` (`Value::Null` for unknown).
fn ids_where(answer: &Value, exists: &Value) -> BTreeSet<String> {
    entries(answer)
        .iter()
        .filter(|e| &e["exists"] == exists)
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

/// The ids of the jobs the table holds under `batch_id` (read past the proxy).
/// Which of the jobs a batch's answer names are in the table (read by key: a batch's listing
/// starts from what its enqueue or the counter noted, and here neither may have).
async fn in_table(env: &TestEnv, answer: &Value) -> BTreeSet<String> {
    let ids: Vec<String> =
        entries(answer).iter().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect();
    env.store().batch_get(&ids).await.expect("read").into_iter().map(|j| j.id).collect()
}

async fn messages(env: &TestEnv, tier: PriorityTier) -> u64 {
    let depth = env.queues().depth(tier).await.expect("depth");
    depth.visible + depth.in_flight + depth.delayed
}

#[tokio::test]
async fn a_batch_whose_normal_queue_is_gone_lists_exactly_the_jobs_in_the_table() {
    let env = TestEnv::new().await;
    let (proxy, api) = api_via_proxy(&env).await;
    let normal = env.config.queues.get(PriorityTier::Normal);
    env.clients.sqs.delete_queue().queue_url(normal).send().await.expect("delete the normal queue");
    // Of the three normal jobs whose message SQS refuses, the first removal fails too.
    proxy.inject_next("DynamoDB:DeleteItem", Fault::ServerError);
    let jobs: Vec<Value> = (0..7)
        .map(|i| json!({"type": "noop", "payload": {"i": i}, "priority": if i < 4 { "high" } else { "normal" }}))
        .collect();

    let (status, answer) =
        call(&api, "POST", "/jobs/batch", Some(json!({"jobs": jobs, "batch_id": "b"}))).await;
    let exist = ids_where(&answer, &json!(true));
    assert_eq!(in_table(&env, &answer).await, exist, "exactly the jobs the answer says exist: {answer}");
    assert_eq!(proxy.scripted_left(), 0);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::MULTI_STATUS, Some("batch_incomplete")),
        "{answer}"
    );
    let outcome = |i: usize| entries(&answer)[i]["outcome"].as_str().unwrap_or_default().to_owned();
    assert_eq!((0..4).map(outcome).collect::<Vec<_>>(), ["enqueued"; 4], "{answer}");
    let mut normal_outcomes: Vec<String> = (4..7).map(outcome).collect();
    normal_outcomes.sort();
    assert_eq!(normal_outcomes, ["not_created", "not_created", "unsent"], "{answer}");
    assert_eq!(exist.len(), 5);
    assert!(ids_where(&answer, &Value::Null).is_empty());
    assert_eq!(messages(&env, PriorityTier::High).await, 4);
}

#[tokio::test]
async fn a_batch_whose_write_and_removal_fail_names_the_one_job_in_doubt() {
    let env = TestEnv::new().await;
    let (proxy, api) = api_via_proxy(&env).await;
    // The first BatchWriteItem (25 records) takes effect but its answer is lost; of their
    // removals the first fails: that record stays, and the service cannot know it exists.
    proxy.inject_next("DynamoDB:BatchWriteItem", Fault::DropAfter);
    proxy.inject_next("DynamoDB:DeleteItem", Fault::ServerError);
    let jobs: Vec<Value> = (0..30).map(|i| json!({"type": "noop", "payload": {"i": i}})).collect();

    let (status, answer) =
        call(&api, "POST", "/jobs/batch", Some(json!({"jobs": jobs, "batch_id": "b"}))).await;
    let unknown = ids_where(&answer, &Value::Null);
    assert_eq!(
        in_table(&env, &answer).await,
        unknown,
        "only the job in doubt may exist, and it does: {answer}"
    );
    assert_eq!(proxy.scripted_left(), 0);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::MULTI_STATUS, Some("batch_incomplete")),
        "{answer}"
    );
    assert_eq!(unknown.len(), 1, "{answer}");
    assert_eq!(ids_where(&answer, &json!(false)).len(), 29, "{answer}");
    for tier in PriorityTier::ALL {
        assert_eq!(messages(&env, tier).await, 0, "{tier}: nothing sent");
    }
}
