//! Worker Lambda: SQS batches from the tier queues -> jobs run -> partial batch response.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    jobq::telemetry::init();
    let config = jobq::Config::from_env()?;
    let settings = jobq::worker::WorkerSettings::from_env()?;
    let clients = jobq::aws::Clients::from_env().await;
    // Register your own job types here (see README: Adding a job type).
    let registry = jobq::jobs::registry();
    let worker = Arc::new(jobq::worker::Worker::new(&clients, &config, registry, settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move {
            let deadline = chrono::DateTime::from_timestamp_millis(event.context.deadline as i64);
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload, deadline).await)
        }
    }))
    .await
}
