//! What a job's log lines carry in Lambda. Alone in its test binary: tracing caches, per call
//! site, whether anyone listens, and tests on other threads without this subscriber would race it.

use std::time::Duration;

use jobq::domain::task::Registry;
use jobq::{JobStatus, NewJob};
use jobq_integration_tests::TestEnv;
use serde_json::json;

/// In Lambda, the runtime wraps each invocation in a span carrying `requestId`; every line the
/// worker writes for a job must carry it and the job's own fields.
#[tokio::test(flavor = "current_thread")]
async fn every_log_line_of_a_job_carries_the_request_id_and_the_job_fields() {
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    let env = TestEnv::new().await;
    let captured = jobq::telemetry::CapturedLines::default();
    let subscriber = tracing_subscriber::registry()
        .with(jobq::telemetry::lambda_filter(Some("jobq=debug")))
        .with(jobq::telemetry::lambda_json(captured.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    // Retried once, then completed: a warning, the retry, the completion.
    let job = env
        .enqueue(NewJob { job_type: "fail".into(), payload: json!({"times": 1}), ..NewJob::default() })
        .await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let started = std::time::Instant::now();
    let mut invocation = 0;
    while !env.job(&job.id).await.status.is_terminal() {
        assert!(started.elapsed() < Duration::from_secs(30), "the job did not finish");
        invocation += 1;
        // As lambda_runtime opens it (target, name and field).
        let span = tracing::info_span!(
            target: "lambda_runtime",
            "Lambda runtime invoke",
            requestId = %format!("req-{invocation}")
        );
        let received = env.poll(&worker, jobq::PriorityTier::Normal, 1).instrument(span).await.received;
        if received == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(env.job(&job.id).await.status, JobStatus::Completed);

    let lines: Vec<_> = captured
        .json_lines()
        .into_iter()
        .filter(|l| l.get("job_id").and_then(|v| v.as_str()) == Some(job.id.as_str()))
        .collect();
    assert!(lines.len() >= 2, "a retry and a completion at least: {:?}", captured.json_lines());
    let queue =
        jobq::handlers::worker::queue_name(env.config.queues.get(jobq::PriorityTier::Normal)).to_owned();
    for line in &lines {
        assert!(
            line.get("requestId").and_then(|v| v.as_str()).is_some_and(|r| r.starts_with("req-")),
            "{line:?}"
        );
        assert_eq!(line.get("job_type"), Some(&json!("fail")), "{line:?}");
        assert_eq!(line.get("tier"), Some(&json!("normal")), "{line:?}");
        assert_eq!(line.get("queue"), Some(&json!(queue)), "{line:?}");
        assert!(
            line.get("attempt").and_then(|v| v.as_u64()).is_some_and(|a| (1..=2).contains(&a)),
            "{line:?}"
        );
    }
    let attempts: std::collections::BTreeSet<u64> =
        lines.iter().filter_map(|l| l.get("attempt").and_then(|v| v.as_u64())).collect();
    assert_eq!(attempts, [1, 2].into(), "both runs logged");
}
