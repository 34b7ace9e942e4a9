//! The worker Lambda of this crate: the built-in job types and this crate's, one call to run.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_worker(jobq_example_worker::registry()).await
}
