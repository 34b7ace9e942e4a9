//! Named scenarios: actions at fixed moments of a run, on top of (or instead of) the random ones,
//! and the request counters read at given moments (for budgets over a window of the run).

use std::collections::BTreeMap;
use std::time::Duration;

use jobq::NewJob;
use jobq::store::PauseScope;

use crate::world::{Accepted, Expect, World};

/// One scripted action.
#[derive(Debug, Clone)]
pub enum Action {
    /// DynamoDB throttles every request for this long.
    ThrottleTable(Duration),
    /// Everything paused for this long, then resumed.
    PauseAll(Duration),
    /// These jobs enqueued in one batch (at most 25), each with what it should come to.
    EnqueueBatch(Vec<(NewJob, Expect)>),
    /// Note the request counters (DynamoDB and SQS, by operation) under this name.
    Snapshot(&'static str),
}

/// An action and when, from the run's start.
#[derive(Debug, Clone)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

/// Requests by operation so far: DynamoDB's by name, SQS's as `SQS:<name>`.
pub fn requests(world: &World) -> BTreeMap<String, u64> {
    let mut requests: BTreeMap<String, u64> =
        world.table.requests().into_iter().map(|(op, n)| (op.to_owned(), n)).collect();
    requests.extend(world.queues.requests().snapshot());
    requests
}

/// Play `steps` (in the order given; each waits for its moment).
pub async fn play(world: World, steps: Vec<Step>) {
    let start = tokio::time::Instant::now();
    for step in steps {
        tokio::time::sleep_until(start + step.at).await;
        let w = world.clone();
        match step.action {
            Action::ThrottleTable(length) => {
                tokio::spawn(async move {
                    w.table.set_throttled(true);
                    tokio::time::sleep(length).await;
                    w.table.set_throttled(false);
                });
            }
            Action::PauseAll(length) => {
                tokio::spawn(async move {
                    while w.service.set_paused(&PauseScope::All, true).await.is_err() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    tokio::time::sleep(length).await;
                    while w.service.set_paused(&PauseScope::All, false).await.is_err() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                });
            }
            Action::EnqueueBatch(jobs) => enqueue_batch(&world, jobs).await,
            Action::Snapshot(name) => {
                let now = requests(&world);
                world.log().snapshots.insert(name, now);
            }
        }
    }
}

async fn enqueue_batch(world: &World, jobs: Vec<(NewJob, Expect)>) {
    let batch_id = world.service.new_batch_id();
    let specs = jobs.iter().map(|(s, _)| s.clone()).collect();
    let accepted = world.service.enqueue_batch(specs, &batch_id).await;
    let mut log = world.log();
    match accepted {
        Ok(accepted) => {
            for (job, (_, expect)) in accepted.into_iter().zip(&jobs) {
                log.accepted.insert(job.id, Accepted { expect: *expect, tier: job.tier });
            }
        }
        Err(_) => log.refused += jobs.len() as u64,
    }
}
