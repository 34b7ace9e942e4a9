//! Scheduler Lambda, every minute from EventBridge: recurring jobs, due `scheduled` jobs,
//! stuck and lost jobs, queue metrics.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_scheduler(jobq::task::Registry::with_builtins()).await
}
