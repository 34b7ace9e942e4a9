//! Dead-letter Lambda: records every dead-lettered job as `failed`, with the reason.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_dlq().await
}
