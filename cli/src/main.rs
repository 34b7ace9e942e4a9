//! `jobq`: drive a jobq API from a terminal or a script.

mod client;
mod proxy;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use comfy_table::{Table, presets};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use jobq::JobStatus;
use serde_json::{Value, json};

use client::{CliError, Client};

/// Exit codes. `--wait` and `watch` report the most severe way a job ended: failed, then
/// partial, then cancelled.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_CANCELLED: u8 = 3;
const EXIT_PARTIAL: u8 = 4;
const EXIT_API: u8 = 5;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done; with --wait or watch, every job completed
  1  a job failed (the most severe outcome wins: failed, then partial, then cancelled)
  2  usage error: a bad flag, argument or payload
  3  a job was cancelled
  4  a job ended partial
  5  the API was unreachable, refused the credentials or refused the request";

#[derive(Debug, Parser)]
#[command(name = "jobq", version, about = "Enqueue, watch and manage jobq jobs", after_help = EXIT_CODES_HELP)]
struct Cli {
    /// The jobq API.
    #[arg(long, global = true, env = "JOBQ_API_URL", default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Bearer token (the local stack's JOBQ_API_TOKEN).
    #[arg(long, global = true, env = "JOBQ_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Sign requests with the default AWS credentials (IAM-protected API Gateway).
    #[arg(long, global = true, env = "JOBQ_SIGV4")]
    sigv4: bool,
    /// Print the API's JSON instead of text: one document on stdout, for scripts. With --wait
    /// or watch, the jobs as they ended (an array for watch, the batch summary for --batch).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the dashboard through a local proxy that adds these credentials (token or --sigv4),
    /// for APIs a browser cannot authenticate to.
    Dashboard {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8090)]
        port: u16,
    },
    /// Enqueue a job.
    Enqueue(EnqueueArgs),
    /// Show one job.
    Status { id: String },
    /// Live progress bars until the jobs (or the batch) end, then how each ended and why; exit 0
    /// only if all completed.
    Watch {
        #[arg(required_unless_present = "batch")]
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        batch: Option<String>,
    },
    /// List jobs, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "type")]
        job_type: Option<String>,
        #[arg(long)]
        batch: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// The next page: `next_cursor` of the page before.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Counts, success rates, timings, queue depths and pause state.
    Stats {
        #[arg(long = "type")]
        job_type: Option<String>,
    },
    /// Cancel a job that has not ended.
    Cancel { id: String },
    /// Retry a failed, partial or cancelled job, or all failed jobs.
    Retry {
        #[arg(required_unless_present = "failed")]
        id: Option<String>,
        /// Retry every failed job (of --type).
        #[arg(long, conflicts_with = "id")]
        failed: bool,
        #[arg(long = "type", requires = "failed")]
        job_type: Option<String>,
        #[arg(long, conflicts_with = "failed")]
        priority: Option<String>,
    },
    /// Pause all jobs, a tier (queue:high) or a type (type:resize).
    Pause {
        #[arg(default_value = "all")]
        scope: String,
    },
    /// Resume what `pause` paused.
    Resume {
        #[arg(default_value = "all")]
        scope: String,
    },
    /// Print a shell completion script, e.g. `source <(jobq completions bash)`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
struct EnqueueArgs {
    /// The job type, e.g. noop, echo, sleep, fail.
    job_type: String,
    /// JSON payload, or @file to read it from a file.
    #[arg(long)]
    payload: Option<String>,
    /// 0-10 or high, normal, low.
    #[arg(long)]
    priority: Option<String>,
    /// Idempotency key: enqueueing the same key again returns the first job.
    #[arg(long)]
    key: Option<String>,
    /// Seconds before the job may run.
    #[arg(long)]
    delay: Option<u64>,
    #[arg(long)]
    max_attempts: Option<u32>,
    #[arg(long)]
    timeout: Option<u32>,
    /// Watch it with a progress bar until it ends (exit code as for `watch`).
    #[arg(long)]
    wait: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // No API and no credentials needed.
    if let Command::Completions { shell } = cli.command {
        print!("{}", completions(shell));
        return ExitCode::SUCCESS;
    }
    let client = match Client::new(&cli.api, cli.token.clone(), cli.sigv4).await {
        Ok(client) => client,
        Err(err) => return fail(&err),
    };
    match run(&client, cli.command, cli.json).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => fail(&err),
    }
}

fn fail(err: &CliError) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(error_exit_code(err))
}

/// Pure: the exit code for an error: 2 for bad usage, 5 when the API could not be reached or
/// refused the request (its credentials or its content).
fn error_exit_code(err: &CliError) -> u8 {
    match err {
        CliError::Usage(_) => EXIT_USAGE,
        CliError::Api { .. } | CliError::Unreachable { .. } | CliError::Signing(_) => EXIT_API,
    }
}

async fn run(client: &Client, command: Command, json: bool) -> Result<u8, CliError> {
    match command {
        Command::Dashboard { port } => proxy::serve(client.clone(), port).await,
        Command::Enqueue(args) => enqueue(client, args, json).await,
        Command::Status { id } => {
            let job = client.get(&format!("/jobs/{id}")).await?;
            emit(json, &job, print_job);
            Ok(0)
        }
        Command::Watch { ids, batch: Some(batch) } if ids.is_empty() => {
            watch_batch(client, &batch, json).await
        }
        Command::Watch { ids, .. } => {
            let jobs = watch(client, &ids, json).await?;
            if json {
                println!("{:#}", Value::Array(jobs.clone()));
            }
            Ok(exit_code_for(jobs.iter().map(status_of)))
        }
        Command::List { status, job_type, batch, limit, cursor } => {
            let mut query = vec![format!("limit={limit}")];
            let filters = [("status", status), ("type", job_type), ("batch_id", batch), ("cursor", cursor)];
            for (name, value) in filters {
                if let Some(value) = value {
                    query.push(format!("{name}={}", encode(&value)));
                }
            }
            let page = client.get(&format!("/jobs?{}", query.join("&"))).await?;
            emit(json, &page, |page| {
                print_jobs(page["jobs"].as_array().map(Vec::as_slice).unwrap_or_default());
                if let Some(cursor) = page["next_cursor"].as_str() {
                    println!("(more: jobq list --cursor {cursor})");
                }
            });
            Ok(0)
        }
        Command::Stats { job_type } => {
            let path =
                job_type.map(|t| format!("/stats?type={}", encode(&t))).unwrap_or_else(|| "/stats".into());
            emit(json, &client.get(&path).await?, print_stats);
            Ok(0)
        }
        Command::Cancel { id } => {
            let job = client.post(&format!("/jobs/{id}/cancel"), None).await?;
            emit(json, &job, |job| println!("{} {}", text(&job["id"]), text(&job["status"])));
            Ok(0)
        }
        Command::Retry { id, failed: _, job_type, priority } => {
            retry(client, id, job_type, priority, json).await
        }
        Command::Pause { scope } => set_paused(client, "/pause", &scope, json).await,
        Command::Resume { scope } => set_paused(client, "/resume", &scope, json).await,
        Command::Completions { shell } => {
            print!("{}", completions(shell));
            Ok(0)
        }
    }
}

/// The completion script for `shell`, from clap's generator.
fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jobq", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// Print `value` as JSON, or as text for a person.
fn emit(json: bool, value: &Value, human: impl FnOnce(&Value)) {
    if json {
        println!("{value:#}");
    } else {
        human(value);
    }
}

/// Retry one job (`id`), or every failed job (of `job_type`).
async fn retry(
    client: &Client,
    id: Option<String>,
    job_type: Option<String>,
    priority: Option<String>,
    json: bool,
) -> Result<u8, CliError> {
    if let Some(id) = id {
        let body = priority.map(|p| json!({ "priority": priority_value(&p) }));
        let job = client.post(&format!("/jobs/{id}/retry"), body).await?;
        emit(json, &job, |job| {
            println!("{} {} (generation {})", text(&job["id"]), text(&job["status"]), job["generation"]);
        });
        return Ok(0);
    }
    let mut body = json!({ "status": JobStatus::Failed });
    if let Some(t) = job_type {
        body["type"] = json!(t);
    }
    let result = client.post("/jobs/retry", Some(body)).await?;
    emit(json, &result, |result| {
        let more = if result["more"] == json!(true) { " (more remain: run it again)" } else { "" };
        println!("retried {}{more}", result["retried"]);
    });
    Ok(0)
}

async fn enqueue(client: &Client, args: EnqueueArgs, json: bool) -> Result<u8, CliError> {
    let mut body = json!({ "type": args.job_type });
    if let Some(payload) = &args.payload {
        let text = match payload.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--payload {payload}: {e}")))?,
            None => payload.clone(),
        };
        body["payload"] = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("--payload is not valid JSON: {e}")))?;
    }
    if let Some(p) = &args.priority {
        body["priority"] = priority_value(p);
    }
    let optional = [
        ("idempotency_key", args.key.clone().map(Value::from)),
        ("delay_seconds", args.delay.map(Value::from)),
        ("max_attempts", args.max_attempts.map(Value::from)),
        ("timeout_seconds", args.timeout.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body[name] = value;
        }
    }
    let job = client.post("/jobs", Some(body)).await?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    if !args.wait {
        emit(json, &job, print_enqueued);
        return Ok(0);
    }
    if !json {
        print_enqueued(&job);
    }
    // With --json, one document: the job as it ended.
    let ended = watch(client, &[id], json).await?;
    if json && let Some(job) = ended.first() {
        println!("{job:#}");
    }
    Ok(exit_code_for(ended.iter().map(status_of)))
}

fn print_enqueued(job: &Value) {
    println!(
        "{} {} ({}, priority {}, {} tier)",
        text(&job["id"]),
        text(&job["status"]),
        text(&job["type"]),
        job["priority"],
        text(&job["tier"])
    );
}

/// A number stays a number; a name (high, normal, low) or anything else goes as a string, and
/// the API says what is wrong with it.
fn priority_value(p: &str) -> Value {
    p.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(p))
}

/// A query value or path segment, percent-encoded: everything but RFC 3986's unreserved
/// characters.
fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

async fn set_paused(client: &Client, path: &str, scope: &str, json: bool) -> Result<u8, CliError> {
    let flags = client.post(path, Some(json!({ "scope": scope }))).await?;
    emit(json, &flags, |flags| {
        let paused: Vec<&str> =
            flags["paused"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!("paused: {}", if paused.is_empty() { "nothing".to_owned() } else { paused.join(", ") });
    });
    Ok(0)
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} [{bar:30.cyan/blue}] {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// How severe an outcome is, and its exit code: a status this CLI does not know (`None`), or
/// one that has not ended, counts as failed.
fn severity(status: Option<JobStatus>) -> (u8, u8) {
    match status {
        Some(JobStatus::Completed) => (0, 0),
        Some(JobStatus::Cancelled) => (1, EXIT_CANCELLED),
        Some(JobStatus::Partial) => (2, EXIT_PARTIAL),
        _ => (3, EXIT_FAILED),
    }
}

/// Pure: the exit code for how a set of jobs ended: the most severe outcome (failed, then
/// partial, then cancelled); 0 when all completed, or there were none.
fn exit_code_for(outcomes: impl IntoIterator<Item = Option<JobStatus>>) -> u8 {
    outcomes.into_iter().map(severity).max().map_or(0, |(_, code)| code)
}

/// The job's status, when the API sent one this CLI knows.
fn status_of(job: &Value) -> Option<JobStatus> {
    job["status"].as_str().and_then(|s| s.parse().ok())
}

/// Progress bars until every job has ended; the jobs as they ended, in the order of `ids`.
/// Unless `json` (the caller prints the jobs), when stdout is no terminal (a script, a CI log)
/// or the bars are hidden, also prints how each job ended and why.
async fn watch(client: &Client, ids: &[String], json: bool) -> Result<Vec<Value>, CliError> {
    let bars = MultiProgress::new();
    let mut watched: Vec<(String, ProgressBar, Option<Value>)> = ids
        .iter()
        .map(|id| {
            let bar = bars.add(ProgressBar::new(100).with_style(bar_style()));
            bar.set_prefix(id.chars().take(12).collect::<String>());
            (id.clone(), bar, None)
        })
        .collect();
    loop {
        for (id, bar, done) in watched.iter_mut().filter(|(_, _, done)| done.is_none()) {
            let job = client.get(&format!("/jobs/{id}")).await?;
            let status = job["status"].as_str().unwrap_or("?");
            bar.set_position(job["progress"].as_u64().unwrap_or(0));
            let step = job["current_step"].as_str().map(|s| format!(" {s}")).unwrap_or_default();
            bar.set_message(format!("{status}{step} (attempt {})", job["attempts"]));
            if status_of(&job).is_some_and(JobStatus::is_terminal) {
                bar.finish_with_message(ending(&job));
                *done = Some(job);
            }
        }
        if watched.iter().all(|(_, _, done)| done.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let jobs: Vec<Value> = watched.into_iter().filter_map(|(_, _, job)| job).collect();
    if !json && (!std::io::stdout().is_terminal() || bars.is_hidden()) {
        for job in &jobs {
            println!("{}", outcome_line(job));
        }
    }
    Ok(jobs)
}

/// Pure: how a job ended, and why when it says: `<id> failed: <error message>`.
fn outcome_line(job: &Value) -> String {
    format!("{} {}", text(&job["id"]), ending(job))
}

/// Pure: a job's status, and its error message when it has one: `failed: <message>`.
fn ending(job: &Value) -> String {
    let error = job["error"]["message"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
    format!("{}{error}", text(&job["status"]))
}

async fn watch_batch(client: &Client, batch: &str, json: bool) -> Result<u8, CliError> {
    let bar = ProgressBar::new(100).with_style(bar_style());
    bar.set_prefix(batch.chars().take(12).collect::<String>());
    loop {
        let summary = client.get(&format!("/batches/{}", encode(batch))).await?;
        bar.set_position(summary["progress"].as_u64().unwrap_or(0));
        let counts: Vec<String> = summary["counts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        bar.set_message(counts.join(", "));
        if summary["done"] == json!(true) {
            bar.finish();
            let counts = summary["counts"].as_object().cloned().unwrap_or_default();
            if json {
                println!("{summary:#}");
            } else if !std::io::stdout().is_terminal() || bar.is_hidden() {
                println!(
                    "batch {batch}: {}",
                    counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
                );
                print_batch_reasons(client, batch, &counts).await?;
            }
            return Ok(batch_exit_code(&counts));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Jobs of a batch listed per status, at most, when a script is told why they did not complete.
const REASONS_SHOWN: usize = 20;

/// The batch's jobs that failed, ended partial or were cancelled, each with its reason (the
/// first [`REASONS_SHOWN`] of each status, then how many more).
async fn print_batch_reasons(
    client: &Client,
    batch: &str,
    counts: &serde_json::Map<String, Value>,
) -> Result<(), CliError> {
    for status in ["failed", "partial", "cancelled"] {
        let count = counts.get(status).and_then(Value::as_u64).unwrap_or(0);
        if count == 0 {
            continue;
        }
        let path = format!("/jobs?batch_id={}&status={status}&limit={REASONS_SHOWN}", encode(batch));
        let page = client.get(&path).await?;
        let jobs = page["jobs"].as_array().cloned().unwrap_or_default();
        for job in &jobs {
            println!("{}", outcome_line(job));
        }
        if count > jobs.len() as u64 {
            println!("... and {} more {status}", count - jobs.len() as u64);
        }
    }
    Ok(())
}

/// Pure: the exit code for a batch's counts by status; a status with no jobs does not count.
fn batch_exit_code(counts: &serde_json::Map<String, Value>) -> u8 {
    exit_code_for(counts.iter().filter(|(_, n)| n.as_u64() != Some(0)).map(|(status, _)| status.parse().ok()))
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_job(job: &Value) {
    let fields = [
        "id",
        "type",
        "status",
        "priority",
        "tier",
        "attempts",
        "max_attempts",
        "progress",
        "current_step",
        "message",
        "created_at",
        "started_at",
        "completed_at",
        "duration_ms",
        "wait_ms",
        "batch_id",
    ];
    for field in fields {
        println!("{field:>14}  {}", text(&job[field]));
    }
    for field in ["payload", "result", "error"] {
        if !job[field].is_null() {
            println!("{field:>14}  {}", job[field]);
        }
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header(header.to_vec());
    table
}

fn print_jobs(jobs: &[Value]) {
    let mut t = table(&["ID", "TYPE", "STATUS", "PRI", "ATTEMPTS", "PROGRESS", "STEP", "CREATED"]);
    for job in jobs {
        t.add_row(vec![
            text(&job["id"]),
            text(&job["type"]),
            text(&job["status"]),
            text(&job["priority"]),
            format!("{}/{}", job["attempts"], job["max_attempts"]),
            format!("{}%", job["progress"]),
            text(&job["current_step"]),
            text(&job["created_at"]),
        ]);
    }
    println!("{t}");
}

fn print_stats(stats: &Value) {
    let counts: BTreeMap<String, Value> =
        stats["counts"].as_object().map(|m| m.clone().into_iter().collect()).unwrap_or_default();
    let mut t = table(&["STATUS", "JOBS"]);
    for (status, n) in &counts {
        t.add_row(vec![status.clone(), text(n)]);
    }
    println!("{t}\n");
    let mut t =
        table(&["TYPE", "COMPLETED", "PARTIAL", "FAILED", "RETRIED", "SUCCESS", "AVG RUN ms", "AVG WAIT ms"]);
    for (job_type, s) in stats["types"].as_object().into_iter().flatten() {
        let pct =
            s["success_rate"].as_f64().map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into());
        let ms = |v: &Value| v.as_f64().map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            job_type.clone(),
            text(&s["completed"]),
            text(&s["partial"]),
            text(&s["failed"]),
            text(&s["retried"]),
            pct,
            ms(&s["avg_processing_ms"]),
            ms(&s["avg_wait_ms"]),
        ]);
    }
    println!("{t}\n");
    let mut t = table(&["TIER", "VISIBLE", "IN FLIGHT", "DELAYED", "DLQ"]);
    for (tier, s) in stats["tiers"].as_object().into_iter().flatten() {
        t.add_row(vec![
            tier.clone(),
            text(&s["queue"]["visible"]),
            text(&s["queue"]["in_flight"]),
            text(&s["queue"]["delayed"]),
            text(&s["dlq_depth"]),
        ]);
    }
    println!("{t}\n");
    let paused: Vec<&str> =
        stats["paused"]["paused"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    println!("paused: {}", if paused.is_empty() { "nothing".to_owned() } else { paused.join(", ") });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "jobq",
            "enqueue",
            "sleep",
            "--payload",
            "{}",
            "--priority",
            "high",
            "--wait",
        ])
        .expect("valid");
        assert!(matches!(cli.command, Command::Enqueue(EnqueueArgs { wait: true, .. })));
        assert!(Cli::try_parse_from(["jobq", "watch"]).is_err(), "watch needs ids or --batch");
        assert!(Cli::try_parse_from(["jobq", "retry"]).is_err(), "retry needs an id or --failed");
        assert!(Cli::try_parse_from(["jobq", "retry", "--type", "x"]).is_err(), "--type goes with --failed");
    }

    #[test]
    fn exit_codes_say_how_jobs_ended() {
        use JobStatus::{Cancelled, Completed, Failed, Partial, Processing};
        assert_eq!(exit_code_for([]), 0);
        assert_eq!(exit_code_for([Some(Completed), Some(Completed)]), 0);
        assert_eq!(exit_code_for([Some(Failed)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Cancelled)]), EXIT_CANCELLED);
        assert_eq!(exit_code_for([Some(Partial)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([None]), EXIT_FAILED, "an unknown status is no success");
        assert_eq!(exit_code_for([Some(Processing)]), EXIT_FAILED, "nor is one not ended");
        // The most severe wins, whatever the order: failed, then partial, then cancelled.
        assert_eq!(exit_code_for([Some(Partial), Some(Failed), Some(Completed)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Failed), Some(Partial)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Cancelled), Some(Partial)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([Some(Partial), Some(Cancelled), Some(Completed)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([Some(Completed), Some(Cancelled)]), EXIT_CANCELLED);
        let counts = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(batch_exit_code(&counts(json!({"completed": 3, "queued": 0}))), 0, "no jobs, no say");
        assert_eq!(batch_exit_code(&counts(json!({"failed": 1, "partial": 2}))), EXIT_FAILED);
        assert_eq!(batch_exit_code(&counts(json!({"cancelled": 1, "partial": 1}))), EXIT_PARTIAL);
        assert_eq!(status_of(&json!({"status": "partial"})), Some(JobStatus::Partial));
        assert_eq!(status_of(&json!({"status": "later"})), None);
        assert_eq!(status_of(&json!({})), None);
        assert_eq!(priority_value("7"), json!(7));
        assert_eq!(priority_value("high"), json!("high"));
        assert_eq!(encode("type:a b/c"), "type%3Aa%20b%2Fc");
        assert_eq!(encode("é-x_y.z~"), "%C3%A9-x_y.z~", "UTF-8 bytes; unreserved characters kept");
    }

    #[test]
    fn completions_cover_every_subcommand() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let script = completions(shell);
            for name in ["enqueue", "watch", "cancel", "retry", "pause", "resume", "completions", "json"] {
                assert!(script.contains(name), "{shell}: {name} missing");
            }
        }
    }

    #[test]
    fn an_ended_job_says_why() {
        let failed = json!({"id": "j1", "status": "failed", "error": {"kind": "fatal", "message": "boom"}});
        assert_eq!(outcome_line(&failed), "j1 failed: boom");
        assert_eq!(outcome_line(&json!({"id": "j2", "status": "completed", "error": null})), "j2 completed");
        assert_eq!(ending(&json!({"status": "partial", "error": {"message": "2 of 3"}})), "partial: 2 of 3");
    }

    #[test]
    fn errors_exit_2_for_usage_and_5_for_the_api() {
        assert_eq!(error_exit_code(&CliError::Usage("bad".into())), EXIT_USAGE);
        assert_eq!(error_exit_code(&CliError::Signing("no credentials".into())), EXIT_API);
        let refused =
            CliError::Api { status: 403, code: "forbidden".into(), message: "no".into(), field: None };
        assert_eq!(error_exit_code(&refused), EXIT_API);
        let help = Cli::command().render_long_help().to_string();
        for code in ["0  ", "1  ", "2  ", "3  ", "4  ", "5  "] {
            assert!(help.contains(&format!("  {code}")), "--help lists exit code {code}: {help}");
        }
    }
}
