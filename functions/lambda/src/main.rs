//! The stock deployment's one binary: every function of infra/template.yaml runs it, and each says
//! which it is with `JOBQ_FUNCTION` (api, worker, dlq, counter, ingest, scheduler). Your own job
//! types deploy the same way from a `main` like this in your own crate (README: Deploying).

#[tokio::main]
async fn main() -> Result<(), jobq::runtime::RuntimeError> {
    jobq::runtime::run(jobq::domain::task::Registry::with_builtins()).await
}
