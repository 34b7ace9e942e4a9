//! The worker engine against the emulator: handlers called in-process with real SQS events,
//! received from the tier queues the way Lambda's event source mapping does.

mod deliveries;
mod outcomes;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use jobq::{NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

/// Counts its runs; optionally sleeps first.
#[derive(Clone, Default)]
struct CountRuns {
    runs: Arc<AtomicUsize>,
    sleep: Duration,
}

impl Task for CountRuns {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "count"
    }

    async fn run(&self, _ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.sleep).await;
        Ok(TaskOutput::completed(json!({"ran": true})))
    }
}

fn registry_with(task: CountRuns) -> Registry {
    let mut registry = Registry::with_builtins();
    registry.register(task);
    registry
}

fn spec(job_type: &str, payload: Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

async fn all_terminal(env: &TestEnv, ids: &[String]) -> bool {
    env.jobs(ids).await.iter().all(|j| j.status.is_terminal())
}

async fn dlq_messages(env: &TestEnv, tier: PriorityTier) -> Vec<jobq::queue::Received> {
    let dlqs = env.dlqs();
    let mut all = Vec::new();
    for _ in 0..3 {
        let got = dlqs.receive(tier, 10, 0, Some(30)).await.expect("receive dlq");
        if got.is_empty() {
            break;
        }
        all.extend(got);
    }
    all
}
