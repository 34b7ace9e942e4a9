//! What a person reads: a job, a page of jobs and the statistics as text and tables, or the
//! API's JSON as it came for a script (`--json`).

use std::collections::BTreeMap;

use comfy_table::{Table, presets};
use serde_json::Value;

/// Print `value` as JSON, or as text for a person.
pub fn emit(json: bool, value: &Value, human: impl FnOnce(&Value)) {
    if json {
        println!("{value:#}");
    } else {
        human(value);
    }
}

pub fn print_enqueued(job: &Value) {
    println!(
        "{} {} ({}, priority {}, {} tier)",
        text(&job["id"]),
        text(&job["status"]),
        text(&job["type"]),
        job["priority"],
        text(&job["tier"])
    );
}

/// Pure: how a job ended, and why when it says: `<id> failed: <error message>`.
pub fn outcome_line(job: &Value) -> String {
    format!("{} {}", text(&job["id"]), ending(job))
}

/// Pure: a job's status, and its error message when it has one: `failed: <message>`.
pub fn ending(job: &Value) -> String {
    let error = job["error"]["message"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
    format!("{}{error}", text(&job["status"]))
}

/// A field as text: `-` when it is absent, a string without its quotes.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn print_job(job: &Value) {
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

pub fn print_jobs(jobs: &[Value]) {
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

pub fn print_stats(stats: &Value) {
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
    use serde_json::json;

    use super::*;

    #[test]
    fn an_ended_job_says_why() {
        let failed = json!({"id": "j1", "status": "failed", "error": {"kind": "fatal", "message": "boom"}});
        assert_eq!(outcome_line(&failed), "j1 failed: boom");
        assert_eq!(outcome_line(&json!({"id": "j2", "status": "completed", "error": null})), "j2 completed");
        assert_eq!(ending(&json!({"status": "partial", "error": {"message": "2 of 3"}})), "partial: 2 of 3");
    }
}
