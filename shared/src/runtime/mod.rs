//! One binary serves every Lambda function of a deployment: [`run`] reads which one it is
//! ([`LambdaFunction::from_env`]: `JOBQ_FUNCTION`, or the handler name) and serves it. A crate of
//! your own job types has one `main` that builds its [`Registry`] and calls [`run`]; the API,
//! ingest and scheduler then accept exactly the job types the worker runs. The per-function calls
//! ([`run_worker`], [`run_api`], ...) remain for a binary that serves one function only.
//!
//! Each call initialises logging, reads its `JOBQ_*` settings (a missing or malformed one stops
//! the start with an error that names the variable), builds the AWS clients and the handler, and
//! serves Lambda's Runtime API. The `*_from_env` functions build the handlers alone.

use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

use crate::adapters::aws::Clients;
use crate::api::{self, ApiSettings};
use crate::config::{Config, ConfigError};
use crate::domain::task::Registry;
use crate::handlers::dlq::DeadLetterHandler;
use crate::handlers::ingest::{IngestHandler, IngestRules};
use crate::handlers::scheduler::{Scheduler, SchedulerSettings};
use crate::handlers::worker::{Worker, WorkerSettings};
use crate::wiring::Ports;

mod function;

pub use function::{FUNCTION_VAR, HANDLER_VAR, LambdaFunction};

/// A failed invocation, as the Lambda runtime reports it.
pub type LambdaError = lambda_runtime::Error;

/// Why a function stopped.
#[derive(thiserror::Error)]
pub enum RuntimeError {
    /// A missing or malformed setting; the message names the variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Runtime API could not be reached, or answered out of protocol.
    #[error("the Lambda runtime stopped: {0}")]
    Lambda(LambdaError),
}

// `main` prints the error it returns with `Debug`: keep that the readable message.
impl fmt::Debug for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Every function of a deployment from one binary: the one `JOBQ_FUNCTION` (or the handler)
/// names, with `registry`'s job types. A missing or unknown name stops the start with an error
/// that lists the names.
pub async fn run(registry: Registry) -> Result<(), RuntimeError> {
    match LambdaFunction::from_env()? {
        LambdaFunction::Api => run_api(registry).await,
        LambdaFunction::Worker => run_worker(registry).await,
        LambdaFunction::DeadLetters => run_dlq().await,
        LambdaFunction::Counter => run_counter().await,
        LambdaFunction::Ingest => run_ingest(registry).await,
        LambdaFunction::Scheduler => run_scheduler(registry).await,
    }
}

/// Whether this process was started by Lambda: Lambda gives a custom runtime the address of its
/// Runtime API, and nothing else does.
pub fn on_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
}

/// The worker Lambda: SQS batches from the tier queues, run by `registry`'s handlers, answered
/// with the partial batch response.
pub async fn run_worker(registry: Registry) -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let worker = Arc::new(worker_from_env(registry).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move {
            let deadline = chrono::DateTime::from_timestamp_millis(event.context.deadline as i64);
            Ok::<SqsBatchResponse, LambdaError>(worker.handle(event.payload, deadline).await)
        }
    }))
    .await
    .map_err(RuntimeError::Lambda)
}

/// The API Lambda: API Gateway HTTP API (payload v2) requests to the router; enqueueing a type
/// `registry` does not hold is refused.
pub async fn run_api(registry: Registry) -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let router = api_from_env(&registry).await?;
    lambda_http::run(router).await.map_err(RuntimeError::Lambda)
}

/// The dead-letter Lambda: records every dead-lettered job as `failed`, with the reason.
pub async fn run_dlq() -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let handler = Arc::new(dead_letters_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, LambdaError>(handler.handle(event.payload).await) }
    }))
    .await
    .map_err(RuntimeError::Lambda)
}

/// The counter Lambda: the table's change stream (through its event source mapping, with a
/// tumbling window so each batch names its shard) kept as counters. Answers with the first
/// change not counted, from which the batch comes again.
pub async fn run_counter() -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let (ports, _) = aws_ports().await?;
    let engine = Arc::new(ports.counter());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<crate::handlers::counter::StreamEvent>| {
        let engine = engine.clone();
        async move {
            let changes = event.payload.changes();
            let result = engine.count(&changes).await;
            Ok::<serde_json::Value, LambdaError>(crate::handlers::counter::batch_response(&result))
        }
    }))
    .await
    .map_err(RuntimeError::Lambda)
}

/// The ingest Lambda: S3 upload notifications (through the ingest queue) become jobs by the
/// routing rules; a rule naming a type `registry` does not hold stops the start.
pub async fn run_ingest(registry: Registry) -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let handler = Arc::new(ingest_from_env(&registry).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, LambdaError>(handler.handle(event.payload).await) }
    }))
    .await
    .map_err(RuntimeError::Lambda)
}

/// The scheduler Lambda, every minute from EventBridge: recurring jobs, due `scheduled` jobs,
/// stuck and lost jobs, queue metrics. Answers with the run's report.
pub async fn run_scheduler(registry: Registry) -> Result<(), RuntimeError> {
    crate::telemetry::init();
    let scheduler = Arc::new(scheduler_from_env(&registry).await?);
    // Boxed: the run is a deep nest of futures, and laying it out inline in the caller's `main`
    // would need a raised `recursion_limit` there.
    Box::pin(lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let scheduler = scheduler.clone();
        async move {
            let report = scheduler.tick(chrono::Utc::now()).await?;
            Ok::<_, LambdaError>(serde_json::to_value(report)?)
        }
    })))
    .await
    .map_err(RuntimeError::Lambda)
}

/// The AWS ports every function's handler runs on, and the configuration naming them.
async fn aws_ports() -> Result<(Ports, Config), ConfigError> {
    let config = Config::from_env()?;
    let clients = Clients::from_env().await;
    Ok((Ports::aws(&clients, &config), config))
}

/// The worker [`run_worker`] serves, from `JOBQ_*` settings.
pub async fn worker_from_env(registry: Registry) -> Result<Worker, ConfigError> {
    let settings = WorkerSettings::from_env()?;
    let (ports, _) = aws_ports().await?;
    Ok(ports.worker(registry, settings))
}

/// The router [`run_api`] serves, from `JOBQ_*` settings.
pub async fn api_from_env(registry: &Registry) -> Result<axum::Router, ConfigError> {
    let settings = ApiSettings::from_env()?;
    let (ports, config) = aws_ports().await?;
    let service = ports.service(&config, registry.job_types());
    Ok(api::router(service, settings))
}

/// The handler [`run_dlq`] serves, from `JOBQ_*` settings.
pub async fn dead_letters_from_env() -> Result<DeadLetterHandler, ConfigError> {
    let (ports, _) = aws_ports().await?;
    Ok(ports.dead_letters())
}

/// The handler [`run_ingest`] serves, from `JOBQ_*` settings (`JOBQ_INGEST_DLQ_URL` optional:
/// where notifications that cannot become jobs go).
pub async fn ingest_from_env(registry: &Registry) -> Result<IngestHandler, ConfigError> {
    let rules = IngestRules::from_env()?;
    let (ports, config) = aws_ports().await?;
    let service = ports.service(&config, registry.job_types());
    rules.check_types(service.job_types())?;
    let dlq = std::env::var("JOBQ_INGEST_DLQ_URL").ok().filter(|url| !url.is_empty());
    let dead_letters = dlq.map(|url| (ports.queues.port().clone(), url));
    let handler = IngestHandler::new(service, rules, dead_letters);
    // A notification AWS failed goes back to the queue it came from, to be tried again soon.
    Ok(match config.ingest_queue.clone().filter(|url| !url.is_empty()) {
        Some(url) => handler.returning_to(ports.queues.port().clone(), url),
        None => handler,
    })
}

/// The scheduler [`run_scheduler`] serves, from `JOBQ_*` settings.
pub async fn scheduler_from_env(registry: &Registry) -> Result<Scheduler, ConfigError> {
    let settings = SchedulerSettings::from_env()?;
    let (ports, config) = aws_ports().await?;
    ports.scheduler(&config, registry.job_types(), settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_error_printed_by_main_names_the_variable() {
        let err = RuntimeError::from(ConfigError::Missing("JOBQ_TABLE".to_owned()));
        // What `fn main() -> Result<(), RuntimeError>` prints after "Error: ".
        let printed = format!("{err:?}");
        assert!(printed.starts_with("JOBQ_TABLE is not set"), "{printed}");
        assert_eq!(printed, err.to_string());
    }
}
