//! Ingest Lambda: S3 upload notifications (via the ingest queue) -> jobs, by routing rules.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    jobq::telemetry::init();
    let config = jobq::Config::from_env()?;
    let rules = jobq::ingest::IngestRules::from_env()?;
    let clients = jobq::aws::Clients::from_env().await;
    let job_types: Vec<String> = jobq::jobs::registry().job_types().into_iter().map(str::to_owned).collect();
    let service = jobq::service::JobService::new(&clients, &config, job_types);
    rules.check_types(service.job_types())?;
    let dlq = std::env::var("JOBQ_INGEST_DLQ_URL").ok();
    let handler = Arc::new(jobq::ingest::IngestHandler::new(service, rules, clients.sqs.clone(), dlq));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
