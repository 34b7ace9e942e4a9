//! `jobq-client` against a local host: a Task's typed input enqueued and watched to its end, a
//! job read and listed as the library's `Job`, a refusal as the API's error naming the field,
//! and an enqueue with an idempotency key answered by the same job.

mod common;

use std::time::Duration;

use common::{LocalHost, unique_prefix};
use jobq::domain::builtin::{Echo, Fail, FailInput, Sleep, SleepInput};
use jobq::{JobStatus, NewJob};
use jobq_client::{Auth, Client, ClientError, ListFilter};
use serde_json::json;

fn client(host: &LocalHost) -> Client {
    Client::new(&host.url, Auth::None).with_watch_interval(Duration::from_millis(100))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_inputs_are_enqueued_watched_read_and_listed() {
    let host = LocalHost::start(&unique_prefix()).await;
    let api = client(&host);

    let job = api.enqueue(&Sleep, &SleepInput { seconds: 0.3, steps: 3 }).await.expect("enqueue sleep");
    assert_eq!((job.job_type.as_str(), job.status), ("sleep", JobStatus::Queued));
    assert_eq!(job.payload, json!({"seconds": 0.3, "steps": 3}));
    let mut seen = Vec::new();
    let done = api.watch(&job.id, |j| seen.push(j.status)).await.expect("watch");
    assert_eq!((done.status, done.progress, done.attempts), (JobStatus::Completed, 100, 1));
    assert_eq!(seen.last(), Some(&JobStatus::Completed), "the end is seen: {seen:?}");

    let failing = FailInput {
        message: "no".into(),
        retryable: false,
        times: None,
        until: None,
        seconds: 0.0,
        panic: false,
    };
    let failed = api.enqueue(&Fail, &failing).await.expect("enqueue fail");
    let failed = api.watch(&failed.id, |_| {}).await.expect("watch fail");
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.error.map(|e| e.message), Some("no".to_owned()));

    let echo = api.enqueue(&Echo, &json!({"n": 1})).await.expect("enqueue echo");
    assert_eq!(api.get(&echo.id).await.expect("get").id, echo.id);
    let filter = ListFilter { job_type: Some("sleep".into()), limit: Some(50), ..ListFilter::default() };
    let page = api.list(&filter).await.expect("list");
    assert!(page.jobs.iter().any(|j| j.id == job.id), "{page:?}");
    assert!(page.jobs.iter().all(|j| j.job_type == "sleep"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_field_and_a_key_answers_the_same_job() {
    let host = LocalHost::start(&unique_prefix()).await;
    let api = client(&host);

    let bad = NewJob { job_type: "sleep".into(), payload: json!({"seconds": "long"}), ..NewJob::default() };
    match api.enqueue_job(&bad).await {
        Err(ClientError::Api { status: 422, field, .. }) => {
            assert_eq!(field.as_deref(), Some("payload.seconds"))
        }
        other => panic!("not a 422 naming the field: {other:?}"),
    }
    match api.get("no-such-job").await {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("not a 404: {other:?}"),
    }

    let keyed = NewJob {
        job_type: "echo".into(),
        payload: json!({"k": true}),
        idempotency_key: Some(format!("typed-{}", unique_prefix())),
        ..NewJob::default()
    };
    let first = api.enqueue_job(&keyed).await.expect("first");
    let again = api.enqueue_job(&keyed).await.expect("again");
    assert_eq!(first.id, again.id);
    let cancelled = api.cancel(&first.id).await;
    assert!(
        matches!(&cancelled, Ok(job) if job.status == JobStatus::Cancelled)
            || matches!(&cancelled, Err(ClientError::Api { status: 409, .. })),
        "cancelled, or already ended: {cancelled:?}"
    );
}

#[tokio::test]
async fn no_api_is_said_after_the_retries() {
    let api = Client::new("http://127.0.0.1:9", Auth::None)
        .with_retries(jobq_client::Retries { attempts: 2, ..jobq_client::Retries::default() });
    match api.get("x").await {
        Err(ClientError::Unreachable { url, .. }) => assert_eq!(url, "http://127.0.0.1:9"),
        other => panic!("not unreachable: {other:?}"),
    }
}
