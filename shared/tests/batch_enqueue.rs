//! `POST /jobs/batch` through the real router and service on the in-memory ports, when messages
//! or records cannot all be written: no job is left behind that the answer does not name, and
//! what a client sends again after recovery makes exactly one job per entry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::DateTime;
use jobq::adapters::memory::QueueSettings;
use jobq::api::ApiSettings;
use jobq::domain::task::Registry;
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::ManualClock;
use jobq::resources::{MAX_RECEIVE_COUNT, QUEUE_VISIBILITY_TIMEOUT_SECONDS, ResourceNames};
use jobq::wiring::MemoryAws;
use jobq::{JobStatus, Ports, PriorityTier};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Stack {
    ports: Ports,
    aws: MemoryAws,
    service: JobService,
    api: axum::Router,
    worker: Worker,
}

fn stack() -> Stack {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    let (ports, aws) = Ports::memory(Arc::new(clock)).expect("memory ports");
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let api = jobq::api::router(service.clone(), ApiSettings::default());
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { ports, aws, service, api, worker }
}

impl Stack {
    /// POST /jobs/batch: the status, the Retry-After header and the JSON answer.
    async fn post_batch(&self, body: &Value) -> (StatusCode, Option<String>, Value) {
        let request = axum::http::Request::post("/jobs/batch")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let response = self.api.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let retry_after = response
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        (status, retry_after, serde_json::from_slice(&bytes).expect("JSON"))
    }

    /// The ids among `ids` that have a record.
    async fn existing(&self, ids: &[String]) -> BTreeSet<String> {
        let jobs = self.ports.store.batch_get(ids).await.expect("read");
        jobs.into_iter().map(|j| j.id).collect()
    }

    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    /// Every job of the batch ran to completion, and there are `total` of them.
    async fn assert_completed(&self, batch_id: &str, total: usize) {
        let summary = self.service.batch(batch_id).await.expect("summary");
        assert_eq!(summary.total, total);
        assert_eq!(summary.counts.get(&JobStatus::Completed), Some(&total), "{summary:?}");
    }
}

fn entries(answer: &Value) -> &[Value] {
    answer["entries"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The entries' ids whose `exists` is `exists`.
fn ids_where(answer: &Value, exists: bool) -> BTreeSet<String> {
    entries(answer)
        .iter()
        .filter(|e| e["exists"] == json!(exists))
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

fn table_requests_since(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_messages_cannot_be_sent_leaves_no_job_and_the_same_request_then_makes_one_each() {
    let s = stack();
    let jobs: Vec<Value> = (0..15)
        .map(|i| json!({"type": "echo", "payload": {"i": i}, "priority": if i < 12 { "high" } else { "normal" }}))
        .collect();
    let body = json!({"jobs": jobs, "batch_id": "b1"});

    s.aws.queues.set_throttled(true);
    let (status, retry_after, answer) = s.post_batch(&body).await;
    s.aws.queues.set_throttled(false);
    assert_eq!(s.aws.table.len(), 0, "no record left behind for the scheduler to send later: {answer}");
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("batch_not_created")),
        "{answer}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(entries(&answer).len(), 15);
    for (i, entry) in entries(&answer).iter().enumerate() {
        assert_eq!(
            (entry["index"].as_u64(), entry["outcome"].as_str()),
            (Some(i as u64), Some("not_created"))
        );
        assert_eq!(entry["exists"], json!(false));
        assert!(entry["reason"].as_str().is_some_and(|r| r.contains("RequestThrottled")), "{entry}");
    }
    assert_eq!(s.drain().await, 0, "and no message");

    // Recovered: the same request makes one job per entry, at the cost of a batch that succeeds
    // at once: one BatchWriteItem, a SendMessageBatch per ten jobs of a tier, and the batch's note
    // of the jobs it made (one UpdateItem, one item).
    let (table_before, sqs_before) = (s.aws.table.requests(), s.aws.queues.requests().snapshot());
    let (status, _, answer) = s.post_batch(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["jobs"].as_array().map(Vec::len), Some(15));
    assert_eq!(
        table_requests_since(&table_before, &s.aws.table.requests()),
        BTreeMap::from([("BatchWriteItem", 1), ("UpdateItem", 1)])
    );
    let sqs = s.aws.queues.requests().since(&sqs_before);
    assert_eq!(sqs.into_iter().collect::<Vec<_>>(), [("SQS:SendMessageBatch".to_owned(), 3)]);
    assert_eq!(s.aws.table.len(), 15 + 1);
    assert_eq!(s.drain().await, 15);
    s.assert_completed("b1", 15).await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_sent_in_part_lists_exactly_the_jobs_that_exist_and_resending_the_rest_makes_one_each() {
    let s = stack();
    let mut jobs: Vec<Value> = (0..7)
        .map(|i| json!({"type": "echo", "payload": {"i": i}, "priority": if i < 4 { 9 } else { 5 }}))
        .collect();
    jobs.push(json!({"type": "echo", "payload": {"i": 7}, "priority": 5, "idempotency_key": "k-7"}));
    let body = json!({"jobs": jobs, "batch_id": "b2"});
    let normal = s.aws.config.queues.get(PriorityTier::Normal).clone();
    s.aws.queues.delete_queue(&normal).expect("delete the normal queue");

    let (status, _, answer) = s.post_batch(&body).await;
    // The batch's note of the jobs it made is one item more (see `jobq::store::BatchCounters`).
    assert_eq!(s.aws.table.len(), 4 + 1, "the high jobs, sent; no normal one: {answer}");
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::MULTI_STATUS, Some("batch_incomplete")),
        "{answer}"
    );
    let outcomes: Vec<(&str, bool)> = entries(&answer)
        .iter()
        .map(|e| (e["outcome"].as_str().unwrap_or(""), e["exists"].as_bool().unwrap_or_default()))
        .collect();
    assert_eq!(outcomes, [[("enqueued", true); 4].as_slice(), &[("not_created", false); 4]].concat());
    for entry in &entries(&answer)[..4] {
        assert_eq!(entry["job"]["id"], entry["id"], "an existing job comes with its record");
    }
    let all: Vec<String> =
        entries(&answer).iter().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(s.existing(&all).await, ids_where(&answer, true), "exactly the jobs the answer says exist");

    // The queue is back; the client sends again only the entries that were not created.
    let names = ResourceNames::new("jobq-");
    let settings = QueueSettings::new(QUEUE_VISIBILITY_TIMEOUT_SECONDS as i32)
        .with_redrive(s.aws.config.dlqs.get(PriorityTier::Normal).clone(), MAX_RECEIVE_COUNT);
    assert_eq!(
        s.aws.queues.create_queue(&names.queue(PriorityTier::Normal), settings).expect("create"),
        normal
    );
    let again: Vec<Value> = entries(&answer)
        .iter()
        .filter(|e| e["outcome"] == "not_created")
        .filter_map(|e| e["index"].as_u64().map(|i| jobs[i as usize].clone()))
        .collect();
    let (status, _, resent) = s.post_batch(&json!({"jobs": again, "batch_id": "b2"})).await;
    assert_eq!(status, StatusCode::CREATED, "{resent}");
    assert_eq!(s.aws.table.len(), 8 + 1, "one job per entry, and the batch's note");
    assert_eq!(s.drain().await, 8);
    s.assert_completed("b2", 8).await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_records_cannot_all_be_written_is_removed_whole() {
    let s = stack();
    let jobs: Vec<Value> = (0..30).map(|i| json!({"type": "echo", "payload": {"i": i}})).collect();
    let body = json!({"jobs": jobs, "batch_id": "b3"});
    // The first BatchWriteItem (25 records) takes effect but its answer is lost: the service
    // cannot tell it went in, and stops before the other five.
    s.aws.table.lose_next_responses(1);

    let (status, _, answer) = s.post_batch(&body).await;
    assert_eq!(s.aws.table.len(), 0, "the 25 written were removed again: {answer}");
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("batch_not_created")),
        "{answer}"
    );
    assert_eq!(ids_where(&answer, false).len(), 30, "{answer}");
    assert_eq!(s.drain().await, 0);

    let (status, _, answer) = s.post_batch(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(s.aws.table.len(), 30 + 1, "one job per entry, and the batch's note");
    assert_eq!(s.drain().await, 30);
    s.assert_completed("b3", 30).await;
}
