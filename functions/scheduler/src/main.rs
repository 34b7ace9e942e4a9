//! Scheduler Lambda, every minute from EventBridge: recurring jobs, due `scheduled` jobs,
//! stuck and lost jobs, queue metrics.

// The scheduler's run is a deep nest of futures; release builds need more room to lay it out.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    jobq::telemetry::init();
    let config = jobq::Config::from_env()?;
    let worker = jobq::worker::WorkerSettings::from_env()?;
    let settings = jobq::scheduler::SchedulerSettings::from_env(worker.visibility_timeout)?;
    let clients = jobq::aws::Clients::from_env().await;
    let job_types: Vec<String> = jobq::jobs::registry().job_types().into_iter().map(str::to_owned).collect();
    let scheduler = Arc::new(jobq::scheduler::Scheduler::new(&clients, &config, job_types, settings));
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let scheduler = scheduler.clone();
        async move { Ok::<_, Error>(serde_json::to_value(scheduler.tick(chrono::Utc::now()).await?)?) }
    }))
    .await
}
