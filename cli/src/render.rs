//! What a person reads: a job, a page of jobs and the statistics as text and tables, or the
//! API's JSON as it came for a script (`--json`).

use comfy_table::{Table, presets};
use jobq::Job;
use jobq::domain::model::format_time;
use jobq::handlers::service::Stats;
use jobq::store::PauseFlags;
use serde::Serialize;

/// Print `value` as the API's JSON, or as text for a person.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        println!("{:#}", serde_json::to_value(value).unwrap_or_default());
    } else {
        human(value);
    }
}

pub fn print_enqueued(job: &Job) {
    println!("{} {} ({}, priority {}, {} tier)", job.id, job.status, job.job_type, job.priority, job.tier);
}

/// Pure: how a job ended, and why when it says: `<id> failed: <error message>`.
pub fn outcome_line(job: &Job) -> String {
    format!("{} {}", job.id, ending(job))
}

/// Pure: a job's status, and its error message when it has one: `failed: <message>`.
pub fn ending(job: &Job) -> String {
    let error = job.error.as_ref().map(|e| format!(": {}", e.message)).unwrap_or_default();
    format!("{}{error}", job.status)
}

/// An optional field as text: `-` when it is absent.
fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A job's fields as a person reads them, in order.
pub fn job_rows(job: &Job) -> Vec<(&'static str, String)> {
    vec![
        ("id", job.id.clone()),
        ("type", job.job_type.clone()),
        ("status", job.status.to_string()),
        ("priority", job.priority.to_string()),
        ("tier", job.tier.to_string()),
        ("attempts", job.attempts.to_string()),
        ("max_attempts", job.max_attempts.to_string()),
        ("progress", job.progress.to_string()),
        ("current_step", or_dash(job.current_step.as_ref())),
        ("message", or_dash(job.message.as_ref())),
        ("created_at", format_time(job.created_at)),
        ("started_at", or_dash(job.started_at.map(format_time))),
        ("completed_at", or_dash(job.completed_at.map(format_time))),
        ("duration_ms", or_dash(job.duration_ms)),
        ("wait_ms", or_dash(job.wait_ms)),
        ("batch_id", or_dash(job.batch_id.as_ref())),
    ]
}

pub fn print_job(job: &Job) {
    for (field, value) in job_rows(job) {
        println!("{field:>14}  {value}");
    }
    if !job.payload.is_null() {
        println!("{:>14}  {}", "payload", job.payload);
    }
    if let Some(result) = job.result.as_ref().filter(|r| !r.is_null()) {
        println!("{:>14}  {result}", "result");
    }
    if let Some(error) = &job.error {
        println!("{:>14}  {}", "error", serde_json::to_value(error).unwrap_or_default());
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header(header.to_vec());
    table
}

pub fn print_jobs(jobs: &[Job]) {
    let mut t = table(&["ID", "TYPE", "STATUS", "PRI", "ATTEMPTS", "PROGRESS", "STEP", "CREATED"]);
    for job in jobs {
        t.add_row(vec![
            job.id.clone(),
            job.job_type.clone(),
            job.status.to_string(),
            job.priority.to_string(),
            format!("{}/{}", job.attempts, job.max_attempts),
            format!("{}%", job.progress),
            or_dash(job.current_step.as_ref()),
            format_time(job.created_at),
        ]);
    }
    println!("{t}");
}

pub fn print_stats(stats: &Stats) {
    println!("{}", stats_text(stats));
}

/// Pure: the statistics as a person reads them: jobs by status, outcomes and timings per type,
/// queue depths per tier, and what is paused.
pub fn stats_text(stats: &Stats) -> String {
    let mut t = table(&["STATUS", "JOBS"]);
    for (status, n) in &stats.counts {
        t.add_row(vec![status.to_string(), n.to_string()]);
    }
    let mut out = format!("{t}\n\n");
    let mut t =
        table(&["TYPE", "COMPLETED", "PARTIAL", "FAILED", "RETRIED", "SUCCESS", "AVG RUN ms", "AVG WAIT ms"]);
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"));
    for (job_type, s) in &stats.types {
        t.add_row(vec![
            job_type.clone(),
            s.completed.to_string(),
            s.partial.to_string(),
            s.failed.to_string(),
            s.retried.to_string(),
            s.success_rate.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0)),
            ms(s.avg_processing_ms),
            ms(s.avg_wait_ms),
        ]);
    }
    out.push_str(&format!("{t}\n\n"));
    let mut t = table(&["TIER", "VISIBLE", "IN FLIGHT", "DELAYED", "DLQ"]);
    for (tier, s) in &stats.tiers {
        let q = &s.queue;
        let row = [q.visible, q.in_flight, q.delayed, s.dlq_depth].map(|n| n.to_string());
        t.add_row([vec![tier.to_string()], row.to_vec()].concat());
    }
    out.push_str(&format!("{t}\n\n"));
    out.push_str(&format!("paused: {}", paused_text(&stats.paused)));
    out
}

/// Pure: what is paused, as a line: `nothing`, or the scopes (`all, type:render`).
pub fn paused_text(flags: &PauseFlags) -> String {
    let scopes: Vec<String> = flags.paused.iter().map(ToString::to_string).collect();
    if scopes.is_empty() { "nothing".to_owned() } else { scopes.join(", ") }
}

#[cfg(test)]
mod tests {
    use jobq::{JobFailure, JobStatus, NewJob};

    use super::*;

    fn job(status: JobStatus, error: Option<&str>) -> Job {
        let mut job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, chrono::Utc::now());
        job.status = status;
        job.error = error.map(|message| JobFailure { message: message.into(), details: None });
        job
    }

    #[test]
    fn an_ended_job_says_why() {
        let failed = job(JobStatus::Failed, Some("boom"));
        assert_eq!(outcome_line(&failed), format!("{} failed: boom", failed.id));
        let completed = job(JobStatus::Completed, None);
        assert_eq!(outcome_line(&completed), format!("{} completed", completed.id));
        assert_eq!(ending(&job(JobStatus::Partial, Some("2 of 3"))), "partial: 2 of 3");
    }

    /// A JSON field as text: `-` when it is absent, a string without its quotes.
    fn text(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Null => "-".to_owned(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    #[test]
    fn a_job_reads_as_the_api_writes_its_fields() {
        let mut queued = job(JobStatus::Queued, None);
        queued.current_step = Some("extract".into());
        let api = serde_json::to_value(&queued).expect("json");
        for (field, shown) in job_rows(&queued) {
            assert_eq!(shown, text(&api[field]), "{field}");
        }
    }
}
