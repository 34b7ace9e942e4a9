//! `make bench`: figures as JSON lines, one per figure. Never part of `make test`.
//!
//! `jobq-bench` runs every figure; `jobq-bench FIGURE...` runs some: requests, e2e, capacity
//! (runs e2e too, and counts the mix unless requests ran), priority, cold_start, worker_rss,
//! bootstrap_size, worker_cpu, sweeps and wru (these two in memory), backlog (in the simulation). Needs an emulator
//! (AWS_ENDPOINT_URL) and the release binaries next to this one; `make bench` provides both.

use jobq_bench::{
    artifacts, backlog, capacity, cold_start, e2e, figure, priority, requests, sweeps, worker_cpu,
    worker_rss, wru,
};

const FIGURES: [&str; 11] = [
    "requests",
    "e2e",
    "capacity",
    "priority",
    "cold_start",
    "worker_rss",
    "bootstrap_size",
    "worker_cpu",
    "sweeps",
    "wru",
    "backlog",
];

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = args.iter().find(|a| !FIGURES.contains(&a.as_str())) {
        eprintln!("jobq-bench: unknown figure {unknown:?}; figures: {}", FIGURES.join(", "));
        return std::process::ExitCode::from(2);
    }
    let want = |name: &str| args.is_empty() || args.iter().any(|a| a == name);

    let mut costs = None;
    if want("requests") {
        match requests::run().await {
            Ok(c) => costs = Some(c),
            Err(err) => figure::emit(&figure::failed("requests_per_job", &err)),
        }
    }
    let mut throughput = Vec::new();
    if want("e2e") || want("capacity") {
        throughput = e2e::run().await;
    }
    if want("capacity") {
        if costs.is_none() {
            match requests::costs().await {
                Ok(c) => costs = Some(c),
                Err(err) => figure::emit(&figure::failed("emulator_capacity", &err)),
            }
        }
        if let Some(costs) = &costs {
            capacity::run(costs, &throughput).await;
        }
    }
    if want("priority") {
        priority::run().await;
    }
    if want("cold_start") {
        cold_start::run().await;
    }
    if want("worker_rss") {
        worker_rss::run().await;
    }
    if want("bootstrap_size") {
        artifacts::run();
    }
    if want("worker_cpu") {
        worker_cpu::run();
    }
    if want("sweeps") {
        sweeps::run().await;
    }
    if want("wru") {
        wru::run().await;
    }
    if want("backlog") {
        backlog::run().await;
    }
    std::process::ExitCode::SUCCESS
}
