//! The local host: emulator-backed resources, the API on 127.0.0.1:$JOBQ_PORT, and pollers that
//! feed the worker and dead-letter handlers exactly what Lambda would, for the built-in job types.

// The scheduler's run is a deep nest of futures; release builds need more room to lay it out.
#![recursion_limit = "256"]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    jobq_cli::local::run_from_env(jobq::task::Registry::with_builtins()).await
}
