//! Scheduler Lambda, every minute from EventBridge: recurring jobs, due `scheduled` jobs,
//! stuck and lost jobs, queue metrics.

// The scheduler's run is a deep nest of futures; release builds need more room to lay it out.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_scheduler(jobq::task::Registry::with_builtins()).await
}
