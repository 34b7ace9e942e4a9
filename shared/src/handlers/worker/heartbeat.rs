//! While a handler runs: its coalesced progress written when due, heartbeats that renew the run's
//! lease, and (only when a run nears it) the message's visibility extended.
//!
//! The lease, not the message, is how a run that died is found: it reaches at most
//! `WorkerSettings::lease` past the latest heartbeat, so the scheduler sees the job in the
//! lease-end index minutes after its run died, whatever the queue's visibility timeout.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, warn};

use super::decision::{heartbeat_every, lease_span, visibility_seconds};
use super::engine::Worker;
use crate::context::JobContext;
use crate::priority::PriorityTier;
use crate::store::StoreError;

/// What a run's ticker needs to know about the run.
#[derive(Debug, Clone)]
pub(super) struct RunClock {
    /// The tier queue the message came from, and its receipt.
    pub tier: PriorityTier,
    pub receipt: String,
    /// The run's time limit, from its start.
    pub limit: Duration,
}

/// A run's ticker, stopped when dropped: when the handler returns, and also when the run's
/// future is dropped half-way (an aborted batch), so no orphan keeps a dead run's lease alive.
#[derive(Debug)]
pub(super) struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Worker {
    /// The ticker of one run, until dropped (or until the job is no longer the run's).
    pub(super) fn spawn_ticker(&self, ctx: Arc<JobContext>, run: RunClock) -> Ticker {
        let store = self.store.clone();
        let queues = self.queues.clone();
        let clock = self.clock.clone();
        let lease = self.settings.lease;
        let visibility = self.settings.visibility_timeout;
        let beat_every = heartbeat_every(lease);
        let tick = self.settings.progress_interval.min(beat_every).max(Duration::from_millis(10));
        // In the job's span, so its lines carry the job's fields too.
        let span = tracing::Span::current();
        Ticker(tokio::spawn(
            async move {
                let started = Instant::now();
                let (mut last_beat, mut hidden_until) = (started, started + visibility);
                loop {
                    tokio::time::sleep(tick).await;
                    if ctx.flush_if_due().await.is_err() {
                        return; // cancelled: the handler learns at its next report
                    }
                    if last_beat.elapsed() >= beat_every {
                        last_beat = Instant::now();
                        let left = run.limit.saturating_sub(started.elapsed());
                        let until = clock.now() + lease_span(left, lease);
                        match store.renew_lease(ctx.job(), until).await {
                            Ok(()) => {}
                            Err(StoreError::Conflict { .. }) => return, // no longer this run's
                            Err(err) => warn!(error = %err, "heartbeat: could not renew the lease"),
                        }
                    }
                    // Half the visibility left: extend it, so the message does not come back
                    // while its run is alive (only with short visibility timeouts, as locally).
                    if hidden_until.saturating_duration_since(Instant::now()) <= visibility / 2 {
                        hidden_until = Instant::now() + visibility;
                        let seconds = visibility_seconds(visibility);
                        if let Err(err) = queues.change_visibility(run.tier, &run.receipt, seconds).await {
                            warn!(error = %err, "heartbeat: could not extend message visibility");
                        }
                    }
                }
            }
            .instrument(span),
        ))
    }
}
