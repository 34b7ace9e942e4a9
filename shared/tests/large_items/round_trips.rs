//! Large parts' way through the bucket and back: payloads, results and pipeline steps as if
//! inline, what they cost in write units, the objects left by writes that lost, and pages of jobs
//! that fit a Lambda response; without a bucket, a payload too large is refused at enqueue.

use axum::http::StatusCode;
use chrono::Duration;
use jobq::domain::progress::ProgressUpdate;
use jobq::ports::Clock;
use jobq::store::{INLINE_MAX, RunOutcome};
use jobq::{JobStatus, NewJob};
use serde_json::json;

use super::{KIB, json_len, stack, text_of};

#[tokio::test(start_paused = true)]
async fn a_200_kib_payload_and_its_result_round_trip_through_the_api_and_the_worker() {
    let s = stack(true);
    let payload = text_of(200 * KIB);
    let (status, created) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": payload}))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", created["error"]);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(s.drain().await, 1);

    let (status, job) = s.call("GET", &format!("/jobs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "completed", "{}", job["error"]);
    assert!(job["payload"] == payload, "the payload reads back whole ({} bytes)", json_len(&job["payload"]));
    assert!(job["result"] == payload, "the result reads back whole ({} bytes)", json_len(&job["result"]));
    assert!(job["completed_at"].is_string());
    let keys = s.bucket_keys();
    assert_eq!(keys.len(), 2, "the payload and the result, each in the bucket: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&format!("jobq-data/{id}/"))), "{keys:?}");

    let (status, page) = s.call("GET", "/jobs?type=echo", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &page["jobs"][0];
    assert!(listed["payload"] == payload && listed["result"] == payload, "listings read them back too");
}

/// An object whose write then lost its condition is named by no job: it is deleted at once, not
/// left to the bucket's expiry. A create under a taken idempotency key, a finish by a run that no
/// longer owns its job.
#[tokio::test(start_paused = true)]
async fn objects_of_writes_that_lost_their_condition_are_deleted() {
    let s = stack(true);
    let body = json!({"type": "echo", "payload": text_of(100 * KIB), "idempotency_key": "big-1"});
    let (status, first) = s.call("POST", "/jobs", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", first["error"]);
    let (_, again) = s.call("POST", "/jobs", Some(&body)).await;
    assert_eq!(again["id"], first["id"], "the same job");
    assert_eq!(s.bucket_keys().len(), 1, "only the first create's payload: {:?}", s.bucket_keys());

    let store = &s.ports.store;
    let id = first["id"].as_str().expect("id");
    let job = store.get(id, true).await.expect("get").expect("the job");
    let now = s.clock.now();
    let run = store.claim(id, job.generation, now, now + Duration::seconds(60)).await.expect("claim");
    let result = RunOutcome::Completed { result: Some(text_of(100 * KIB)) };
    store.finish(&run, result.clone(), None, now).await.expect("finish");
    assert_eq!(s.bucket_keys().len(), 2, "the payload and the result");
    // The same run again, as a delivery whose outcome was already written by another would.
    store.finish(&run, result, None, now).await.expect_err("no longer the run's job");
    assert_eq!(s.bucket_keys().len(), 2, "the refused finish's result is gone: {:?}", s.bucket_keys());
}

#[tokio::test(start_paused = true)]
async fn small_jobs_make_no_bucket_request() {
    let s = stack(true);
    let (status, _) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": {"a": 1}}))).await;
    assert_eq!(status, StatusCode::CREATED);
    s.drain().await;
    let (_, page) = s.call("GET", "/jobs", None).await;
    assert_eq!(page["jobs"][0]["result"], json!({"a": 1}));
    let blobs = s.blobs.as_ref().expect("bucket");
    assert!(blobs.requests().is_empty(), "{:?}", blobs.requests());
}

#[tokio::test(start_paused = true)]
async fn without_a_bucket_a_payload_too_large_for_a_record_is_refused_with_413_naming_the_limit() {
    let s = stack(false);
    let payload = text_of(INLINE_MAX + 1);
    let (status, answer) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": payload}))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["field"], "payload");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&INLINE_MAX.to_string()), "names the limit: {message}");
    let (status, _) = s.call("GET", "/jobs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.ports.store.count(JobStatus::Queued, None).await.expect("count"), 0, "nothing stored");

    let (status, _) =
        s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": text_of(INLINE_MAX)}))).await;
    assert_eq!(status, StatusCode::CREATED, "up to the limit is accepted");
}

/// A pipeline of `steps` `echo` steps after the first, each with a payload of `bytes`.
fn pipeline(steps: usize, bytes: usize) -> Vec<NewJob> {
    let step = NewJob { job_type: "echo".into(), payload: text_of(bytes), ..NewJob::default() };
    vec![step; steps]
}

/// A job whose payload (20 KiB) and pipeline (300 KB) are far larger than the item's budget: its
/// claim, progress and lease writes cost a few write units each, not one per KB of its parts.
#[tokio::test(start_paused = true)]
async fn a_job_with_large_parts_costs_a_few_write_units_per_common_write() {
    let s = stack(true);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: text_of(20 * KIB),
        next: pipeline(10, 30_000),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec.clone()).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    s.table.reset_write_units();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let claim = s.table.write_units().charged.table;
    let update = ProgressUpdate { percent: 40, step: Some("a".into()), message: Some("m".repeat(100)) };
    store.progress(&run, &update).await.expect("progress");
    store.renew_lease(&run, now + Duration::seconds(120)).await.expect("lease");
    let units = s.table.write_units().charged.table;
    assert!(claim <= 3, "the claim cost {claim} units");
    assert!(units - claim <= 6, "a progress write and a heartbeat cost {} units", units - claim);

    // Read back whole, and the pipeline goes on from the bucket.
    let shown = s.service.get(&job.id).await.expect("get").expect("exists");
    assert!(shown.next == spec.next && shown.payload == spec.payload, "read back whole");
    store
        .finish(&run, RunOutcome::Completed { result: Some(text_of(20 * KIB)) }, None, now)
        .await
        .expect("finish");
    let redelivered = jobq::Envelope::new(&job.id, "echo", job.tier, 0);
    s.ports.queues.send(&redelivered, 0).await.expect("send");
    s.drain().await;
    let (_, page) = s.call("GET", "/jobs?type=echo&limit=50", None).await;
    let jobs = page["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 11, "every step of the pipeline ran, each carrying the rest");
    assert!(jobs.iter().all(|j| j["status"] == "completed"), "{page}");
}

/// A `partial` outcome with large error and result texts, of a job whose payload and pipeline
/// filled what the API accepts (350,000 bytes of spec, its payload at the most the item held):
/// stored, not refused for DynamoDB's 400 KB, and read back.
#[tokio::test(start_paused = true)]
async fn a_partial_outcome_of_a_job_with_every_part_large_is_stored() {
    let s = stack(true);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: text_of(INLINE_MAX),
        next: pipeline(10, 31_600),
        ..NewJob::default()
    };
    assert!(json_len(&serde_json::to_value(&spec).expect("json")) < 350_000, "what the API accepts");
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let pending =
        ProgressUpdate { percent: 90, step: Some("s".repeat(300)), message: Some("m".repeat(5000)) };
    let details = text_of(jobq::store::bounds::ERROR_DETAILS_MAX);
    let error =
        jobq::domain::model::JobFailure { message: "e".repeat(300_000), details: Some(details.clone()) };
    let outcome = RunOutcome::Partial { result: Some(text_of(INLINE_MAX)), error };
    let done = store.finish(&run, outcome, Some(&pending), now).await.expect("stored");
    assert_eq!(done.status, JobStatus::Partial);
    let shown = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!(shown.result, Some(text_of(INLINE_MAX)));
    let error = shown.error.expect("error");
    assert!(error.message.ends_with("[truncated from 300000 bytes]"), "bounded: {}", error.message.len());
    assert_eq!(error.details, Some(details));
}

/// A retry of a job whose last life ended `partial` with a result in the bucket: the item names
/// that result no more, so the object is deleted, not left until the bucket's expiry.
#[tokio::test(start_paused = true)]
async fn a_retry_deletes_the_result_of_the_life_it_ends() {
    let s = stack(true);
    let spec = NewJob { job_type: "echo".into(), payload: json!({"a": 1}), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let error = jobq::domain::model::JobFailure { message: "half".into(), details: None };
    let outcome = RunOutcome::Partial { result: Some(text_of(100 * KIB)), error };
    let partial = store.finish(&run, outcome, None, now).await.expect("partial");
    assert_eq!(s.bucket_keys().len(), 1, "its result");
    s.drain().await;

    let retried = s.service.retry(&job.id, None, "ops").await.expect("retry");
    assert_eq!((retried.status, retried.result), (JobStatus::Queued, None));
    assert_eq!(s.bucket_keys(), Vec::<String>::new(), "the last life's result is gone");
    // A read from before the retry (a lagging listing) names the deleted object: it shows the job
    // as it is now instead of failing.
    let shown = store.resolve(partial).await.expect("resolved");
    assert_eq!((shown.status, shown.result), (JobStatus::Queued, None));
    assert_eq!(s.drain().await, 1);
    let done = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((done.status, done.result), (JobStatus::Completed, Some(json!({"a": 1}))));
}

#[tokio::test(start_paused = true)]
async fn the_stores_own_objects_in_the_bucket_become_no_jobs() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use jobq::handlers::ingest::{IngestHandler, IngestRules};
    let s = stack(true);
    // A rule that takes every upload, as the local host's default does.
    let rules = IngestRules::parse("rules", r#"[{"bucket": "b", "type": "echo"}]"#).expect("rules");
    let handler = IngestHandler::new(s.service.clone(), rules, None);
    let record = |key: &str| {
        let object = json!({"key": key, "size": 3, "eTag": "e1", "sequencer": "0A"});
        json!({"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
               "s3": {"bucket": {"name": "b"}, "object": object}})
    };
    let body = json!({"Records": [record("jobq-data/j1/payload-t.json"), record("inbox/a.pdf")]});
    let mut message = SqsMessage::default();
    message.message_id = Some("m1".into());
    message.body = Some(body.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    let response = handler.handle(event).await;
    assert!(response.batch_item_failures.is_empty());
    let (_, page) = s.call("GET", "/jobs", None).await;
    let keys: Vec<&str> =
        page["jobs"].as_array().into_iter().flatten().filter_map(|j| j["payload"]["key"].as_str()).collect();
    assert_eq!(keys, ["inbox/a.pdf"], "only the upload");
}

#[tokio::test(start_paused = true)]
async fn a_page_of_jobs_always_fits_a_lambda_response_and_its_cursor_reaches_the_rest() {
    let s = stack(true);
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..8 {
        // 1 MiB payloads, kept in the bucket: eight of them would make an 8 MiB page.
        let spec = NewJob { job_type: "noop".into(), payload: text_of(1024 * KIB), ..NewJob::default() };
        ids.insert(s.service.enqueue(spec).await.expect("enqueue").0.id);
        s.clock.advance(chrono::Duration::milliseconds(5));
    }
    let (mut seen, mut cursor, mut pages) = (std::collections::BTreeSet::new(), None::<String>, 0);
    loop {
        let uri = match &cursor {
            Some(c) => format!("/jobs?limit=8&cursor={c}"),
            None => "/jobs?limit=8".to_owned(),
        };
        let (status, page) = s.call("GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(json_len(&page) < 6_000_000, "page {pages} is {} bytes", json_len(&page));
        pages += 1;
        for job in page["jobs"].as_array().expect("jobs") {
            assert_eq!(json_len(&job["payload"]), 1024 * KIB, "payloads come whole");
            assert!(seen.insert(job["id"].as_str().expect("id").to_owned()), "listed twice");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every job listed once");
    assert!(pages >= 2, "split into pages that fit");
}
