//! The `jobq` command end to end against a local host.

mod common;

use std::process::{Command, Output};

use common::{LocalHost, unique_prefix};
use serde_json::Value;

fn jobq(host: &LocalHost, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(args)
        .env("JOBQ_API_URL", &host.url)
        .env_remove("JOBQ_API_TOKEN")
        .output()
        .expect("run jobq")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[allow(clippy::too_many_lines, reason = "an end-to-end scenario reads best as one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_drives_the_queue() {
    let host = LocalHost::start(&unique_prefix()).await;

    // enqueue --wait: exit 0 when completed, non-zero when failed.
    let out = jobq(
        &host,
        &["enqueue", "sleep", "--payload", r#"{"seconds": 1, "steps": 4}"#, "--priority", "high", "--wait"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let id = stdout(&out).split_whitespace().next().unwrap_or_default().to_owned();
    assert!(stdout(&out).contains(&format!("{id} completed")), "{}", stdout(&out));
    let out = jobq(&host, &["enqueue", "fail", "--payload", r#"{"retryable": false}"#, "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let failed_id = stdout(&out).split_whitespace().next().unwrap_or_default().to_owned();

    // A payload from a file, and --json output parsed back.
    let file = std::env::temp_dir().join(format!("jobq-payload-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"hello": "world"}"#).expect("write payload");
    let out = jobq(
        &host,
        &["enqueue", "echo", "--payload", &format!("@{}", file.display()), "--key", "k-1", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let echo = json(&out);
    assert_eq!(echo["payload"]["hello"], "world");
    let again = json(&jobq(&host, &["enqueue", "echo", "--key", "k-1", "--json"]));
    assert_eq!(again["id"], echo["id"], "same idempotency key, same job");
    let echo_id = echo["id"].as_str().unwrap_or_default().to_owned();
    let out = jobq(&host, &["watch", &echo_id]);
    assert!(out.status.success(), "{}", stdout(&out));

    let status = json(&jobq(&host, &["status", &id, "--json"]));
    assert_eq!((status["status"].as_str(), status["progress"].as_u64()), (Some("completed"), Some(100)));
    let text = stdout(&jobq(&host, &["status", &failed_id]));
    assert!(text.contains("failed"), "{text}");

    let listed = json(&jobq(&host, &["list", "--json", "--limit", "10"]));
    let ids: Vec<&str> =
        listed["jobs"].as_array().into_iter().flatten().filter_map(|j| j["id"].as_str()).collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&failed_id.as_str()) && ids.contains(&echo_id.as_str()),
        "{ids:?}"
    );
    let table = stdout(&jobq(&host, &["list", "--status", "failed"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("STATUS") && lines[0].contains("ATTEMPTS"), "{table}");
    assert_eq!(lines.len(), 2, "header and the one failed job: {table}");
    assert_eq!(lines[0].find("STATUS"), lines[1].find("failed"), "columns are aligned: {table}");

    let stats = json(&jobq(&host, &["stats", "--json"]));
    assert_eq!(
        (stats["counts"]["completed"].as_u64(), stats["counts"]["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(stdout(&jobq(&host, &["stats"])).contains("SUCCESS"));

    // pause / resume, cancel / retry.
    assert!(stdout(&jobq(&host, &["pause", "queue:low"])).contains("queue:low"));
    assert_eq!(
        json(&jobq(&host, &["stats", "--json"]))["paused"]["paused"],
        serde_json::json!(["queue:low"])
    );
    assert!(stdout(&jobq(&host, &["resume", "queue:low"])).contains("nothing"));
    let slow = json(&jobq(
        &host,
        &["enqueue", "sleep", "--payload", r#"{"seconds": 60}"#, "--delay", "600", "--json"],
    ));
    let slow_id = slow["id"].as_str().unwrap_or_default().to_owned();
    let out = jobq(&host, &["cancel", &slow_id]);
    assert!(out.status.success() && stdout(&out).contains("cancelled"), "{}", stderr(&out));
    let out = jobq(&host, &["watch", &slow_id]);
    assert_eq!(out.status.code(), Some(3), "watch exits 3 for a cancelled job");
    let out = jobq(&host, &["retry", &slow_id, "--priority", "low"]);
    assert!(out.status.success() && stdout(&out).contains("queued"), "{}", stderr(&out));
    let out = jobq(&host, &["retry", "--failed"]);
    assert!(out.status.success() && stdout(&out).contains("retried 1"), "{}", stdout(&out));

    // Bad input: one clear line, non-zero exit, no panic. The API names the field it refuses; a
    // priority or scope that is none is refused before any request.
    for (args, expect) in [
        (vec!["enqueue", "no-such-type"], "(field: type)"),
        (vec!["enqueue", "noop", "--priority", "42"], "--priority: priority 42 is out of range"),
        (vec!["enqueue", "noop", "--payload", "{oops"], "--payload is not valid JSON"),
        (vec!["status", "no-such-job"], "not found"),
        (vec!["cancel", &id], "is completed"),
        (vec!["pause", "queue:urgent"], "scope: scope \"queue:urgent\" is not one of"),
    ] {
        let out = jobq(&host, &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} must fail");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // --sigv4 signs with the default AWS credentials (the local API ignores the signature).
    let signed = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["--sigv4", "status", &id, "--json"])
        .env("JOBQ_API_URL", &host.url)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "eu-west-1")
        .output()
        .expect("run");
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert_eq!(json(&signed)["id"], id.as_str());
    let unreachable = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["list", "--api", "http://127.0.0.1:9"])
        .output()
        .expect("run");
    assert!(stderr(&unreachable).starts_with("error: cannot reach the jobq API"), "{}", stderr(&unreachable));
    assert_eq!(unreachable.status.code(), Some(5), "an unreachable API exits 5");
    let _ = std::fs::remove_file(file);
}

/// From a script (stdout piped): each job's ending with its error message, the most severe
/// outcome as the exit code, and one JSON document from every command with --json.
#[allow(clippy::too_many_lines, reason = "an end-to-end scenario reads best as one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_sees_why_and_every_command_speaks_json() {
    let host = LocalHost::start(&unique_prefix()).await;
    let boom = r#"{"message": "boom", "retryable": false}"#;
    let out = jobq(&host, &["enqueue", "fail", "--payload", boom, "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let failed_id = stdout(&out).split_whitespace().next().unwrap_or_default().to_owned();
    assert!(stdout(&out).contains(&format!("{failed_id} failed: boom")), "the reason: {}", stdout(&out));
    let out = jobq(&host, &["enqueue", "fail", "--payload", boom, "--wait", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ended = json(&out);
    assert_eq!(
        (ended["status"].as_str(), ended["error"]["message"].as_str()),
        (Some("failed"), Some("boom"))
    );
    let out = jobq(&host, &["enqueue", "echo", "--payload", r#"{"n": 7}"#, "--wait", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = json(&out);
    assert_eq!((done["status"].as_str(), done["result"]["n"].as_u64()), (Some("completed"), Some(7)));
    let done_id = done["id"].as_str().unwrap_or_default().to_owned();

    // cancel, watch and retry, each with --json.
    let delayed = ["enqueue", "sleep", "--payload", r#"{"seconds": 60}"#, "--delay", "600", "--json"];
    let cancel_id = json(&jobq(&host, &delayed))["id"].as_str().unwrap_or_default().to_owned();
    let cancelled = json(&jobq(&host, &["cancel", &cancel_id, "--json"]));
    assert_eq!(cancelled["status"], "cancelled");

    // Mixed outcomes: the most severe wins, whatever the order.
    let out = jobq(&host, &["watch", &done_id, &cancel_id, &failed_id, "--json"]);
    assert_eq!(out.status.code(), Some(1), "failed beats cancelled: {}", stdout(&out));
    let jobs = json(&out);
    let statuses: Vec<&str> =
        jobs.as_array().into_iter().flatten().filter_map(|j| j["status"].as_str()).collect();
    assert_eq!(statuses, ["completed", "cancelled", "failed"]);
    let out = jobq(&host, &["watch", &cancel_id, &done_id]);
    assert_eq!(out.status.code(), Some(3), "cancelled beats completed: {}", stdout(&out));
    assert!(stdout(&out).contains(&format!("{cancel_id} cancelled")), "{}", stdout(&out));

    let retried = json(&jobq(&host, &["retry", &cancel_id, "--json"]));
    assert_eq!(retried["status"], "queued");
    assert!(json(&jobq(&host, &["retry", "--failed", "--json"]))["retried"].is_u64());
    assert_eq!(
        json(&jobq(&host, &["pause", "queue:low", "--json"]))["paused"],
        serde_json::json!(["queue:low"])
    );
    assert_eq!(json(&jobq(&host, &["--json", "resume", "queue:low"]))["paused"], serde_json::json!([]));
    assert_eq!(json(&jobq(&host, &["status", &done_id, "--json"]))["id"], done_id.as_str());
    let first = json(&jobq(&host, &["list", "--json", "--limit", "2"]));
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let rest = json(&jobq(&host, &["list", "--json", "--cursor", &cursor]));
    let page_ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|j| j["id"].as_str().map(str::to_owned))
            .collect()
    };
    let (first_ids, rest_ids) = (page_ids(&first), page_ids(&rest));
    assert_eq!(first_ids.len(), 2);
    assert!(
        !rest_ids.is_empty() && rest_ids.iter().all(|id| !first_ids.contains(id)),
        "{first_ids:?} {rest_ids:?}"
    );
    assert!(json(&jobq(&host, &["stats", "--json"]))["counts"].is_object());

    // An API that cannot be reached: 5, with or without --wait.
    let unreachable = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["enqueue", "noop", "--wait", "--api", "http://127.0.0.1:9"])
        .output()
        .expect("run");
    assert_eq!(unreachable.status.code(), Some(5), "{}", stderr(&unreachable));
}

/// What a script sees: 5 when the API refuses the credentials or the request, 2 for bad usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_can_tell_the_api_refusing_from_bad_usage() {
    let host = LocalHost::start_with(&unique_prefix(), &[("JOBQ_API_TOKEN", "exit-secret")]).await;
    let with_token = |args: &[&str], token: &str| {
        Command::new(env!("CARGO_BIN_EXE_jobq"))
            .args(args)
            .env("JOBQ_API_URL", &host.url)
            .env("JOBQ_API_TOKEN", token)
            .output()
            .expect("run jobq")
    };
    let unauthorised = with_token(&["list"], "wrong");
    assert_eq!(unauthorised.status.code(), Some(5), "unauthorised: {}", stderr(&unauthorised));
    let refused = with_token(&["enqueue", "no-such-type"], "exit-secret");
    assert_eq!(refused.status.code(), Some(5), "refused: {}", stderr(&refused));
    assert!(stderr(&refused).contains("(field: type)"), "{}", stderr(&refused));
    for args in [vec!["enqueue", "noop", "--payload", "{oops"], vec!["watch"], vec!["no-such-command"]] {
        let out = with_token(&args, "exit-secret");
        assert_eq!(out.status.code(), Some(2), "{args:?} is a usage error: {}", stderr(&out));
    }
    let help = with_token(&["--help"], "exit-secret");
    assert!(stdout(&help).contains("Exit codes:"), "{}", stdout(&help));
}

/// `jobq dashboard` on an API that wants a token: the browser (here, plain requests without
/// credentials) gets the page and its data through the proxy, which adds the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_proxy_adds_the_credentials_a_browser_cannot() {
    let host = LocalHost::start_with(&unique_prefix(), &[("JOBQ_API_TOKEN", "proxy-secret")]).await;
    let direct = reqwest::get(format!("{}/stats", host.url)).await.expect("GET");
    assert_eq!(direct.status(), 401, "the API itself wants the token");

    let mut proxy = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["dashboard", "--port", "0"])
        .env("JOBQ_API_URL", &host.url)
        .env("JOBQ_API_TOKEN", "proxy-secret")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start jobq dashboard");
    let mut first_line = String::new();
    // Kept open until the end: the proxy prints more.
    let mut stdout = std::io::BufReader::new(proxy.stdout.take().expect("stdout"));
    std::io::BufRead::read_line(&mut stdout, &mut first_line).expect("read");
    let page_url = first_line.trim().strip_prefix("Dashboard: ").expect("the URL first").to_owned();
    let base = page_url.trim_end_matches("/dashboard").to_owned();

    let page = reqwest::get(&page_url).await.expect("GET /dashboard");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("script-src 'nonce-"), "the page's policy comes through: {csp}");
    assert!(page.text().await.expect("body").contains("<title>jobq dashboard</title>"));

    let http = reqwest::Client::new();
    let stats = http.get(format!("{base}/stats")).send().await.expect("GET /stats");
    assert_eq!(stats.status(), 200, "the proxy adds the token");
    // A write from the page's own origin goes through; from another site's page it does not.
    let own_origin = base.clone();
    let paused = http
        .post(format!("{base}/pause"))
        .header("origin", &own_origin)
        .json(&serde_json::json!({"scope": "queue:low"}))
        .send()
        .await
        .expect("POST /pause");
    assert_eq!(paused.status(), 200);
    let flags: Value = host_get_with_token(&host, "/pause").await;
    assert_eq!(flags["paused"], serde_json::json!(["queue:low"]));
    let foreign = http
        .post(format!("{base}/resume"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"scope": "queue:low"}))
        .send()
        .await
        .expect("POST /resume");
    assert_eq!(foreign.status(), 403);
    let flags: Value = host_get_with_token(&host, "/pause").await;
    assert_eq!(flags["paused"], serde_json::json!(["queue:low"]), "the foreign request did nothing");

    let _ = proxy.kill();
    let _ = proxy.wait();
}

async fn host_get_with_token(host: &LocalHost, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", host.url))
        .bearer_auth("proxy-secret")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

/// `jobq completions bash` needs no API: a script for every subcommand.
#[test]
fn bash_completions_know_the_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["completions", "bash", "--api", "http://127.0.0.1:9"])
        .output()
        .expect("run jobq");
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("complete -F"), "a bash completion script: {script}");
    for name in
        ["enqueue", "status", "watch", "list", "stats", "cancel", "retry", "pause", "resume", "dashboard"]
    {
        assert!(script.contains(name), "{name} missing");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_jobq")).args(["completions", "tcsh"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

/// `JOBQ_SIGV4` turns on signing like `--sigv4`: without AWS credentials, it fails to sign
/// (exit 5) before it tries the API.
#[test]
fn jobq_sigv4_in_the_environment_signs() {
    let run = |sigv4: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobq"));
        command
            .args(["list", "--api", "http://127.0.0.1:9"])
            .env("AWS_CONFIG_FILE", "/nonexistent/jobq-test-config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/jobq-test-credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-west-1")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("JOBQ_SIGV4");
        if let Some(value) = sigv4 {
            command.env("JOBQ_SIGV4", value);
        }
        command.output().expect("run jobq")
    };
    let signed = run(Some("true"));
    assert_eq!(signed.status.code(), Some(5), "{}", stderr(&signed));
    assert!(stderr(&signed).starts_with("error: signing"), "{}", stderr(&signed));
    for unsigned in [run(None), run(Some("false"))] {
        assert!(stderr(&unsigned).starts_with("error: cannot reach"), "{}", stderr(&unsigned));
    }
}

/// Partial and batch outcomes through the binary, from a script: a job an executor reports
/// `partial` makes `watch` exit 4 and say why (a failed job beside it: 1); `watch --batch`
/// names each failed job of the batch with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_jobs_and_batches_say_why_with_their_exit_codes() {
    let host = LocalHost::start(&unique_prefix()).await;
    let delayed = json(&jobq(&host, &["enqueue", "noop", "--delay", "600", "--json"]));
    let id = delayed["id"].as_str().expect("id").to_owned();
    let http = reqwest::Client::new();
    for report in [
        serde_json::json!({"status": "processing"}),
        serde_json::json!({"status": "partial", "error": "2 of 3 pages"}),
    ] {
        let answer = http.patch(format!("{}/jobs/{id}", host.url)).json(&report).send().await.expect("PATCH");
        assert!(answer.status().is_success(), "{report}: {}", answer.status());
    }
    let out = jobq(&host, &["watch", &id]);
    assert_eq!(out.status.code(), Some(4), "partial: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&format!("{id} partial: 2 of 3 pages")), "{}", stdout(&out));
    let boom = r#"{"message": "boom", "retryable": false}"#;
    let failed = json(&jobq(&host, &["enqueue", "fail", "--payload", boom, "--wait", "--json"]));
    let failed_id = failed["id"].as_str().expect("id").to_owned();
    let out = jobq(&host, &["watch", &id, &failed_id]);
    assert_eq!(out.status.code(), Some(1), "failed beats partial: {}", stdout(&out));

    let jobs = serde_json::json!({"jobs": [
        {"type": "fail", "payload": {"message": "page 7 unreadable", "retryable": false}},
        {"type": "echo", "payload": {"n": 1}},
        {"type": "noop"},
    ]});
    let (status, created) =
        jobq_integration_tests::post_json(&format!("{}/jobs/batch", host.url), jobs).await;
    assert!((200..300).contains(&status), "{status}: {created}");
    let batch = created["batch_id"].as_str().expect("batch_id").to_owned();
    let out = jobq(&host, &["watch", "--batch", &batch]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("batch {batch}: ")), "{text}");
    assert!(text.contains(" failed: page 7 unreadable"), "the failed job and why: {text}");
}

/// The JSON a script reads: the field names of a job record, a page, the stats and a batch
/// summary are part of the command's interface, pinned here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_field_names_are_stable() {
    let host = LocalHost::start(&unique_prefix()).await;
    let job = json(&jobq(&host, &["enqueue", "echo", "--payload", r#"{"n": 1}"#, "--wait", "--json"]));
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    };
    let has = |v: &Value, names: &[&str]| {
        let present = keys(v);
        let missing: Vec<&&str> = names.iter().filter(|n| !present.iter().any(|p| p == *n)).collect();
        assert!(missing.is_empty(), "missing {missing:?} in {present:?}");
    };
    has(
        &job,
        &[
            "id",
            "type",
            "payload",
            "priority",
            "tier",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "current_step",
            "message",
            "result",
            "error",
            "batch_id",
            "timeout_seconds",
            "created_at",
            "run_at",
            "started_at",
            "completed_at",
            "duration_ms",
            "wait_ms",
        ],
    );
    has(&json(&jobq(&host, &["list", "--json", "--limit", "1"])), &["jobs", "next_cursor"]);
    has(&json(&jobq(&host, &["stats", "--json"])), &["counts"]);
    let (_, created) = jobq_integration_tests::post_json(
        &format!("{}/jobs/batch", host.url),
        serde_json::json!({"jobs": [{"type": "noop"}]}),
    )
    .await;
    let batch = created["batch_id"].as_str().expect("batch_id").to_owned();
    let summary = json(&jobq(&host, &["watch", "--batch", &batch, "--json"]));
    has(&summary, &["batch_id", "counts", "progress", "done"]);
}
