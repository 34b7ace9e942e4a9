//! `--sigv4` with credentials that expire: a `credential_process` profile hands out keys that
//! last 12 seconds, and a long `jobq watch` against a test server (which records the access key
//! id of every request) signs its later requests with fresh ones.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::Value;

#[derive(Clone)]
struct Seen {
    keys: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

/// The access key id in a SigV4 `Authorization` header (`... Credential=<key>/<date>/...`).
fn access_key(headers: &HeaderMap) -> String {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let credential = auth.split("Credential=").nth(1).unwrap_or_default();
    credential.split('/').next().unwrap_or_default().to_owned()
}

/// The job runs for 30 seconds, then completes.
async fn job(State(seen): State<Seen>, Path(id): Path<String>, headers: HeaderMap) -> axum::Json<Value> {
    seen.keys.lock().expect("lock").push(access_key(&headers));
    let ended = seen.started.elapsed() >= Duration::from_secs(30);
    let spec = jobq::NewJob { job_type: "noop".into(), ..jobq::NewJob::default() };
    let mut job = jobq::Job::new(spec, chrono::Utc::now());
    job.id = id;
    job.attempts = 1;
    job.status = if ended { jobq::JobStatus::Completed } else { jobq::JobStatus::Processing };
    axum::Json(serde_json::to_value(job).expect("a job is JSON"))
}

/// A `credential_process` that counts its calls and hands out `AKIDTEST<n>`, valid 12 seconds.
fn credential_process(dir: &std::path::Path) -> std::path::PathBuf {
    let script = dir.join("credentials.sh");
    let counter = dir.join("calls");
    let body = format!(
        "#!/bin/sh\nn=$(cat '{counter}' 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > '{counter}'\n\
         expires=$(date -u -d '+12 seconds' +%Y-%m-%dT%H:%M:%SZ)\n\
         printf '{{\"Version\":1,\"AccessKeyId\":\"AKIDTEST%s\",\"SecretAccessKey\":\"secret\",\
         \"SessionToken\":\"token\",\"Expiration\":\"%s\"}}' \"$n\" \"$expires\"\n",
        counter = counter.display()
    );
    std::fs::write(&script, body).expect("write the script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_watch_signs_with_fresh_credentials_after_they_expire() {
    let dir = std::env::temp_dir().join(format!("jobq-sigv4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config");
    let process = credential_process(&dir);
    let profile =
        format!("[profile jobq-test]\nregion = eu-west-1\ncredential_process = {}\n", process.display());
    std::fs::write(&config, profile).expect("write the config");

    let seen = Seen { keys: Arc::default(), started: Instant::now() };
    let app = axum::Router::new().route("/jobs/{id}", get(job)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_jobq"));
    command
        .args(["--sigv4", "--api", &url, "watch", "job-1"])
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .env("AWS_PROFILE", "jobq-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL");
    let out = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run jobq");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("job-1 completed"));

    let keys = seen.keys.lock().expect("lock").clone();
    let mut distinct = keys.clone();
    distinct.dedup();
    assert!(keys.len() >= 40, "polled every half second for 30 s: {}", keys.len());
    assert!(keys.iter().all(|k| k.starts_with("AKIDTEST")), "every request signed: {keys:?}");
    // Keys last 12 s and are resolved again 10 s before they expire: a new one every 2 s or so,
    // never a key once it was replaced.
    assert!(distinct.len() >= 5, "fresh keys over 30 s: {distinct:?}");
    let mut sorted = distinct.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), distinct.len(), "an expired key came back: {keys:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
