//! API Lambda: API Gateway HTTP API (payload v2) -> the shared axum router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    jobq::telemetry::init();
    let config = jobq::Config::from_env()?;
    let settings = jobq::api::ApiSettings::from_env()?;
    let clients = jobq::aws::Clients::from_env().await;
    let job_types: Vec<String> = jobq::jobs::registry().job_types().into_iter().map(str::to_owned).collect();
    let service = jobq::service::JobService::new(&clients, &config, job_types);
    lambda_http::run(jobq::api::router(service, settings)).await
}
