//! `jobq-client` against a local host: a Task's typed input enqueued and watched to its end, a
//! job read and listed as the library's `Job`, a refusal as the API's error naming the field,
//! an enqueue with an idempotency key answered by the same job, and the rest of the API
//! (pauses, statistics, batches, retries) read as the library's types.

mod common;

use std::time::Duration;

use common::{LocalHost, unique_prefix};
use jobq::domain::builtin::{Echo, Fail, FailInput, Sleep, SleepInput};
use jobq::store::PauseScope;
use jobq::{JobStatus, NewJob, Priority, PriorityTier};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_statistics_batches_and_retries_are_typed() {
    let host = LocalHost::start(&unique_prefix()).await;
    let api = client(&host);
    let echo_paused = PauseScope::Type("echo".into());

    let flags = api.pause(&echo_paused).await.expect("pause");
    assert!(flags.paused.contains(&echo_paused), "{flags:?}");
    assert_eq!(api.pause_flags().await.expect("flags"), flags);
    let batch = format!("b-{}", unique_prefix());
    let spec = NewJob {
        job_type: "echo".into(),
        payload: json!({"n": 2}),
        batch_id: Some(batch.clone()),
        ..NewJob::default()
    };
    let delayed = api.enqueue_delayed(&spec, Some(1)).await.expect("enqueue delayed");
    assert!(delayed.run_at.is_some_and(|at| at > delayed.created_at), "due later: {delayed:?}");
    assert!(api.stats(None).await.expect("stats").paused.paused.contains(&echo_paused));
    let flags = api.resume(&echo_paused).await.expect("resume");
    assert!(flags.paused.is_empty(), "{flags:?}");
    assert_eq!(api.watch(&delayed.id, |_| {}).await.expect("watch").status, JobStatus::Completed);
    // A batch's counts follow its jobs' changes through the table's stream: soon, not at once.
    let mut summary = api.batch(&batch).await.expect("batch");
    for _ in 0..100 {
        if summary.done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        summary = api.batch(&batch).await.expect("batch");
    }
    assert!(summary.done && summary.progress == 100, "{summary:?}");
    assert_eq!(summary.counts.get(&JobStatus::Completed), Some(&1), "{summary:?}");
    let mut stats = api.stats(Some("echo")).await.expect("stats of echo");
    for _ in 0..100 {
        if stats.types.get("echo").is_some_and(|t| t.completed > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = api.stats(Some("echo")).await.expect("stats of echo");
    }
    assert_eq!(stats.types.get("echo").map(|t| t.completed), Some(1), "{stats:?}");

    let fail = NewJob {
        job_type: "fail".into(),
        payload: json!({"message": "no", "retryable": false}),
        ..NewJob::default()
    };
    let failed = api.enqueue_job(&fail).await.expect("enqueue fail");
    assert_eq!(api.watch(&failed.id, |_| {}).await.expect("watch fail").status, JobStatus::Failed);
    let again = api.retry(&failed.id, Some(Priority::from(PriorityTier::High))).await.expect("retry");
    assert_eq!((again.generation, again.tier), (failed.generation + 1, PriorityTier::High));
    assert_eq!(api.watch(&failed.id, |_| {}).await.expect("watch again").status, JobStatus::Failed);
    let report = api.retry_failed(Some("fail")).await.expect("retry failed");
    assert_eq!((report.retried, report.more), (1, false));
    assert_eq!(api.retry_failed(Some("echo")).await.expect("none of echo").retried, 0);
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
