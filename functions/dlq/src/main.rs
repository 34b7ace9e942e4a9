//! Dead-letter Lambda: records every dead-lettered job as `failed`, with the reason.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    jobq::telemetry::init();
    let config = jobq::Config::from_env()?;
    let clients = jobq::aws::Clients::from_env().await;
    let store = jobq::store::DynamoJobStore::new(clients.dynamodb.clone(), &config.table, config.retention);
    let handler = Arc::new(jobq::dlq::DeadLetterHandler::new(store));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
