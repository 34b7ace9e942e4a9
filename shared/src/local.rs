//! The local host (`make run`): every function in one process, fed the events Lambda would feed
//! them. The API router is served over HTTP; pollers play the SQS event source mappings (long
//! polling, batches of up to 10, per-tier concurrency, partial batch responses honoured).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::api::{self, ApiSettings};
use crate::aws::Clients;
use crate::config::{Config, ConfigError};
use crate::dlq::DeadLetterHandler;
use crate::ingest::{IngestHandler, IngestRules};
use crate::priority::{PerTier, PriorityTier};
use crate::provision::{ProvisionError, provision};
use crate::queue::SqsJobQueue;
use crate::resources::ResourceNames;
use crate::scheduler::{Scheduler, SchedulerSettings};
use crate::service::JobService;
use crate::worker::{Worker, WorkerSettings, deliver};

/// Settings of the local host, from `JOBQ_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    /// `JOBQ_PORT` (default 8080), on 127.0.0.1.
    pub port: u16,
    /// `JOBQ_PREFIX` (default `jobq-`): resource names.
    pub prefix: String,
    /// `JOBQ_LOCAL_CONCURRENCY` (default `4,2,1`): pollers per tier, high,normal,low.
    pub concurrency: PerTier<usize>,
    /// `JOBQ_LOCAL_BATCH_SIZE` (default 10).
    pub batch_size: i32,
    /// `JOBQ_LOCAL_POLL_WAIT_SECONDS` (default 10): long-poll wait.
    pub poll_wait_seconds: i32,
    /// `JOBQ_SHUTDOWN_GRACE_SECONDS` (default 10): how long running jobs may finish on Ctrl-C.
    pub shutdown_grace: Duration,
    /// `JOBQ_LOCAL_VISIBILITY_SECONDS` (default 30): the local tier queues' visibility timeout, and
    /// so the time after which an interrupted job is delivered again.
    pub visibility_seconds: u32,
    /// `JOBQ_LOCAL_SCHEDULE_SECONDS` (default 60, EventBridge's rate): how often the scheduler runs.
    pub schedule_every: Duration,
}

impl LocalSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let invalid = |var: &str, value: String, reason: &str| ConfigError::Invalid {
            var: var.to_owned(),
            value,
            reason: reason.to_owned(),
        };
        let number = |name: &str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(invalid(name, v, &format!("expected a whole number up to {max}"))),
                },
            }
        };
        let concurrency = match get("JOBQ_LOCAL_CONCURRENCY") {
            None => PerTier { high: 4, normal: 2, low: 1 },
            Some(v) => {
                let parts: Vec<Option<usize>> = v.split(',').map(|p| p.trim().parse().ok()).collect();
                match parts.as_slice() {
                    [Some(high), Some(normal), Some(low)] if *high <= 64 && *normal <= 64 && *low <= 64 => {
                        PerTier { high: *high, normal: *normal, low: *low }
                    }
                    _ => {
                        return Err(invalid(
                            "JOBQ_LOCAL_CONCURRENCY",
                            v,
                            "expected three numbers: high,normal,low",
                        ));
                    }
                }
            }
        };
        let prefix = get("JOBQ_PREFIX").unwrap_or_else(|| "jobq-".to_owned());
        if !prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(invalid(
                "JOBQ_PREFIX",
                prefix,
                "lowercase letters, digits and '-' only (bucket names)",
            ));
        }
        Ok(LocalSettings {
            port: number("JOBQ_PORT", 8080, 65_535)? as u16,
            prefix,
            concurrency,
            batch_size: number("JOBQ_LOCAL_BATCH_SIZE", 10, 10)?.max(1) as i32,
            poll_wait_seconds: number("JOBQ_LOCAL_POLL_WAIT_SECONDS", 10, 20)? as i32,
            shutdown_grace: Duration::from_secs(number("JOBQ_SHUTDOWN_GRACE_SECONDS", 10, 900)?),
            visibility_seconds: number("JOBQ_LOCAL_VISIBILITY_SECONDS", 30, 43_200)?.max(1) as u32,
            schedule_every: Duration::from_secs(number("JOBQ_LOCAL_SCHEDULE_SECONDS", 60, 3600)?.max(1)),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error("cannot listen on 127.0.0.1:{port}: {source} (set JOBQ_PORT to use another port)")]
    Listen { port: u16, source: std::io::Error },
    #[error("{0}")]
    Aws(String),
}

/// Provision, then serve the API and run the pollers until `shutdown` resolves; then stop
/// polling, give running batches `shutdown_grace` to finish, and leave the rest to redelivery.
pub async fn run(settings: LocalSettings, shutdown: impl Future<Output = ()>) -> Result<(), LocalError> {
    let clients = Clients::from_env().await;
    let names = ResourceNames::new(&settings.prefix);
    let provisioned = provision(&clients, &names).await?;
    for (_, url) in provisioned.queues.iter() {
        clients
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                settings.visibility_seconds.to_string(),
            )
            .send()
            .await
            .map_err(|e| LocalError::Aws(format!("setting the local visibility timeout: {e}")))?;
    }
    let config = Config::from_provisioned(&provisioned);
    let registry = crate::jobs::registry();
    let job_types: Vec<String> = registry.job_types().into_iter().map(str::to_owned).collect();
    let provisioned = &provisioned;
    let worker_settings = WorkerSettings {
        visibility_timeout: Duration::from_secs(u64::from(settings.visibility_seconds)),
        ..WorkerSettings::from_env()?
    };
    let worker = Arc::new(Worker::new(&clients, &config, registry, worker_settings));
    let dead_letters = Arc::new(DeadLetterHandler::new(worker.store().clone()));
    let scheduler = Scheduler::new(
        &clients,
        &config,
        job_types.clone(),
        SchedulerSettings::from_env(Duration::from_secs(u64::from(settings.visibility_seconds)))?,
    );
    // Locally, by default every upload to the bucket becomes an `echo` job, so it shows at once.
    let mut rules = IngestRules::from_env()?;
    if std::env::var_os("JOBQ_INGEST_RULES").is_none() && std::env::var_os("JOBQ_INGEST_RULES_FILE").is_none()
    {
        rules = IngestRules::parse(
            "default",
            &format!(r#"[{{"bucket": "{}", "type": "echo"}}]"#, provisioned.bucket),
        )?;
    }
    let ingest_service = JobService::new(&clients, &config, job_types.clone());
    rules.check_types(ingest_service.job_types())?;
    let ingest = Arc::new(IngestHandler::new(
        ingest_service,
        rules,
        clients.sqs.clone(),
        Some(provisioned.ingest_dlq.clone()),
    ));
    let api_settings = ApiSettings::from_env()?;
    let open = api_settings.token.is_none();
    let router = api::router(JobService::new(&clients, &config, job_types), api_settings);

    let address = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| LocalError::Listen { port: settings.port, source })?;
    print_banner(&settings, &config, open);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut pollers = JoinSet::new();
    let queues = SqsJobQueue::new(clients.sqs.clone(), config.queues.clone());
    let dlqs = SqsJobQueue::new(clients.sqs.clone(), config.dlqs.clone());
    for tier in PriorityTier::ALL {
        let arn = queues.arn(tier).await.map_err(|e| LocalError::Aws(e.to_string()))?;
        for _ in 0..*settings.concurrency.get(tier) {
            let (queue, worker, arn, stop) = (queues.clone(), worker.clone(), arn.clone(), stop_rx.clone());
            let handler = move |event| {
                let worker = worker.clone();
                async move { worker.handle(event, None).await }
            };
            pollers.spawn(poll_loop(
                queue,
                tier,
                arn,
                settings.batch_size,
                settings.poll_wait_seconds,
                stop,
                handler,
            ));
        }
        let dlq_arn = dlqs.arn(tier).await.map_err(|e| LocalError::Aws(e.to_string()))?;
        let (queue, handler, stop) = (dlqs.clone(), dead_letters.clone(), stop_rx.clone());
        let handle = move |event| {
            let handler = handler.clone();
            async move { handler.handle(event).await }
        };
        pollers.spawn(poll_loop(queue, tier, dlq_arn, 10, settings.poll_wait_seconds, stop, handle));
    }

    // The ingest queue is one queue: seen here as a queue whose three tiers are the same URL.
    let ingest_queue =
        SqsJobQueue::new(clients.sqs.clone(), PerTier::from_fn(|_| provisioned.ingest_queue.clone()));
    let ingest_arn =
        ingest_queue.arn(PriorityTier::Normal).await.map_err(|e| LocalError::Aws(e.to_string()))?;
    let stop = stop_rx.clone();
    let handle = move |event| {
        let ingest = ingest.clone();
        async move { ingest.handle(event).await }
    };
    pollers.spawn(poll_loop(
        ingest_queue,
        PriorityTier::Normal,
        ingest_arn,
        10,
        settings.poll_wait_seconds,
        stop,
        handle,
    ));

    // EventBridge's every-minute rule.
    let mut stop = stop_rx.clone();
    let every = settings.schedule_every;
    pollers.spawn(async move {
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

    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        };
        axum::serve(listener, router).with_graceful_shutdown(stopped).await
    });

    shutdown.await;
    info!(
        grace_seconds = settings.shutdown_grace.as_secs(),
        "shutting down: no more polling; running jobs may finish"
    );
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(settings.shutdown_grace, async { while pollers.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        warn!("grace period over: stopping running jobs; their messages will be delivered again");
        pollers.abort_all();
        while pollers.join_next().await.is_some() {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    info!("stopped");
    Ok(())
}

/// One event source mapping's poller: long-poll, run the batch, delete what succeeded. A stop
/// interrupts only the wait for messages, never a batch being run.
async fn poll_loop<F, Fut>(
    queue: SqsJobQueue,
    tier: PriorityTier,
    arn: String,
    batch_size: i32,
    wait_seconds: i32,
    mut stop: watch::Receiver<bool>,
    handler: F,
) where
    F: Fn(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
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

fn print_banner(settings: &LocalSettings, config: &Config, open: bool) {
    let api = format!("http://127.0.0.1:{}", settings.port);
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "(AWS, default credentials)".to_owned());
    let c = &settings.concurrency;
    let auth =
        if open { "open: JOBQ_API_TOKEN is not set" } else { "needs Authorization: Bearer $JOBQ_API_TOKEN" };
    println!(
        "\njobq local stack\n  API       {api}  ({auth})\n  endpoint  {endpoint}\n  table     {}\n  bucket    {}\n  workers   high x{}, normal x{}, low x{} (batches of {}); scheduler every {} s; uploads to the bucket become jobs\n\nEnqueue a job:\n  curl -s -X POST {api}/jobs -H 'content-type: application/json' -d '{{\"type\":\"sleep\",\"payload\":{{\"seconds\":5,\"steps\":5}}}}'\n  jobq enqueue sleep --payload '{{\"seconds\":5,\"steps\":5}}' --wait\n\nCtrl-C stops; running jobs get {} s to finish, the rest are delivered again on the next start.\n",
        config.table,
        config.bucket.as_deref().unwrap_or("-"),
        c.high,
        c.normal,
        c.low,
        settings.batch_size,
        settings.schedule_every.as_secs(),
        settings.shutdown_grace.as_secs(),
    );
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_have_local_defaults_and_clear_errors() {
        let defaults = LocalSettings::from_lookup(|_| None).expect("defaults");
        assert_eq!((defaults.port, defaults.prefix.as_str()), (8080, "jobq-"));
        assert_eq!(
            defaults.concurrency,
            PerTier { high: 4, normal: 2, low: 1 },
            "higher tiers get more pollers"
        );
        let vars = HashMap::from([("JOBQ_LOCAL_CONCURRENCY", "8, 3, 1"), ("JOBQ_PORT", "9000")]);
        let custom = LocalSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("valid");
        assert_eq!((custom.port, custom.concurrency.high), (9000, 8));
        for (var, value) in
            [("JOBQ_LOCAL_CONCURRENCY", "8,3"), ("JOBQ_PORT", "http"), ("JOBQ_PREFIX", "Jobq_")]
        {
            let err = LocalSettings::from_lookup(|k| (k == var).then(|| value.to_owned())).expect_err(var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
