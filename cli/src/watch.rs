//! `watch` and `--wait`: progress bars until jobs (or a batch) end, then how each ended and why.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use jobq::{Job, JobStatus};
use jobq_client::ListFilter;

use crate::client::{CliError, Client};
use crate::exit_codes::batch_exit_code;
use crate::render::{ending, outcome_line};

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} [{bar:30.cyan/blue}] {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Progress bars until every job has ended; the jobs as they ended, in the order of `ids`.
/// Unless `json` (the caller prints the jobs), when stdout is no terminal (a script, a CI log)
/// or the bars are hidden, also prints how each job ended and why.
pub async fn watch(client: &Client, ids: &[String], json: bool) -> Result<Vec<Job>, CliError> {
    let bars = MultiProgress::new();
    let mut watched: Vec<(String, ProgressBar, Option<Job>)> = ids
        .iter()
        .map(|id| {
            let bar = bars.add(ProgressBar::new(100).with_style(bar_style()));
            bar.set_prefix(id.chars().take(12).collect::<String>());
            (id.clone(), bar, None)
        })
        .collect();
    loop {
        for (id, bar, done) in watched.iter_mut().filter(|(_, _, done)| done.is_none()) {
            let job = client.get(id).await?;
            bar.set_position(u64::from(job.progress));
            let step = job.current_step.as_ref().map(|s| format!(" {s}")).unwrap_or_default();
            bar.set_message(format!("{}{step} (attempt {})", job.status, job.attempts));
            if job.status.is_terminal() {
                bar.finish_with_message(ending(&job));
                *done = Some(job);
            }
        }
        if watched.iter().all(|(_, _, done)| done.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let jobs: Vec<Job> = watched.into_iter().filter_map(|(_, _, job)| job).collect();
    if !json && (!std::io::stdout().is_terminal() || bars.is_hidden()) {
        for job in &jobs {
            println!("{}", outcome_line(job));
        }
    }
    Ok(jobs)
}

pub async fn watch_batch(client: &Client, batch: &str, json: bool) -> Result<u8, CliError> {
    let bar = ProgressBar::new(100).with_style(bar_style());
    bar.set_prefix(batch.chars().take(12).collect::<String>());
    loop {
        let summary = client.batch(batch).await?;
        bar.set_position(u64::from(summary.progress));
        bar.set_message(counts_text(&summary.counts));
        if summary.done {
            bar.finish();
            if json {
                println!("{:#}", serde_json::to_value(&summary).unwrap_or_default());
            } else if !std::io::stdout().is_terminal() || bar.is_hidden() {
                println!("batch {batch}: {}", counts_text(&summary.counts));
                print_batch_reasons(client, batch, &summary.counts).await?;
            }
            return Ok(batch_exit_code(&summary.counts));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Pure: a batch's counts as a person reads them: `3 completed, 1 failed`.
fn counts_text(counts: &BTreeMap<JobStatus, usize>) -> String {
    counts.iter().map(|(status, n)| format!("{n} {status}")).collect::<Vec<_>>().join(", ")
}

/// Jobs of a batch listed per status, at most, when a script is told why they did not complete.
const REASONS_SHOWN: usize = 20;

/// The batch's jobs that failed, ended partial or were cancelled, each with its reason (the
/// first [`REASONS_SHOWN`] of each status, then how many more).
async fn print_batch_reasons(
    client: &Client,
    batch: &str,
    counts: &BTreeMap<JobStatus, usize>,
) -> Result<(), CliError> {
    for status in [JobStatus::Failed, JobStatus::Partial, JobStatus::Cancelled] {
        let count = counts.get(&status).copied().unwrap_or(0);
        if count == 0 {
            continue;
        }
        let filter = ListFilter {
            batch_id: Some(batch.to_owned()),
            status: Some(status),
            limit: Some(REASONS_SHOWN as u32),
            ..ListFilter::default()
        };
        let jobs = client.list(&filter).await?.jobs;
        for job in &jobs {
            println!("{}", outcome_line(job));
        }
        if count > jobs.len() {
            println!("... and {} more {status}", count - jobs.len());
        }
    }
    Ok(())
}
