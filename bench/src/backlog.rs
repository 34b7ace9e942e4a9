//! Messages per job through a two-hour backlog (issue 25, defect 3), in the simulation: the
//! scenario `jobq_sim::backlog` (2,400 one-minute jobs on the low tier, 20 running at a time).
//! Also its requests and write units per job, so a fix that trades messages for writes shows.

use serde_json::json;

use crate::figure::{self, BenchError};

pub async fn run() {
    // The simulation runs on a runtime of its own, which may not start inside this one.
    match tokio::task::spawn_blocking(|| jobq_sim::backlog::two_hour_backlog(1)).await {
        Ok(report) => figure::emit(&line(&report)),
        Err(err) => figure::emit(&figure::failed(
            "backlog_messages_per_job",
            &BenchError::unexpected("simulation", err),
        )),
    }
}

fn line(report: &jobq_sim::RunReport) -> serde_json::Value {
    let jobs = jobq_sim::backlog::JOBS as f64;
    let per_job = report.messages_sent as f64 / jobs;
    let requests: u64 = report.requests.values().sum();
    json!({
        "figure": "backlog_messages_per_job",
        "jobs": jobq_sim::backlog::JOBS,
        "messages_sent": report.messages_sent,
        "value": figure::round(per_job),
        "unit": "SendMessage entries per job",
        "requests_per_job": figure::round(requests as f64 / jobs),
        "write_units_per_job": figure::round(report.write_units.total() as f64 / jobs),
        "worst_wait_seconds": report.worst_wait_ms.values().max().copied().unwrap_or(0) / 1000,
        "invariants_held": report.violations.is_empty(),
        "target": jobq_sim::backlog::TARGET,
        "met": per_job <= jobq_sim::backlog::TARGET && report.violations.is_empty(),
    })
}
