//! Each subcommand as requests to the API and what it prints: the exit code it ends with.

use jobq::{Job, JobStatus};
use jobq_client::{ListFilter, encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::args::{Command, EnqueueArgs, completions};
use crate::client::{CliError, Client};
use crate::exit_codes::exit_code_for;
use crate::proxy;
use crate::render::{emit, print_enqueued, print_job, print_jobs, print_stats};
use crate::watch::{watch, watch_batch};

/// Run `command` against the API: the exit code it ends with.
pub async fn run(client: &Client, command: Command, json: bool) -> Result<u8, CliError> {
    match command {
        Command::Dashboard { port } => proxy::serve(client.clone(), port).await,
        Command::Enqueue(args) => enqueue(client, args, json).await,
        Command::Status { id } => {
            let job = client.get(&id).await?;
            emit(json, &job, print_job);
            Ok(0)
        }
        Command::Watch { ids, batch: Some(batch) } if ids.is_empty() => {
            watch_batch(client, &batch, json).await
        }
        Command::Watch { ids, .. } => {
            let jobs = watch(client, &ids, json).await?;
            if json {
                println!("{:#}", serde_json::to_value(&jobs).unwrap_or_default());
            }
            Ok(exit_code_for(jobs.iter().map(|job| Some(job.status))))
        }
        Command::List { status, job_type, batch, limit, cursor } => {
            let status = status
                .map(|s| s.parse::<JobStatus>().map_err(|e| CliError::Usage(format!("--status {s}: {e}"))))
                .transpose()?;
            let filter = ListFilter { status, job_type, batch_id: batch, limit: Some(limit), cursor };
            let page = client.list(&filter).await?;
            emit(json, &page, |page| {
                print_jobs(&page.jobs);
                if let Some(cursor) = &page.next_cursor {
                    println!("(more: jobq list --cursor {cursor})");
                }
            });
            Ok(0)
        }
        Command::Stats { job_type } => {
            let path =
                job_type.map(|t| format!("/stats?type={}", encode(&t))).unwrap_or_else(|| "/stats".into());
            emit(json, &client.json(Method::GET, &path, None).await?, print_stats);
            Ok(0)
        }
        Command::Cancel { id } => {
            let job = client.cancel(&id).await?;
            emit(json, &job, |job| println!("{} {}", job.id, job.status));
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
        let job: Job =
            client.send(Method::POST, &format!("/jobs/{}/retry", encode(&id)), body.as_ref()).await?;
        emit(json, &job, |job| println!("{} {} (generation {})", job.id, job.status, job.generation));
        return Ok(0);
    }
    let mut body = json!({ "status": JobStatus::Failed });
    if let Some(t) = job_type {
        body["type"] = json!(t);
    }
    let result = client.json(Method::POST, "/jobs/retry", Some(&body)).await?;
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
    let job = client.enqueue_json(&body).await?;
    let id = job.id.clone();
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
        println!("{:#}", serde_json::to_value(job).unwrap_or_default());
    }
    Ok(exit_code_for(ended.iter().map(|job| Some(job.status))))
}

/// A number stays a number; a name (high, normal, low) or anything else goes as a string, and
/// the API says what is wrong with it.
fn priority_value(p: &str) -> Value {
    p.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(p))
}

async fn set_paused(client: &Client, path: &str, scope: &str, json: bool) -> Result<u8, CliError> {
    let flags = client.json(Method::POST, path, Some(&json!({ "scope": scope }))).await?;
    emit(json, &flags, |flags| {
        let paused: Vec<&str> =
            flags["paused"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!("paused: {}", if paused.is_empty() { "nothing".to_owned() } else { paused.join(", ") });
    });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_goes_as_a_number_or_a_name() {
        assert_eq!(priority_value("7"), json!(7));
        assert_eq!(priority_value("high"), json!("high"));
    }
}
