//! `jobq_cli`: the local host behind `make run`, as a library so a crate of your own job types
//! can run the local stack with its registry ([`local::run_from_env`]), or be one binary that is
//! both its deployment and its local stack ([`main`]).

// The scheduler's run is a deep nest of futures; laying out the local host's needs more room.
#![recursion_limit = "256"]

use std::process::ExitCode;

use jobq::domain::task::Registry;

pub mod local;

/// A crate's whole `main`: started by Lambda, it serves whichever function the template says
/// ([`jobq::runtime::run`]); started anywhere else, it is the local stack with the same job types
/// (what `make run` runs). So one build of one binary runs locally and deploys unchanged.
pub async fn main(registry: Registry) -> ExitCode {
    if !jobq::runtime::on_lambda() {
        return local::run_from_env(registry).await;
    }
    match jobq::runtime::run(registry).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}
