//! The blob port on S3 (the emulator): objects round-trip by key and are deleted by it, a missing
//! key is `NotFound`, a missing bucket is refused as such (not transient), by the health check
//! too; and the store keeps a
//! large payload and result there, reading them back whole, while a small job makes no S3 request.

use std::sync::Arc;

use chrono::Utc;
use jobq::adapters::aws::S3Blobs;
use jobq::ports::blobs::{BlobError, Blobs};
use jobq::store::RunOutcome;
use jobq::{Job, JobStatus, NewJob};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

#[tokio::test]
async fn objects_round_trip_and_failures_are_sorted() {
    let env = TestEnv::new().await;
    let blobs = S3Blobs::new(env.clients.s3.clone(), &env.provisioned.bucket);
    let body = vec![b'x'; 300 * 1024];
    blobs.put("jobq-data/j1/payload-t.json", body.clone()).await.expect("put");
    let read = blobs.get("jobq-data/j1/payload-t.json").await.expect("get");
    assert!(read == body, "read back whole ({} bytes)", read.len());
    let missing = blobs.get("jobq-data/none.json").await.expect_err("missing");
    assert!(matches!(missing, BlobError::NotFound { .. }), "{missing}");
    // Deleted, then gone; deleting what is not there is no error (as S3 answers).
    blobs.delete("jobq-data/j1/payload-t.json").await.expect("delete");
    let gone = blobs.get("jobq-data/j1/payload-t.json").await.expect_err("deleted");
    assert!(matches!(gone, BlobError::NotFound { .. }), "{gone}");
    blobs.delete("jobq-data/j1/payload-t.json").await.expect("delete again");

    let nowhere = S3Blobs::new(env.clients.s3.clone(), format!("{}-absent", env.provisioned.bucket));
    let refused = nowhere.put("jobq-data/k", b"{}".to_vec()).await.expect_err("no such bucket");
    assert!(!refused.is_transient(), "sending it again fails again: {refused}");

    // The health check's: the bucket answers, a missing one is refused.
    blobs.check().await.expect("the bucket answers");
    let absent = nowhere.check().await.expect_err("no such bucket");
    assert!(!absent.is_transient(), "{absent}");
}

#[tokio::test]
async fn the_store_keeps_large_parts_in_the_bucket_and_small_jobs_make_no_s3_request() {
    let env = TestEnv::new().await;
    let blobs = S3Blobs::new(env.clients.s3.clone(), &env.provisioned.bucket);
    let store = env.store().with_blobs(Arc::new(blobs));
    let now = Utc::now();
    let payload = Value::String("p".repeat(200 * 1024));
    let job =
        Job::new(NewJob { job_type: "echo".into(), payload: payload.clone(), ..NewJob::default() }, now);
    store.create(&job).await.expect("create");
    let run = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    assert!(run.spilled.payload.is_some(), "named by key in the item");
    let run = store.resolve_payload(run).await.expect("payload read back");
    assert!(run.payload == payload);
    let outcome = RunOutcome::Completed { result: Some(payload.clone()) };
    let finished = store.finish(&run, outcome, None, now).await.expect("finish");
    assert_eq!(finished.status, JobStatus::Completed);
    let read =
        store.resolve(store.get(&job.id, true).await.expect("get").expect("exists")).await.expect("resolve");
    assert!(read.result.as_ref() == Some(&payload) && read.payload == payload, "both read back whole");
    assert!(read.completed_at.is_some());

    let before = env.requests.snapshot();
    let small =
        Job::new(NewJob { job_type: "echo".into(), payload: json!({"a": 1}), ..NewJob::default() }, now);
    store.create(&small).await.expect("create");
    let run = store.claim(&small.id, 0, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    let run = store.resolve_payload(run).await.expect("inline");
    store
        .finish(&run, RunOutcome::Completed { result: Some(json!({"a": 1})) }, None, now)
        .await
        .expect("finish");
    let delta = env.requests.since(&before);
    assert_eq!(jobq::adapters::aws::requests::total(&delta, "S3"), 0, "{delta:?}");
}

/// A job with a pipeline near the API's limit ends `partial` with a 300 KB error and a 300 KB
/// result: DynamoDB stores it (the item would be over 400 KB with its parts inline) and it reads
/// back, the result whole and the error within its bounds.
#[tokio::test]
async fn a_partial_outcome_with_a_300_kb_error_and_result_is_stored_and_read_back() {
    let env = TestEnv::new().await;
    let blobs = S3Blobs::new(env.clients.s3.clone(), &env.provisioned.bucket);
    let store = env.store().with_blobs(Arc::new(blobs));
    let now = Utc::now();
    let step = NewJob { job_type: "echo".into(), payload: json!("s".repeat(31_000)), ..NewJob::default() };
    let spec = NewJob {
        job_type: "echo".into(),
        payload: json!("p".repeat(30 * 1024)),
        next: vec![step; 10],
        ..NewJob::default()
    };
    let job = Job::new(spec.clone(), now);
    store.create(&job).await.expect("create");
    let run = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    let result = json!("r".repeat(300 * 1024));
    let error =
        jobq::JobFailure { message: "e".repeat(300 * 1024), details: Some(json!("d".repeat(300 * 1024))) };
    let outcome = RunOutcome::Partial { result: Some(result.clone()), error };
    let finished = store.finish(&run, outcome, None, now).await.expect("stored");
    assert_eq!(finished.status, JobStatus::Partial);
    let read =
        store.resolve(store.get(&job.id, true).await.expect("get").expect("exists")).await.expect("resolve");
    assert!(read.result.as_ref() == Some(&result), "the result reads back whole");
    assert!(read.payload == spec.payload && read.next == spec.next, "payload and pipeline read back whole");
    let error = read.error.expect("error");
    assert!(
        error.message.ends_with(&format!("[truncated from {} bytes]", 300 * 1024)),
        "{}",
        error.message.len()
    );
    assert_eq!(error.details.expect("details")["truncated"], true, "an excerpt");
}

/// Issue 25, defect 9, on S3: a retry deletes the result its job's last life kept in the bucket
/// (no item names it afterwards), while the payload stays for the new life.
#[tokio::test]
async fn a_retry_deletes_the_result_its_last_life_kept_in_the_bucket() {
    let env = TestEnv::new().await;
    let blobs = Arc::new(S3Blobs::new(env.clients.s3.clone(), &env.provisioned.bucket));
    let store = env.store().with_blobs(blobs.clone());
    let now = Utc::now();
    let spec = NewJob { job_type: "echo".into(), payload: json!("p".repeat(10_000)), ..NewJob::default() };
    let job = Job::new(spec, now);
    store.create(&job).await.expect("create");
    let run = store.claim(&job.id, 0, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    let error = jobq::JobFailure { message: "half of it".into(), details: None };
    let outcome = RunOutcome::Partial { result: Some(json!("r".repeat(10_000))), error };
    let finished = store.finish(&run, outcome, None, now).await.expect("finish");
    let result = finished.spilled.result.clone().expect("the result kept in the bucket");
    let payload = finished.spilled.payload.clone().expect("the payload kept in the bucket");
    assert!(blobs.get(&result).await.is_ok());

    let retried = store.retry(&job.id, None, "ops", now).await.expect("retry");
    assert_eq!((retried.status, retried.generation), (JobStatus::Queued, 1));
    let gone = blobs.get(&result).await.expect_err("the old result is deleted");
    assert!(matches!(gone, BlobError::NotFound { .. }), "{gone}");
    assert!(blobs.get(&payload).await.is_ok(), "the payload stays for the new life");
}
