//! Each subcommand as requests to the API and what it prints: the exit code it ends with.

use jobq::store::PauseScope;
use jobq::{JobStatus, NewJob, Priority};
use jobq_client::ListFilter;

use crate::args::{Command, EnqueueArgs, completions};
use crate::client::{CliError, Client};
use crate::exit_codes::exit_code_for;
use crate::proxy;
use crate::render::{emit, paused_text, print_enqueued, print_job, print_jobs, print_stats};
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
        Command::List { status, job_type, batch, owner, mine, group, limit, cursor } => {
            let status = status
                .map(|s| s.parse::<JobStatus>().map_err(|e| CliError::Usage(format!("--status {s}: {e}"))))
                .transpose()?;
            let owner = if mine { Some(client.me().await?.owner) } else { owner };
            let filter =
                ListFilter { status, job_type, batch_id: batch, owner, group, limit: Some(limit), cursor };
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
            emit(json, &client.stats(job_type.as_deref()).await?, print_stats);
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
        Command::Pause { scope } => {
            let flags = client.pause(&pause_scope(&scope)?).await?;
            emit(json, &flags, |flags| println!("paused: {}", paused_text(flags)));
            Ok(0)
        }
        Command::Resume { scope } => {
            let flags = client.resume(&pause_scope(&scope)?).await?;
            emit(json, &flags, |flags| println!("paused: {}", paused_text(flags)));
            Ok(0)
        }
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
        let priority = priority.as_deref().map(parse_priority).transpose()?;
        let job = client.retry(&id, priority).await?;
        emit(json, &job, |job| println!("{} {} (generation {})", job.id, job.status, job.generation));
        return Ok(0);
    }
    let report = client.retry_failed(job_type.as_deref()).await?;
    emit(json, &report, |report| {
        let more = if report.more { " (more remain: run it again)" } else { "" };
        println!("retried {}{more}", report.retried);
    });
    Ok(0)
}

async fn enqueue(client: &Client, args: EnqueueArgs, json: bool) -> Result<u8, CliError> {
    let spec = new_job(&args)?;
    let job = client.enqueue_delayed(&spec, args.delay).await?;
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

/// The job `args` ask for; a payload that is no JSON or a priority that is none is a usage error.
fn new_job(args: &EnqueueArgs) -> Result<NewJob, CliError> {
    let payload = match &args.payload {
        None => serde_json::Value::Null,
        Some(payload) => {
            let text = match payload.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| CliError::Usage(format!("--payload {payload}: {e}")))?,
                None => payload.clone(),
            };
            serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("--payload is not valid JSON: {e}")))?
        }
    };
    Ok(NewJob {
        job_type: args.job_type.clone(),
        payload,
        priority: args.priority.as_deref().map(parse_priority).transpose()?.unwrap_or_default(),
        idempotency_key: args.key.clone(),
        max_attempts: args.max_attempts,
        timeout_seconds: args.timeout,
        ..NewJob::default()
    })
}

/// `0`..`10`, or a tier name (high, normal, low).
fn parse_priority(p: &str) -> Result<Priority, CliError> {
    p.parse().map_err(|e| CliError::Usage(format!("--priority: {e}")))
}

/// `all`, `queue:<tier>` or `type:<job type>`.
fn pause_scope(scope: &str) -> Result<PauseScope, CliError> {
    scope.parse().map_err(|e| CliError::Usage(format!("scope: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_is_a_number_or_a_tier_name_and_nothing_else() {
        assert_eq!(parse_priority("7").ok(), Priority::new(7).ok());
        assert_eq!(parse_priority("high").ok().map(|p| p.tier()), Some(jobq::PriorityTier::High));
        assert!(
            matches!(parse_priority("urgent"), Err(CliError::Usage(m)) if m.contains("--priority") && m.contains("urgent"))
        );
        assert!(matches!(parse_priority("11"), Err(CliError::Usage(_))));
    }

    #[test]
    fn a_pause_scope_is_parsed_before_any_request() {
        assert_eq!(pause_scope("queue:high").ok(), Some(PauseScope::Queue(jobq::PriorityTier::High)));
        assert!(matches!(pause_scope("queue:urgent"), Err(CliError::Usage(m)) if m.contains("queue:urgent")));
    }
}
