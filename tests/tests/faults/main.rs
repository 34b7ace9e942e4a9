//! Faults between the product and AWS. A proxy ([`jobq_integration_tests::fault_proxy`]) sits
//! between the product's clients and the emulator and answers some requests with HTTP 500s and
//! throttling errors, or drops the connection before forwarding, or after (the request took
//! effect, its response is lost).
//!
//! `one_fault`: one test per fault the product must absorb (each failed before its fix); `load`:
//! the load test, with a tenth of all DynamoDB and SQS calls failing, every accepted job ends in
//! exactly one terminal status, run and counted once.

mod load;
mod one_fault;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use jobq::handlers::worker::deliver;
use jobq::queue::TierQueues;
use jobq::{NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use jobq_integration_tests::fault_proxy::{FaultPlan, FaultProxy};
use serde_json::Value;

fn spec(job_type: &str, payload: Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

fn types() -> jobq::domain::payload::JobTypes {
    jobq::domain::task::Registry::with_builtins().job_types()
}

/// The product's clients, through a proxy that injects only what a test scripts.
async fn scripted(env: &TestEnv) -> (FaultProxy, jobq::adapters::aws::Clients) {
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::none()).await;
    let (clients, _) = env.clients_via(proxy.url());
    (proxy, clients)
}

/// One event source mapping: receive, run, delete what succeeded, until told to stop.
async fn poll_loop<H, Fut>(
    queue: TierQueues,
    tier: PriorityTier,
    arn: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    while !*stop.borrow() {
        let received = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            received = queue.receive(tier, 10, 1, None) => received,
        };
        match received {
            Ok(messages) => {
                // A failed delete is a redelivery later, which the worker drops.
                let _ = deliver(&queue, tier, &arn, &messages, &handler).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
