//! When the bucket refuses or does not answer: a result that cannot be stored fails its job at
//! once, saying why; a read that cannot be made yet spends no attempt; a refused one fails.

use chrono::Duration;
use jobq::{Job, JobStatus, NewJob};
use serde_json::json;

use super::{KIB, Stack, json_len, stack, text_of};

/// Enqueues an `inflate` job making a result of `bytes`, runs it once, and returns it.
async fn inflated(s: &Stack, bytes: usize) -> Job {
    let spec = NewJob { job_type: "inflate".into(), payload: json!(bytes), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    assert_eq!(s.drain().await, 1);
    s.service.get(&job.id).await.expect("get").expect("exists")
}

#[tokio::test(start_paused = true)]
async fn a_result_that_cannot_be_stored_fails_the_job_at_once_saying_why() {
    // No bucket: a result over what the record holds.
    let s = stack(false);
    let job = inflated(&s, 450 * KIB).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("result could not be stored") && message.contains("no bucket"), "{message}");
    assert_eq!(job.result, None);
    assert_eq!(s.drain().await, 0, "no retry is pending");

    // A bucket that refuses (as with a missing permission).
    let s = stack(true);
    s.blobs.as_ref().expect("bucket").set_refusing(true);
    let job = inflated(&s, 450 * KIB).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("the bucket refused it"), "{message}");

    // Over the bucket's limit.
    let s = stack(true);
    let job = inflated(&s, jobq::store::SPILL_MAX + 1).await;
    assert_eq!(job.status, JobStatus::Failed);
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains(&format!("the limit is {}", jobq::store::SPILL_MAX)), "{message}");
    assert!(s.bucket_keys().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_bucket_that_does_not_answer_leaves_the_result_to_a_later_delivery() {
    let s = stack(true);
    let blobs = s.blobs.clone().expect("bucket");
    blobs.set_unavailable(true);
    let spec = NewJob { job_type: "inflate".into(), payload: json!(100 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.drain().await;
    let during = s.ports.store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!(during.status, JobStatus::Processing, "not failed for a transient outage");
    blobs.set_unavailable(false);
    for _ in 0..12 {
        s.clock.advance(Duration::seconds(10));
        s.drain().await;
    }
    let job = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    assert_eq!(json_len(job.result.as_ref().expect("result")), 100 * KIB + 2);
}

/// The status and attempts of job `id`, as stored.
async fn stored(s: &Stack, id: &str) -> (JobStatus, u32) {
    let job = s.ports.store.get(id, true).await.expect("get").expect("exists");
    (job.status, job.attempts)
}

/// A job with a payload in the bucket and one attempt: the bucket does not answer its first
/// deliveries (every resend of each read throttled) for two minutes. No attempt is spent on them:
/// the job completes on its one attempt once the bucket answers.
#[tokio::test(start_paused = true)]
async fn a_throttled_read_of_a_large_payload_spends_no_attempt() {
    let s = stack(true);
    let blobs = s.blobs.clone().expect("bucket");
    let payload = text_of(100 * KIB);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: payload.clone(),
        max_attempts: Some(1),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    blobs.set_unavailable(true);
    for _ in 0..4 {
        s.drain().await;
        assert_eq!(stored(&s, &job.id).await, (JobStatus::Processing, 1), "waits, on its attempt");
        s.clock.advance(Duration::seconds(30));
    }
    let reads = blobs.requests().get("GetObject").copied().unwrap_or(0);
    assert!(reads >= 6, "read on two deliveries or more: {reads}");
    blobs.set_unavailable(false);
    for _ in 0..12 {
        s.drain().await;
        s.clock.advance(Duration::seconds(10));
    }
    let done = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "{:?}", done.error);
    assert!(done.result == Some(payload), "its result is its payload");
    assert_eq!(s.drain().await, 0, "no copy left");
}

/// A payload the bucket refuses (gone, or access denied) fails its job at once, saying why:
/// another attempt would meet the same refusal.
#[tokio::test(start_paused = true)]
async fn a_refused_read_of_a_large_payload_fails_the_job_at_once_saying_why() {
    let s = stack(true);
    let spec = NewJob { job_type: "echo".into(), payload: text_of(100 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.blobs.as_ref().expect("bucket").set_refusing(true);
    assert_eq!(s.drain().await, 1);
    let failed = s.ports.store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let message = failed.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("payload could not be read") && message.contains("refused"), "{message}");
    s.clock.advance(Duration::minutes(10));
    assert_eq!(s.drain().await, 0, "no retry is pending");
}
