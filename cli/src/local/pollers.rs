//! The event source mappings, played locally: long-polling pollers per tier queue (feeding the
//! worker), per dead-letter queue (feeding the dead-letter handler) and for the ingest queue, and
//! EventBridge's schedule for the scheduler.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use jobq::adapters::aws::provision::Provisioned;
use jobq::adapters::aws::{Clients, DynamoStreamFeed};
use jobq::config::Config;
use jobq::handlers::counter::{self, CounterEngine};
use jobq::handlers::scheduler::Scheduler;
use jobq::handlers::worker::deliver;
use jobq::queue::TierQueues;
use jobq::{PerTier, PriorityTier};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::warn;

use super::functions::Functions;
use super::{LocalError, LocalSettings};

/// Dead-letter and ingest pollers take Lambda's default batch.
const DEFAULT_BATCH: i32 = 10;

/// Spawn every queue's pollers into `tasks`; they return once `stop` turns true.
pub(super) async fn spawn_pollers(
    tasks: &mut JoinSet<()>,
    clients: &Clients,
    config: &Config,
    provisioned: &Provisioned,
    functions: &Functions,
    settings: &LocalSettings,
    stop: &watch::Receiver<bool>,
) -> Result<(), LocalError> {
    let queues = TierQueues::new(clients.sqs.clone(), config.queues.clone());
    let dlqs = TierQueues::new(clients.sqs.clone(), config.dlqs.clone());
    let wait = settings.poll_wait_seconds;
    for tier in PriorityTier::ALL {
        let arn = queues.arn(tier).await.map_err(|e| LocalError::Aws(e.to_string()))?;
        for _ in 0..*settings.concurrency.get(tier) {
            let worker = functions.worker.clone();
            let handler = move |event| {
                let worker = worker.clone();
                async move { worker.handle(event, None).await }
            };
            let poller =
                Poller { queue: queues.clone(), tier, arn: arn.clone(), batch_size: settings.batch_size };
            tasks.spawn(poller.run(wait, stop.clone(), handler));
        }
        let arn = dlqs.arn(tier).await.map_err(|e| LocalError::Aws(e.to_string()))?;
        let dead_letters = functions.dead_letters.clone();
        let handler = move |event| {
            let dead_letters = dead_letters.clone();
            async move { dead_letters.handle(event).await }
        };
        let poller = Poller { queue: dlqs.clone(), tier, arn, batch_size: DEFAULT_BATCH };
        tasks.spawn(poller.run(wait, stop.clone(), handler));
    }
    // The ingest queue is one queue: seen here as a queue whose three tiers are the same URL.
    let queue = TierQueues::new(clients.sqs.clone(), PerTier::from_fn(|_| provisioned.ingest_queue.clone()));
    let arn = queue.arn(PriorityTier::Normal).await.map_err(|e| LocalError::Aws(e.to_string()))?;
    let ingest = functions.ingest.clone();
    let handler = move |event| {
        let ingest = ingest.clone();
        async move { ingest.handle(event).await }
    };
    let poller = Poller { queue, tier: PriorityTier::Normal, arn, batch_size: DEFAULT_BATCH };
    tasks.spawn(poller.run(wait, stop.clone(), handler));
    Ok(())
}

/// EventBridge's every-minute rule: a scheduler run now and then every `every`.
pub(super) fn spawn_schedule(
    tasks: &mut JoinSet<()>,
    scheduler: Scheduler,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tasks.spawn(async move {
        loop {
            if let Err(err) = scheduler.tick(chrono::Utc::now()).await {
                warn!(error = %err, "scheduler run failed; next run in {} s", every.as_secs());
            }
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// The counter function's event source mapping: read the table's change stream and count it,
/// from the start of the stream (changes counted before are recognised and skipped).
pub(super) fn spawn_counter(
    tasks: &mut JoinSet<()>,
    clients: &Clients,
    config: &Config,
    engine: CounterEngine,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let feed = DynamoStreamFeed::new(clients, &config.table);
    tasks.spawn(async move {
        let mut after: Option<String> = None;
        loop {
            match counter::drain(&engine, &feed, after.clone()).await {
                Ok(read_to) => after = read_to,
                Err(err) => warn!(error = %err, "counting the change stream stopped; trying again"),
            }
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// One event source mapping on one queue.
struct Poller {
    queue: TierQueues,
    tier: PriorityTier,
    arn: String,
    batch_size: i32,
}

impl Poller {
    /// Long-poll, run the batch, delete what succeeded. A stop interrupts only the wait for
    /// messages, never a batch being run.
    async fn run<F, Fut>(self, wait_seconds: i32, mut stop: watch::Receiver<bool>, handler: F)
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = SqsBatchResponse>,
    {
        let Poller { queue, tier, arn, batch_size } = self;
        loop {
            if *stop.borrow() {
                return;
            }
            let received = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                received = queue.receive(tier, batch_size, wait_seconds, None) => received,
            };
            match received {
                Ok(messages) => {
                    if let Err(err) = deliver(&queue, tier, &arn, &messages, &handler).await {
                        warn!(queue = %tier, error = %err, "could not delete handled messages");
                    }
                }
                Err(err) => {
                    warn!(queue = %tier, error = %err, "receive failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
