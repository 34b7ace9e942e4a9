//! While a handler runs: its coalesced progress written when due, heartbeats that renew the run's
//! lease, and the message kept hidden while the run lives.
//!
//! How a run that died is found: until its first heartbeat (a third of a lease in), by its
//! message, which the worker hid only a little past one lease ([`first_window`]), so it returns
//! to a worker that takes the job over; from its first heartbeat on, by its lease, which the
//! heartbeat puts in the lease-end index, where the scheduler finds it minutes after the run's
//! last sign of life. Only then is the message hidden for the queue's whole visibility timeout.
//! A run shorter than a third of its lease so writes no index at all.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, warn};

use super::decision::{heartbeat_every, lease_span, visibility_seconds};
use super::state::Worker;
use crate::domain::context::JobContext;
use crate::domain::priority::PriorityTier;
use crate::store::StoreError;

/// The message a delivery came in, while its job is handled.
#[derive(Debug, Clone)]
pub(super) struct Held {
    /// The tier queue the message came from, and its receipt.
    pub tier: PriorityTier,
    pub receipt: String,
    /// Until when it is hidden (see [`first_window`]).
    pub hidden_until: Instant,
}

/// What a run's ticker needs to know about the run.
#[derive(Debug, Clone)]
pub(super) struct RunClock {
    pub held: Held,
    /// The run's time limit, from its start.
    pub limit: Duration,
}

/// How long a batch's messages are hidden before any run is in the lease-end index: a lease and
/// a little more, so a live run's message never returns before its lease could have ended (a
/// copy that returned sooner would only be deferred), and never more than the queue's own.
pub(super) fn first_window(lease: Duration, visibility_timeout: Duration) -> Duration {
    (lease + FIRST_WINDOW_MARGIN).min(visibility_timeout)
}

const FIRST_WINDOW_MARGIN: Duration = Duration::from_secs(10);

/// How long to hide a live run's message next: a first window until its lease is watched, the
/// queue's visibility timeout after. Extended when half of the current hold is left.
pub(super) fn next_hold(watched: bool, first: Duration, visibility_timeout: Duration) -> Duration {
    if watched { visibility_timeout.max(first) } else { first }
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
                let first = first_window(lease, visibility);
                let (mut last_beat, mut hidden_until, mut hold) = (started, run.held.hidden_until, first);
                // Whether the lease is in the lease-end index (a heartbeat put it there).
                let mut watched = false;
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
                            Ok(()) => watched = true,
                            Err(StoreError::Conflict { .. }) => return, // no longer this run's
                            Err(err) => warn!(error = %err, "heartbeat: could not renew the lease"),
                        }
                    }
                    // Watched now: the message may stay hidden long. Else half the hold left:
                    // hide it again, so it does not come back while its run lives.
                    let next = next_hold(watched, first, visibility);
                    let left = hidden_until.saturating_duration_since(Instant::now());
                    if next > hold || left <= hold / 2 {
                        (hold, hidden_until) = (next, Instant::now() + next);
                        let seconds = visibility_seconds(next);
                        let held = &run.held;
                        if let Err(err) = queues.change_visibility(held.tier, &held.receipt, seconds).await {
                            warn!(error = %err, "heartbeat: could not extend message visibility");
                        }
                    }
                }
            }
            .instrument(span),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_hidden_past_one_lease_until_the_lease_is_watched() {
        let (lease, queue) = (Duration::from_secs(120), Duration::from_secs(5400));
        let first = first_window(lease, queue);
        assert_eq!(first, Duration::from_secs(130));
        assert_eq!(next_hold(false, first, queue), first);
        assert_eq!(next_hold(true, first, queue), queue);
        // A queue that hides messages less than a lease (as locally) is never lengthened.
        let short = Duration::from_secs(30);
        assert_eq!(first_window(lease, short), short);
        assert_eq!(next_hold(true, first_window(lease, short), short), short);
    }
}
