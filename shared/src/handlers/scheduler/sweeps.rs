//! The scheduler's sweeps over `by-due` (see `store::keys::Watch`): each reads exactly the jobs
//! due under its watch, page by page, until none are left or the tick's budget is spent (the next
//! tick goes on from the earliest still due). A job that fails is counted and left for the next
//! tick; it never stops the others.

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use tokio::time::Instant;
use tracing::{info, warn};

use super::backlog::Backlog;
use super::{Scheduler, TickPart, TickReport, envelope};
use crate::domain::model::{Job, MAX_SQS_DELAY_SECONDS};
use crate::domain::status::JobStatus;
use crate::handlers::service::ServiceError;
use crate::handlers::worker::DeadLetterReason;
use crate::store::keys::Watch;
use crate::store::{DueCursor, DueRow, PauseFlags, StoreError};

/// Jobs of one page moved at once.
const MOVES_AT_ONCE: usize = 16;

/// What a sweep did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Moved {
    Released,
    Recovered,
    Failed,
    Resent,
    /// A waiting job whose message is still in line (a deep queue): looked at again later, with
    /// nothing sent.
    InLine,
    /// A running job found under another watch (or a lease since renewed): watched at its
    /// lease end instead.
    Rewatched,
    /// A dead run that spent the last attempt, whose resuming delivery may still come: watched
    /// until it no longer can, then failed.
    Held,
    /// Nothing to do (moved on since the row was read, or still paused).
    Skipped,
}

/// What a sweep does with a job it found due: pure, so each branch is unit-tested. A
/// `processing` job may be under any watch (a claim keeps the watch it found): taken back if its
/// lease ended before `lease_ended_before`, else moved to the lease watch at its lease end. When
/// its attempts are spent it is failed instead, but only once its lease ended `resume_within`
/// before that: till then a delivery resuming the run (its outcome lost to AWS) may still come,
/// so it is watched until then (`Held`). A waiting job under the `sent` watch is sent again only
/// if its message is lost, not in line (`backlog`).
pub(super) fn decide(
    watch: Watch,
    job: &Job,
    lease_ended_before: DateTime<Utc>,
    resume_within: Duration,
    backlog: &Backlog,
) -> Option<Moved> {
    let ended_before = |before: DateTime<Utc>| job.lease_until.is_none_or(|until| until < before);
    let lease_ended = ended_before(lease_ended_before);
    let spent = job.attempts >= job.max_attempts;
    match (watch, job.status) {
        (_, JobStatus::Processing) if lease_ended && spent => {
            match ended_before(lease_ended_before - resume_within) {
                true => Some(Moved::Failed),
                false => Some(Moved::Held),
            }
        }
        (_, JobStatus::Processing) if lease_ended => Some(Moved::Recovered),
        (_, JobStatus::Processing) => Some(Moved::Rewatched),
        (Watch::Release, JobStatus::Scheduled | JobStatus::Retrying) => Some(Moved::Released),
        (Watch::Sent, JobStatus::Retrying | JobStatus::Queued) if backlog.is_lost(job) => Some(Moved::Resent),
        (Watch::Sent, JobStatus::Retrying | JobStatus::Queued) => Some(Moved::InLine),
        (Watch::Paused, JobStatus::Queued | JobStatus::Retrying) => Some(Moved::Released),
        _ => None,
    }
}

impl Scheduler {
    /// Every sweep, each within what is left of the tick's budget. One that fails is noted in
    /// `report` and the others still run; only the paused sweep needs the pause flags.
    pub(super) async fn sweep_due(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
        backlog: Backlog,
        report: &mut TickReport,
    ) {
        let flags = self.service.store().pause_flags().await;
        let known = Known { flags: flags.as_ref().ok().cloned().unwrap_or_default(), backlog };
        let release_before = now + Duration::seconds(MAX_SQS_DELAY_SECONDS);
        let mut sweeps = vec![
            (Watch::Release, release_before),
            (Watch::Lease, now - self.settings.recover_after),
            (Watch::Sent, now - self.settings.resend_after),
        ];
        match &flags {
            Ok(flags) if flags.paused.contains(&crate::store::PauseScope::All) => {}
            Ok(_) => sweeps.push((Watch::Paused, now)),
            Err(err) => report.part_failed(TickPart::Sweep { watch: Watch::Paused.as_str() }, err),
        }
        for (watch, before) in sweeps {
            if let Err(err) = self.sweep(watch, before, now, deadline, &known, report).await {
                report.part_failed(TickPart::Sweep { watch: watch.as_str() }, &err);
            }
        }
    }

    /// One watch, page by page, until no row is due or `deadline` passes.
    async fn sweep(
        &self,
        watch: Watch,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        deadline: Instant,
        known: &Known,
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
        let (store, flags) = (self.service.store(), &known.flags);
        let mut cursor = DueCursor::default();
        while !cursor.is_done() && Instant::now() < deadline {
            let rows = store.due_rows(watch, before, self.settings.sweep_per_shard, &mut cursor).await?;
            // Jobs of a paused tier or type stay parked, unread.
            let rows: Vec<DueRow> = rows
                .into_iter()
                .filter(|r| {
                    watch != Watch::Paused || !r.tier.is_some_and(|t| flags.is_paused(t, &r.job_type))
                })
                .collect();
            let jobs = store.jobs_of_rows(&rows).await?;
            if watch == Watch::Sent {
                jobs.iter()
                    .filter(|(_, j)| j.status == JobStatus::Queued)
                    .for_each(|(_, j)| report.saw_queued(j, now));
            }
            let moved: Vec<Result<(Moved, Option<Job>), ServiceError>> = futures::stream::iter(jobs)
                .map(|(row, job)| self.move_job(watch, row, job, now, &known.backlog))
                .buffer_unordered(MOVES_AT_ONCE)
                .collect()
                .await;
            let mut messages = Vec::new();
            for result in moved {
                if let Ok((_, Some(job))) = &result {
                    messages.push((envelope(job).with_run(job.run_id.clone()), job.delay_seconds(now)));
                }
                count(report, result.map(|(moved, _)| moved));
            }
            // Ten to a request. A message not sent is sent again by the lost-message sweeps: the
            // job was moved to where they look.
            let unsent = self.queues.send_batch_settled(&messages).await;
            if !unsent.is_empty() {
                warn!(unsent = unsent.len(), "sweep: some messages were not sent; sent again later");
                report.errors += unsent.len();
            }
        }
        if !cursor.is_done() {
            info!(watch = watch.as_str(), "tick budget spent: the next tick goes on");
        }
        Ok(())
    }

    /// Move one job as its watch says; the job to send a message for, if any.
    async fn move_job(
        &self,
        watch: Watch,
        row: DueRow,
        job: Job,
        now: DateTime<Utc>,
        backlog: &Backlog,
    ) -> Result<(Moved, Option<Job>), ServiceError> {
        let store = self.service.store();
        let lease_ended_before = now - self.settings.recover_after;
        let resume_within = self.settings.resume_within;
        let Some(moved) = decide(watch, &job, lease_ended_before, resume_within, backlog) else {
            return Ok((Moved::Skipped, None));
        };
        if moved == Moved::InLine {
            let due = backlog.look_again(&job, now, self.settings.resend_after);
            return match store.watch_later(&row, &job, due).await {
                Ok(()) => Ok((Moved::InLine, None)),
                Err(err) if moved_on(&err) => Ok((Moved::Skipped, None)),
                Err(err) => Err(err.into()),
            };
        }
        let written = match (moved, job.status) {
            (Moved::Released, JobStatus::Scheduled) => store.release(&job.id, now).await,
            (Moved::Released, _) => store.release_row(&row, &job, now).await,
            (Moved::Recovered, _) => {
                store.recover(&job, lease_ended_before, now, now + self.settings.resume_grace).await
            }
            (Moved::Rewatched | Moved::Held, _) => {
                let at = job
                    .lease_until
                    .map(|lease| if moved == Moved::Held { lease + resume_within } else { lease });
                return match store.rewatch_run(&row, &job, at).await {
                    Ok(()) => Ok((moved, None)),
                    Err(err) if moved_on(&err) => Ok((Moved::Skipped, None)),
                    Err(err) => Err(err.into()),
                };
            }
            (Moved::Failed, _) => {
                return self.fail_spent(&job, lease_ended_before, now).await.map(|m| (m, None));
            }
            (Moved::Resent, _) => store.watch_again(&row, &job, now).await,
            (Moved::InLine | Moved::Skipped, _) => return Ok((Moved::Skipped, None)),
        };
        match written {
            Ok(job) => {
                if moved == Moved::Recovered {
                    warn!(job_id = %job.id, attempts = job.attempts, "stuck job recovered");
                }
                Ok((moved, Some(job)))
            }
            Err(err) if moved_on(&err) => Ok((Moved::Skipped, None)),
            Err(err) => Err(err.into()),
        }
    }

    /// A dead run spent the last attempt: fail the job as read (pinned to its generation, run and
    /// ended lease: a run alive after an outage renews and keeps it) and dead-letter its envelope.
    async fn fail_spent(
        &self,
        job: &Job,
        lease_ended_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Moved, ServiceError> {
        let error = crate::handlers::worker::crashed_repeatedly(job.attempts);
        match self.service.store().fail_dead_run(job, lease_ended_before, &error, now).await {
            Ok(failed) => {
                warn!(job_id = %job.id, "stuck job failed: attempts spent");
                let reason = DeadLetterReason::CrashedRepeatedly.as_str();
                self.dlqs.send_with_reason(failed.tier, &envelope(&failed).encode(), reason).await?;
                Ok(Moved::Failed)
            }
            Err(err) if moved_on(&err) => Ok(Moved::Skipped),
            Err(err) => Err(err.into()),
        }
    }
}

/// What the sweeps of one tick know: the pause flags, and how far each tier's consumers got.
pub(super) struct Known {
    flags: PauseFlags,
    backlog: Backlog,
}

/// A write refused because the job moved on (a run, a cancel, another sweep) is nothing to do.
pub(super) fn moved_on(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::InvalidTransition { .. } | StoreError::Conflict { .. } | StoreError::NotFound { .. }
    )
}

fn count(report: &mut TickReport, result: Result<Moved, ServiceError>) {
    match result {
        Ok(Moved::Released) => report.released += 1,
        Ok(Moved::Recovered) => report.recovered += 1,
        Ok(Moved::Failed) => report.failed += 1,
        Ok(Moved::Resent) => report.resent += 1,
        Ok(Moved::InLine) => report.in_line += 1,
        Ok(Moved::Rewatched | Moved::Held | Moved::Skipped) => {}
        Err(err) => {
            warn!(error = %err, "sweep: a job could not be moved; the next tick tries again");
            report.errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;

    fn job(status: JobStatus, attempts: u32) -> Job {
        let mut job = Job::new(
            NewJob { job_type: "ocr".into(), max_attempts: Some(3), ..NewJob::default() },
            Utc::now(),
        );
        job.status = status;
        job.attempts = attempts;
        job
    }

    #[test]
    fn each_watch_moves_only_the_statuses_it_watches() {
        let now = Utc::now();
        let drained = Backlog::drained();
        let within = Duration::minutes(95);
        let decide = |watch, job: &Job| decide(watch, job, now, within, &drained);
        assert_eq!(decide(Watch::Release, &job(JobStatus::Scheduled, 0)), Some(Moved::Released));
        assert_eq!(decide(Watch::Release, &job(JobStatus::Retrying, 1)), Some(Moved::Released));
        assert_eq!(decide(Watch::Sent, &job(JobStatus::Retrying, 1)), Some(Moved::Resent));
        assert_eq!(decide(Watch::Sent, &job(JobStatus::Queued, 0)), Some(Moved::Resent));
        assert_eq!(decide(Watch::Paused, &job(JobStatus::Queued, 0)), Some(Moved::Released));
        // Messages wait in the tier's queue, and its consumers are not past the job: in line.
        let busy = Backlog::default();
        assert_eq!(
            super::decide(Watch::Sent, &job(JobStatus::Queued, 0), now, within, &busy),
            Some(Moved::InLine)
        );
        assert_eq!(
            super::decide(Watch::Sent, &job(JobStatus::Retrying, 1), now, within, &busy),
            Some(Moved::InLine)
        );
        for (watch, status) in [
            (Watch::Lease, JobStatus::Completed),
            (Watch::Release, JobStatus::Queued),
            (Watch::Paused, JobStatus::Cancelled),
        ] {
            assert_eq!(decide(watch, &job(status, 1)), None, "{watch:?} leaves {status} alone");
        }
    }

    #[test]
    fn a_running_job_under_any_watch_is_taken_back_once_its_lease_ended_else_watched_at_it() {
        let now = Utc::now();
        let running = |attempts, lease_from_now| {
            let mut job = job(JobStatus::Processing, attempts);
            job.lease_until = Some(now + chrono::Duration::seconds(lease_from_now));
            job
        };
        let within = Duration::minutes(95);
        for watch in Watch::ALL {
            let b = &Backlog::drained();
            assert_eq!(decide(watch, &running(1, -1), now, within, b), Some(Moved::Recovered), "{watch:?}");
            let spent_long_ago = running(3, -96 * 60);
            assert_eq!(
                decide(watch, &spent_long_ago, now, within, b),
                Some(Moved::Failed),
                "{watch:?}: spent"
            );
            assert_eq!(decide(watch, &running(1, 60), now, within, b), Some(Moved::Rewatched), "{watch:?}");
        }
    }

    /// Regression (seeds 3050 and 3104): a run's outcome was lost to a throttle on its last
    /// attempt, and its resuming delivery met a throttled invocation, hidden for the queue's
    /// visibility timeout (90 minutes); the sweep failed the job `worker_crashed_repeatedly` at
    /// its lease end, with no crash. A spent run is held (watched) until no resume can come.
    #[test]
    fn a_spent_run_is_failed_only_once_no_delivery_can_resume_it() {
        let now = Utc::now();
        let within = Duration::minutes(95);
        let mut job = job(JobStatus::Processing, 3);
        job.lease_until = Some(now - Duration::minutes(10));
        let b = &Backlog::drained();
        assert_eq!(decide(Watch::Sent, &job, now, within, b), Some(Moved::Held));
        assert_eq!(decide(Watch::Lease, &job, now, within, b), Some(Moved::Held));
        job.lease_until = Some(now - Duration::minutes(96));
        assert_eq!(decide(Watch::Lease, &job, now, within, b), Some(Moved::Failed));
    }
}
