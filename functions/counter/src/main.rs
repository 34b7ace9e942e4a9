//! Counter Lambda: keeps the job counters from the table's change stream, each change once.

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run_counter().await
}
