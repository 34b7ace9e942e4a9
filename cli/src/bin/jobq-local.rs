//! The local host: emulator-backed resources, the API on 127.0.0.1:$JOBQ_PORT, and pollers that
//! feed the worker and dead-letter handlers exactly what Lambda would.

// The scheduler's run is a deep nest of futures; release builds need more room to lay it out.
#![recursion_limit = "256"]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    jobq::telemetry::init();
    let settings = match jobq::local::LocalSettings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("jobq-local: {err}");
            return ExitCode::from(2);
        }
    };
    match jobq::local::run(settings, jobq::local::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jobq-local: {err}");
            ExitCode::FAILURE
        }
    }
}
