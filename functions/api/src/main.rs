//! API Lambda: API Gateway HTTP API (payload v2) -> the shared axum router; it accepts the job
//! types of the registry it is given.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_api(jobq::task::Registry::with_builtins()).await
}
