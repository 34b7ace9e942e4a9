//! This crate's one binary. On Lambda it serves whichever function of the stock template starts
//! it (README: Deploying your own job types); anywhere else it is the local stack with this
//! crate's job types: `cargo run -p jobq-example-worker` with an emulator (`make emulator`, then
//! `AWS_ENDPOINT_URL=http://127.0.0.1:4566`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    jobq_cli::main(jobq_example_worker::registry()).await
}
