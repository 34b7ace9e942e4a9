//! `jobq-local` on the emulator: every upload is a job, even of the same bytes under the same key;
//! a notification delivered twice is one job.

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use jobq::resources::ResourceNames;
use serde_json::{Value, json};

/// The echo jobs made of uploads of `key`, once `expected` of them exist (or the wait ran out),
/// and after a further pause in which no more may appear.
async fn jobs_for(host: &LocalHost, key: &str, expected: usize) -> Vec<Value> {
    let of_key = |page: &Value| -> Vec<Value> {
        page["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|j| j["payload"]["key"] == key)
            .cloned()
            .collect()
    };
    let started = Instant::now();
    while of_key(&host.get("/jobs?type=echo&limit=100").await).len() < expected
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for a notification that should make nothing to have been handled (polls wait 1 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    of_key(&host.get("/jobs?type=echo&limit=100").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_uploaded_twice_under_one_key_make_two_jobs() {
    let prefix = unique_prefix();
    let host = LocalHost::start(&prefix).await;
    let clients = jobq::adapters::aws::Clients::from_env().await;
    let bucket = ResourceNames::new(&prefix).bucket();
    let key = "uploads/again/report.pdf";
    for _ in 0..2 {
        clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"%PDF same bytes".to_vec().into())
            .send()
            .await
            .expect("upload");
        // The emulator's notifications carry no sequencer: the two are told apart by their
        // event times, to the millisecond.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let jobs = jobs_for(&host, key, 2).await;
    assert_eq!(jobs.len(), 2, "one job per upload: {jobs:?}");
    assert_eq!(jobs[0]["payload"]["etag"], jobs[1]["payload"]["etag"], "the same bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_delivered_twice_makes_one_job() {
    let prefix = unique_prefix();
    let host = LocalHost::start(&prefix).await;
    let clients = jobq::adapters::aws::Clients::from_env().await;
    let names = ResourceNames::new(&prefix);
    let queue = clients
        .sqs
        .get_queue_url()
        .queue_name(names.ingest_queue())
        .send()
        .await
        .expect("ingest queue")
        .queue_url
        .expect("url");
    // One S3 event, as S3 sends it (with a sequencer), delivered twice.
    let object =
        json!({"key": "uploads/twice/a.pdf", "size": 4, "eTag": "e1", "sequencer": "0065A1B2C3D4E5F601"});
    let body = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": "2026-12-07T03:00:00.000Z", "s3": {"bucket": {"name": names.bucket()}, "object": object}}]});
    for _ in 0..2 {
        clients
            .sqs
            .send_message()
            .queue_url(&queue)
            .message_body(body.to_string())
            .send()
            .await
            .expect("send");
    }
    let jobs = jobs_for(&host, "uploads/twice/a.pdf", 1).await;
    assert_eq!(jobs.len(), 1, "one job for one upload: {jobs:?}");
}
