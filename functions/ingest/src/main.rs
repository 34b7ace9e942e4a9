//! Ingest Lambda: S3 upload notifications (via the ingest queue) -> jobs, by routing rules that
//! may name only the registry's job types.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_ingest(jobq::task::Registry::with_builtins()).await
}
