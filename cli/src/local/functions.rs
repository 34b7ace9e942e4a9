//! The six functions' handlers, built once for the local host from one registry, so the API,
//! ingest and scheduler accept exactly the job types the worker runs.

use std::sync::Arc;
use std::time::Duration;

use jobq::Ports;
use jobq::adapters::aws::Clients;
use jobq::adapters::aws::provision::Provisioned;
use jobq::api::{self, ApiSettings};
use jobq::config::{Config, ConfigError};
use jobq::domain::task::Registry;
use jobq::handlers::counter::CounterEngine;
use jobq::handlers::dlq::DeadLetterHandler;
use jobq::handlers::ingest::{IngestHandler, IngestRules};
use jobq::handlers::scheduler::{Scheduler, SchedulerSettings};
use jobq::handlers::worker::{Worker, WorkerSettings};

use super::LocalSettings;

pub(super) struct Functions {
    pub worker: Arc<Worker>,
    pub dead_letters: Arc<DeadLetterHandler>,
    pub ingest: Arc<IngestHandler>,
    pub scheduler: Scheduler,
    pub counter: CounterEngine,
    pub router: axum::Router,
    /// No `JOBQ_API_TOKEN`: the API answers anyone (the banner says so).
    pub open: bool,
}

impl Functions {
    pub fn build(
        clients: &Clients,
        config: &Config,
        provisioned: &Provisioned,
        registry: Registry,
        settings: &LocalSettings,
    ) -> Result<Self, ConfigError> {
        let job_types = registry.job_types();
        let rules = ingest_rules(provisioned, registry.contains("echo"))?;
        let visibility = Duration::from_secs(u64::from(settings.visibility_seconds));
        // Locally a run's lease is as short as the visibility, unless set: an interrupted job
        // runs again after the same half minute, whether its message or the lease brings it back.
        let env = WorkerSettings::from_env()?;
        let lease = match std::env::var_os("JOBQ_LEASE_SECONDS") {
            Some(_) => env.lease,
            None => visibility.clamp(Duration::from_secs(3), Duration::from_secs(900)),
        };
        let worker_settings = WorkerSettings { visibility_timeout: visibility, lease, ..env };
        // One set of ports for every handler, as in Lambda.
        let ports = Ports::aws(clients, config);
        let worker = Arc::new(ports.worker(registry, worker_settings));
        let dead_letters = Arc::new(ports.dead_letters());
        let scheduler_settings = SchedulerSettings::from_env()?;
        let scheduler = ports.scheduler(config, job_types.clone(), scheduler_settings)?;
        let ingest_service = ports.service(config, job_types.clone());
        rules.check_types(ingest_service.job_types())?;
        let ingest_dlq = Some((ports.queues.port().clone(), provisioned.ingest_dlq.clone()));
        // A notification AWS failed goes back to the ingest queue, to be tried again within minutes.
        let ingest = IngestHandler::new(ingest_service, rules, ingest_dlq)
            .returning_to(ports.queues.port().clone(), provisioned.ingest_queue.clone());
        let ingest = Arc::new(ingest);
        let api_settings = ApiSettings::from_env()?;
        let open = !api_settings.identity.requires_token();
        let router = api::router(ports.service(config, job_types), api_settings);
        let counter = ports.counter();
        Ok(Functions { worker, dead_letters, ingest, scheduler, counter, router, open })
    }
}

/// `JOBQ_INGEST_RULES` or `JOBQ_INGEST_RULES_FILE`; without either, locally every upload to the
/// bucket (under `uploads/`, the only keys it notifies of) becomes an `echo` job (when the
/// registry has `echo`), so it shows at once.
fn ingest_rules(provisioned: &Provisioned, has_echo: bool) -> Result<IngestRules, ConfigError> {
    let configured = std::env::var_os("JOBQ_INGEST_RULES").is_some()
        || std::env::var_os("JOBQ_INGEST_RULES_FILE").is_some();
    if configured || !has_echo {
        return IngestRules::from_env();
    }
    IngestRules::parse("default", &format!(r#"[{{"bucket": "{}", "type": "echo"}}]"#, provisioned.bucket))
}
