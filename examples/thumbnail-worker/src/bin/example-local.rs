//! The local stack with this crate's job types: `cargo run -p jobq-example-worker --bin example-local`
//! with an emulator (`make emulator`, then `AWS_ENDPOINT_URL=http://127.0.0.1:4566`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    jobq_cli::local::run_from_env(jobq_example_worker::registry()).await
}
