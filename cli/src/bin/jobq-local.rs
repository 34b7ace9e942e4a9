//! The local host: emulator-backed resources, the API on 127.0.0.1:$JOBQ_PORT, and pollers that
//! feed the worker and dead-letter handlers exactly what Lambda would, for the built-in job types.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    jobq_cli::local::run_from_env(jobq::domain::task::Registry::with_builtins()).await
}
