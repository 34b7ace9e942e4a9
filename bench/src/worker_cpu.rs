//! Per-job CPU in the worker path with AWS answered from memory, from the criterion benchmark
//! `benches/worker_cpu.rs` (`cargo bench -p jobq-bench --bench worker_cpu`, which `make bench`
//! runs first): criterion's estimates, per job.

use serde_json::{Value, json};

use crate::figure::{BenchError, Result, binary_dir, emit, round};

pub const TARGET_US: f64 = 50.0;
const RECORDS: f64 = 10.0;

pub fn run() {
    let line = match measure() {
        Ok(line) => line,
        Err(err) => crate::figure::failed("worker_cpu_per_job", &err),
    };
    emit(&line);
}

/// criterion's `target/criterion/worker_cpu/<name>/new/estimates.json`: mean and median, in ns
/// per iteration, and when it was written.
fn estimates(name: &str) -> Result<(f64, f64, String)> {
    let release = binary_dir()?;
    let target = release.parent().unwrap_or(&release);
    let path = target.join("criterion").join("worker_cpu").join(name).join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        BenchError::unexpected(
            format!("{} (run `cargo bench -p jobq-bench --bench worker_cpu` first)", path.display()),
            e,
        )
    })?;
    let written = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map(|t| jobq::domain::model::format_time(chrono::DateTime::<chrono::Utc>::from(t)))
        .unwrap_or_default();
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| BenchError::unexpected(path.display().to_string(), e))?;
    let point = |key: &str| {
        doc[key]["point_estimate"]
            .as_f64()
            .ok_or_else(|| BenchError::unexpected(path.display().to_string(), format!("no {key}")))
    };
    Ok((point("mean")?, point("median")?, written))
}

fn measure() -> Result<Value> {
    let (mean, median, written) = estimates("noop_batch_of_10")?;
    let (answers_mean, _, _) = estimates("in_memory_answers_of_a_batch")?;
    let per_job_us = |ns: f64| ns / RECORDS / 1000.0;
    let value = per_job_us(mean);
    Ok(json!({
        "figure": "worker_cpu_per_job",
        "benchmark": "worker_cpu/noop_batch_of_10 (criterion)",
        "value": round(value),
        "median_us": round(per_job_us(median)),
        "in_memory_answers_us": round(per_job_us(answers_mean)),
        "without_in_memory_answers_us": round(per_job_us(mean - answers_mean)),
        "unit": "µs per job (mean; event JSON in, handle, response JSON out; one thread)",
        "measured_at": written,
        "target": format!("< {TARGET_US} µs"),
        "met": value < TARGET_US,
    }))
}
