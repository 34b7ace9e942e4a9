//! `jobq-local`: jobs enqueued over HTTP complete; a SIGTERM mid-run loses nothing and runs
//! nothing twice; a restart finishes the rest.

mod common;

use std::time::{Duration, Instant};

use common::{LocalHost, unique_prefix};
use serde_json::{Value, json};

async fn jobs(host: &LocalHost, ids: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for id in ids {
        all.push(host.get(&format!("/jobs/{id}")).await);
    }
    all
}

fn terminal(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("completed" | "partial" | "failed" | "cancelled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigterm_finishes_every_job_exactly_once() {
    let prefix = unique_prefix();
    let mut host = LocalHost::start(&prefix).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let (status, job) = host.post("/jobs", json!({"type": "noop", "priority": i})).await;
        assert_eq!(status, 201, "{job}");
        ids.push(job["id"].as_str().unwrap_or_default().to_owned());
    }
    for _ in 0..6 {
        let (_, job) =
            host.post("/jobs", json!({"type": "sleep", "payload": {"seconds": 4, "steps": 8}})).await;
        ids.push(job["id"].as_str().unwrap_or_default().to_owned());
    }
    // Wait until the quick jobs are done and the slow ones are running.
    let started = Instant::now();
    loop {
        let now = jobs(&host, &ids).await;
        let done = now.iter().filter(|j| j["status"] == "completed").count();
        let running = now.iter().filter(|j| j["status"] == "processing").count();
        if done >= 6 && running >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "jobs did not start: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(host.terminate(), "jobq-local stops cleanly on SIGTERM");
    // The API went with the host: read the records themselves.
    let clients = jobq::adapters::aws::Clients::from_env().await;
    let store = jobq::store::DynamoJobStore::new(
        clients.dynamodb.clone(),
        jobq::resources::ResourceNames::new(&prefix).table(),
        chrono::Duration::days(1),
    );
    let mut unfinished = 0;
    for id in &ids {
        let job = store.get(id, true).await.expect("get").expect("no job lost at shutdown");
        unfinished += usize::from(!job.status.is_terminal());
    }
    assert!(
        unfinished >= 1,
        "the grace period (1 s) is shorter than the sleeps (4 s): some were interrupted"
    );

    let host = LocalHost::start(&prefix).await;
    let started = Instant::now();
    loop {
        let now = jobs(&host, &ids).await;
        if now.iter().all(terminal) {
            for job in &now {
                assert_eq!(job["status"], "completed", "{job}");
                let attempts = job["attempts"].as_u64().unwrap_or(0);
                assert!((1..=2).contains(&attempts), "one run, or one interrupted and one finished: {job}");
            }
            break;
        }
        // An interrupted run's job is taken back once its lease ended, and runs again after the
        // grace (a minute, for a run alive after all to own it again).
        assert!(started.elapsed() < Duration::from_secs(150), "not all done after the restart: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = host.get("/jobs?limit=100").await;
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(12), "nothing lost, nothing duplicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_to_the_local_bucket_shows_up_as_a_job() {
    let prefix = unique_prefix();
    let host = LocalHost::start(&prefix).await;
    let clients = jobq::adapters::aws::Clients::from_env().await;
    let bucket = jobq::resources::ResourceNames::new(&prefix).bucket();
    clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key("uploads/inbox/Quarterly report+final.pdf")
        .body(b"%PDF".to_vec().into())
        .send()
        .await
        .expect("upload");
    let started = Instant::now();
    loop {
        let page = host.get("/jobs?type=echo").await;
        if let Some(job) = page["jobs"].as_array().and_then(|jobs| jobs.first())
            && job["status"] == "completed"
        {
            assert_eq!(job["result"]["key"], "uploads/inbox/Quarterly report+final.pdf");
            assert_eq!(job["result"]["bucket"], bucket.as_str());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no job for the upload: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The composite GitHub action's script, run against the local host as a workflow would run it.
fn run_action(host: &LocalHost, job_type: &str, payload: &str, sign: bool) -> (std::process::Output, String) {
    let output_file =
        std::env::temp_dir().join(format!("gh-output-{}-{job_type}-{sign}", std::process::id()));
    let _ = std::fs::remove_file(&output_file);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.github/actions/jobq-run/run.sh");
    let mut command = std::process::Command::new("bash");
    command
        .arg(script)
        .env("JOBQ_API_URL", &host.url)
        .env("JOBQ_JOB_TYPE", job_type)
        .env("JOBQ_PAYLOAD", payload)
        .env("JOBQ_PRIORITY", "high")
        .env("JOBQ_WAIT", "true")
        .env("JOBQ_TIMEOUT", "60")
        .env("JOBQ_POLL_SECONDS", "0.2")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_OUTPUT", &output_file);
    if sign {
        // Signed as from OIDC credentials; the local API does not check signatures, AWS does.
        command
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_SESSION_TOKEN", "token")
            .env("JOBQ_REGION", "us-east-1");
    } else {
        command.env_remove("AWS_ACCESS_KEY_ID");
    }
    let out = command.output().expect("run the action script");
    let outputs = std::fs::read_to_string(&output_file).unwrap_or_default();
    (out, outputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_action_enqueues_links_the_run_and_fails_the_step_when_the_job_fails() {
    let host = LocalHost::start(&unique_prefix()).await;
    for sign in [false, true] {
        let (out, outputs) = run_action(&host, "sleep", r#"{"seconds": 1, "steps": 2}"#, sign);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("% step"), "progress is printed while waiting: {stdout}");
        assert!(outputs.contains("status=completed"), "{outputs}");
        let id = outputs.lines().find_map(|l| l.strip_prefix("job-id=")).expect("job-id output").to_owned();
        let job = host.get(&format!("/jobs/{id}")).await;
        assert_eq!(
            (job["github_workflow_run_id"].as_str(), job["tier"].as_str()),
            (Some("4242"), Some("high"))
        );
    }
    let (out, outputs) =
        run_action(&host, "fail", r#"{"retryable": false, "message": "lint errors"}"#, false);
    assert_eq!(out.status.code(), Some(1), "the step fails with the job");
    assert!(String::from_utf8_lossy(&out.stdout).contains("::error::jobq job"), "{outputs}");
    assert!(outputs.contains("status=failed"));
    let (out, _) = run_action(&host, "no-such-type", "{}", false);
    assert!(String::from_utf8_lossy(&out.stdout).contains("::error::jobq enqueue failed (HTTP 422)"));
}
