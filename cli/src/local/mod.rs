//! The local host (`make run`): every function in one process, fed the events Lambda would feed
//! them. The API router is served over HTTP; pollers play the SQS event source mappings (long
//! polling, batches of up to 10, per-tier concurrency, partial batch responses honoured).
//!
//! It runs the [`Registry`] it is given: a crate of your own job types runs the local stack with
//! them by `jobq_cli::local::run_from_env(registry)`, as `jobq-local` does with the built-ins.

mod banner;
mod functions;
mod pollers;
mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jobq::adapters::aws::Clients;
use jobq::adapters::aws::provision::{ProvisionError, Provisioned, provision};
use jobq::config::ConfigError;
use jobq::domain::task::Registry;
use jobq::resources::ResourceNames;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};

pub use settings::LocalSettings;

use functions::Functions;

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

/// What `jobq-local` does: logging, settings from `JOBQ_*` variables, then [`run`] until Ctrl-C
/// or SIGTERM. Exits 2 on a bad setting, 1 when the stack cannot start.
pub async fn run_from_env(registry: Registry) -> ExitCode {
    jobq::telemetry::init();
    let settings = match LocalSettings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("jobq-local: {err}");
            return ExitCode::from(2);
        }
    };
    match run(registry, settings, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jobq-local: {err}");
            ExitCode::FAILURE
        }
    }
}

/// How often the change stream is read for the counters (the event source mapping's batching
/// window in AWS is about a second too).
const COUNT_EVERY: Duration = Duration::from_millis(250);

/// Provision, then serve the API and run the pollers with `registry`'s job types until `shutdown`
/// resolves; then stop polling, give running batches `shutdown_grace` to finish, and leave the
/// rest to redelivery.
pub async fn run(
    registry: Registry,
    settings: LocalSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LocalError> {
    let clients = Clients::from_env().await;
    let provisioned = provision_local(&clients, &settings).await?;
    let config = provisioned.config();
    let functions = Functions::build(&clients, &config, &provisioned, registry, &settings)?;
    let address = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| LocalError::Listen { port: settings.port, source })?;
    banner::print(&settings, &config, functions.open);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    pollers::spawn_pollers(&mut tasks, &clients, &config, &provisioned, &functions, &settings, &stop_rx)
        .await?;
    let Functions { scheduler, counter, router, .. } = functions;
    pollers::spawn_schedule(&mut tasks, scheduler, settings.schedule_every, stop_rx.clone());
    pollers::spawn_counter(&mut tasks, &clients, &config, counter, COUNT_EVERY, stop_rx.clone());
    let server = spawn_server(listener, router, stop_rx);

    shutdown.await;
    info!(
        grace_seconds = settings.shutdown_grace.as_secs(),
        "shutting down: no more polling; running jobs may finish"
    );
    let _ = stop_tx.send(true);
    drain(tasks, settings.shutdown_grace).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    info!("stopped");
    Ok(())
}

/// The emulator's (or the account's) resources under the prefix, with the local visibility timeout
/// on the tier queues.
async fn provision_local(clients: &Clients, settings: &LocalSettings) -> Result<Provisioned, LocalError> {
    let provisioned = provision(clients, &ResourceNames::new(&settings.prefix)).await?;
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
    Ok(provisioned)
}

/// The API until `stop` turns true; requests in flight then finish.
fn spawn_server(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        axum::serve(listener, router).with_graceful_shutdown(stopped).await
    })
}

/// Wait up to `grace` for the pollers' running batches; then abort them (their messages come
/// back when their visibility ends).
async fn drain(mut tasks: JoinSet<()>, grace: Duration) {
    let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!("grace period over: stopping running jobs; their messages will be delivered again");
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
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
