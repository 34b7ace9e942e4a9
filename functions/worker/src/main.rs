//! Worker Lambda: SQS batches from the tier queues -> jobs run -> partial batch response.
//! Your own job types run from a binary like this in your own crate (README: Adding a job type).

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_worker(jobq::task::Registry::with_builtins()).await
}
