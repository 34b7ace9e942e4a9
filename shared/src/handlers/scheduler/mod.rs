//! The scheduler, invoked every minute by an EventBridge rule (locally by a ticker):
//! recurring jobs, release of `scheduled` jobs, recovery of stuck and lost jobs, queue metrics.
//! Every action is idempotent, so two invocations for the same minute do no harm.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::config::{ConfigError, Vars, process_env};
use crate::domain::caller::SystemCaller;
use crate::domain::envelope::Envelope;
use crate::domain::model::{Job, NewJob};
use crate::domain::priority::{PerTier, PriorityTier};
use crate::domain::status::JobStatus;
use crate::handlers::service::{JobService, ServiceError};
use crate::metrics::{MetricSet, Unit};
use crate::queue::{QueueDepth, TierQueues};

mod backlog;
mod schedule;
mod sweeps;

use backlog::Backlog;

pub use schedule::{Cron, RecurringJob, ScheduleError, ScheduleExpr, check_recurring, parse_recurring};

/// The metric (EMF, in the stack's namespace) counting the parts of scheduler runs that failed,
/// by `Part` (see [`TickPart::kind`]); an alarm of the template watches its total.
pub const FAILURES_METRIC: &str = "SchedulerFailures";

/// The longest `JOBQ_RECOVER_AFTER_SECONDS` and `JOBQ_RESEND_AFTER_SECONDS` (30 days).
const MAX_SWEEP_AFTER_SECONDS: u64 = 30 * 24 * 3600;

/// Tunables, from `JOBQ_SCHEDULES` and `JOBQ_SCHEDULER_*`.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    pub recurring: Vec<(RecurringJob, ScheduleExpr)>,
    /// Minutes looked back for recurring jobs, so a missed invocation is made up (default 5).
    pub catch_up_minutes: i64,
    /// A `processing` job whose lease ended this long ago is recovered: its run died (or lost
    /// it), so it is sent again (`JOBQ_RECOVER_AFTER_SECONDS`, default 30). A lease already
    /// reaches 30 s past its run's time limit, and a live run renews it long before it ends.
    pub recover_after: Duration,
    /// A recovered job's message waits this long (`JOBQ_RESUME_GRACE_SECONDS`, default 60, more
    /// than a heartbeat): a run that was alive after all (an outage kept it from renewing) owns
    /// the job again with its next write, on the same attempt, before the message runs it anew.
    pub resume_grace: Duration,
    /// A `queued` job due this long ago is sent again (`JOBQ_RESEND_AFTER_SECONDS`, default 900).
    pub resend_after: Duration,
    /// How long after a run's lease ended a delivery resuming it (its outcome lost to AWS) may
    /// still come: the tier queues' visibility timeout (`JOBQ_VISIBILITY_TIMEOUT_SECONDS`, as the
    /// worker's), for which a throttled invocation hides its batch, and five minutes for the
    /// delivery's own delays. A run on its last attempt is failed as dead only after it.
    pub resume_within: Duration,
    /// Jobs read per index shard in one page of a sweep (default 200).
    pub sweep_per_shard: usize,
    /// How long one run may sweep (`JOBQ_SCHEDULER_BUDGET_SECONDS`, default 40, inside the
    /// function's minute): what is left is swept by the next run, earliest first.
    pub tick_budget: std::time::Duration,
}

impl SchedulerSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(lookup);
        let seconds = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            let value = vars.seconds(name, default, 1..=MAX_SWEEP_AFTER_SECONDS)?;
            Ok(Duration::seconds(value.as_secs() as i64))
        };
        Ok(SchedulerSettings {
            recurring: parse_recurring(vars.optional("JOBQ_SCHEDULES").as_deref())?,
            catch_up_minutes: 5,
            recover_after: seconds("JOBQ_RECOVER_AFTER_SECONDS", 30)?,
            resume_grace: Duration::seconds(
                vars.seconds("JOBQ_RESUME_GRACE_SECONDS", 60, 0..=900)?.as_secs() as i64,
            ),
            resend_after: seconds("JOBQ_RESEND_AFTER_SECONDS", 900)?,
            resume_within: Duration::seconds(
                vars.seconds(
                    "JOBQ_VISIBILITY_TIMEOUT_SECONDS",
                    u64::from(crate::resources::QUEUE_VISIBILITY_TIMEOUT_SECONDS),
                    1..=43_200,
                )?
                .as_secs() as i64,
            ) + Duration::from_std(crate::handlers::worker::RESUME_DELAYS).unwrap_or_default(),
            sweep_per_shard: 200,
            tick_budget: vars.seconds("JOBQ_SCHEDULER_BUDGET_SECONDS", 40, 1..=840)?,
        })
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    pub enqueued: usize,
    pub released: usize,
    pub recovered: usize,
    pub failed: usize,
    pub resent: usize,
    /// Waiting jobs whose message is still in line (a deep queue): looked at again later, nothing
    /// sent.
    pub in_line: usize,
    /// Jobs a sweep could not move (AWS failed): left for the next run.
    pub errors: usize,
    pub depths: BTreeMap<PriorityTier, QueueDepth>,
    /// Age of the oldest `queued` job seen, per tier: among those the lost-message sweeps looked
    /// at, which wait a period or more (younger ones show in SQS's own age metrics).
    pub oldest_queued_seconds: BTreeMap<PriorityTier, i64>,
    /// Parts of the run that failed, each left for the next run while the others went on.
    pub failures: Vec<TickFailure>,
}

/// One part of a run: each runs whether or not the others failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum TickPart {
    /// A recurring job, for one minute it was due.
    Schedule { name: String, due: DateTime<Utc> },
    /// A sweep over `by-due`, by its watch (`release`, `processing`, `sent`, `paused`).
    Sweep { watch: &'static str },
    /// The lost-message walk over `by-created`.
    LostWalk,
    /// A tier's queue depth.
    QueueDepth { tier: PriorityTier },
}

impl TickPart {
    /// The `Part` dimension of [`FAILURES_METRIC`]: few values, whatever the schedules' names.
    pub fn kind(&self) -> &'static str {
        match self {
            TickPart::Schedule { .. } => "schedule",
            TickPart::Sweep { .. } => "sweep",
            TickPart::LostWalk => "lost_walk",
            TickPart::QueueDepth { .. } => "queue_depth",
        }
    }
}

/// A part that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TickFailure {
    #[serde(flatten)]
    pub part: TickPart,
    pub error: String,
}

impl TickReport {
    /// Note that `part` failed with `err` (logged here, counted in the metric at the run's end).
    pub(crate) fn part_failed(&mut self, part: TickPart, err: &dyn std::fmt::Display) {
        match &part {
            TickPart::Schedule { name, due } => {
                error!(schedule = %name, due = %due, error = %err, "recurring job not enqueued; the next runs try again");
            }
            TickPart::Sweep { watch } => {
                error!(watch, error = %err, "scheduler sweep failed; the next run sweeps again");
            }
            TickPart::LostWalk => error!(error = %err, "lost-message walk failed; the next run goes on"),
            TickPart::QueueDepth { tier } => {
                error!(queue = %tier, error = %err, "could not read the queue's depth")
            }
        }
        self.failures.push(TickFailure { part, error: err.to_string() });
    }

    pub(crate) fn saw_queued(&mut self, job: &Job, now: DateTime<Utc>) {
        let age = (now - job.due_at()).num_seconds().max(0);
        let oldest = self.oldest_queued_seconds.entry(job.tier).or_insert(0);
        *oldest = (*oldest).max(age);
    }
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    service: JobService,
    queues: TierQueues,
    dlqs: TierQueues,
    settings: SchedulerSettings,
}

impl Scheduler {
    /// The scheduler enqueueing through `service` (whose job types it knows: the registry's) and
    /// sweeping its queues. A recurring job of a type it does not know, or whose payload does not
    /// fit the type, is said at the start, naming its schedule, and then at each due run as that
    /// schedule's failure (logged, counted in [`FAILURES_METRIC`], alarmed): the scheduler still
    /// starts, because its sweeps and the lost-message walk keep every other job moving. (It
    /// returns a `Result` so that a setting that must stop the start can.) It keeps nothing in
    /// the bucket: a recurring job's payload too large for a job record fails its enqueue
    /// (reported as that schedule's failure), since its role may not write there, and each run
    /// of the catch-up window would write it again, unnamed but by the first.
    pub fn new(service: JobService, settings: SchedulerSettings) -> Result<Self, ConfigError> {
        if let Err(err) = check_recurring(&settings.recurring, service.job_types()) {
            error!(error = %err, "a recurring job cannot be enqueued as configured; its runs will fail");
        }
        for (job, _) in &settings.recurring {
            let bytes = serde_json::to_vec(&job.payload).map_or(0, |b| b.len());
            if bytes > crate::store::INLINE_MAX {
                error!(
                    schedule = %job.name,
                    bytes,
                    limit = crate::store::INLINE_MAX,
                    "recurring job's payload is too large for a job record, and the scheduler keeps none in the bucket: it will not be enqueued"
                );
            }
        }
        let (queues, dlqs) = service.queues_and_dlqs();
        let (queues, dlqs) = (queues.clone(), dlqs.clone());
        Ok(Scheduler { service: service.without_blobs(), queues, dlqs, settings })
    }

    /// One run at `now` (injectable, for tests and catch-up). Each recurring job, each sweep,
    /// the lost-message walk and each queue's depth is a part of its own: one that fails is
    /// logged, listed in the report's `failures` and counted in [`FAILURES_METRIC`], and the
    /// others run all the same (the next run tries it again). So a run as such does not fail.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, ServiceError> {
        let mut report = TickReport::default();
        self.enqueue_recurring(now, &mut report).await;
        let deadline = Instant::now() + self.settings.tick_budget;
        // Read first: whether a waiting job's message is lost or in line depends on them. A
        // depth not known counts as a queue with messages in line (nothing is sent on a guess).
        let mut depths = PerTier::from_fn(|_| QueueDepth { visible: 1, ..QueueDepth::default() });
        for tier in PriorityTier::ALL {
            match self.queues.depth(tier).await {
                Ok(depth) => {
                    *depths.get_mut(tier) = depth;
                    report.depths.insert(tier, depth);
                }
                Err(err) => report.part_failed(TickPart::QueueDepth { tier }, &err),
            }
        }
        let walk = self.service.store().created_walk().await;
        let reached = |tier| walk.as_ref().ok().and_then(|w| *w.reached.get(tier));
        let backlog = Backlog::new(&depths, reached);
        self.sweep_due(now, deadline, backlog.clone(), &mut report).await;
        let walked = match walk {
            Ok(walk) => self.resend_lost(now, deadline, walk, backlog, &mut report).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = walked {
            report.part_failed(TickPart::LostWalk, &err);
        }
        emit_depths(&report);
        failure_metrics(&report).iter().for_each(MetricSet::emit);
        info!(
            enqueued = report.enqueued,
            released = report.released,
            recovered = report.recovered,
            failed = report.failed,
            resent = report.resent,
            in_line = report.in_line,
            errors = report.errors,
            failed_parts = report.failures.len(),
            "scheduler run"
        );
        Ok(report)
    }

    /// Each recurring job due in the catch-up window, each on its own: one that cannot be
    /// enqueued (AWS failed, or its payload is too large for a job record) is made up by a later
    /// run within the window, and stops no other.
    async fn enqueue_recurring(&self, now: DateTime<Utc>, report: &mut TickReport) {
        let this_minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
        for back in (0..self.settings.catch_up_minutes).rev() {
            let minute = this_minute - Duration::minutes(back);
            for (job, expr) in &self.settings.recurring {
                if !expr.is_due(minute) {
                    continue;
                }
                let spec = NewJob {
                    job_type: job.job_type.clone(),
                    payload: job.payload.clone(),
                    priority: job.priority,
                    idempotency_key: Some(format!(
                        "schedule:{}:{}",
                        job.name,
                        crate::domain::model::format_time(minute)
                    )),
                    owner: Some(SystemCaller::Scheduler.owner().to_owned()),
                    created_by: Some(SystemCaller::Scheduler.owner().to_owned()),
                    ..NewJob::default()
                };
                match self.service.enqueue_once(spec).await {
                    Ok(Some(_)) => {
                        info!(schedule = %job.name, due = %minute, "recurring job enqueued");
                        report.enqueued += 1;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        report.part_failed(TickPart::Schedule { name: job.name.clone(), due: minute }, &err)
                    }
                }
            }
        }
    }

    /// Jobs created a period ago and still `queued`: their enqueue may have died before sending
    /// their message, so it is sent again if the tier's consumers are past it (once; from then on
    /// the `sent` watch looks at it once per period while it waits), or else watched for when
    /// they should reach it. Walks `by-created` from where the last run stopped (`walk`), and
    /// notes there how far each tier's consumers got.
    async fn resend_lost(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
        mut walk: crate::store::CreatedWalk,
        mut backlog: Backlog,
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
        let store = self.service.store();
        let due_before = now - self.settings.resend_after;
        let start = walk.clone();
        while !walk.is_done() && Instant::now() < deadline {
            let page_start = walk.clone();
            let errors = report.errors;
            let ids = store.created_rows(due_before, self.settings.sweep_per_shard, &mut walk).await?;
            let jobs = store.batch_get(&ids).await?;
            jobs.iter().for_each(|job| backlog.saw(job));
            for job in &jobs {
                self.look_once(job, due_before, now, &backlog, report).await;
            }
            walk.reached = PerTier::from_fn(|tier| backlog.reached(tier));
            if report.errors > errors {
                // The next run looks at this page again (a job is sent at most once a period).
                walk = page_start;
                break;
            }
        }
        if walk.moved_since(&start) {
            store.save_created_walk(&walk).await?;
        }
        Ok(())
    }

    /// The walk's one look at a job a period after its creation. A `queued` one is sent again,
    /// or (due later: a delay) watched as sent from its due time; a parked one has no message on
    /// purpose (the pause sweep sends one on resume). A `processing` one not watched yet (its run
    /// younger than a heartbeat, or dead before its first with its message gone) is watched at
    /// its lease end. Anything else is watched already, or done.
    async fn look_once(
        &self,
        job: &Job,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        backlog: &Backlog,
        report: &mut TickReport,
    ) {
        let store = self.service.store();
        let watched = match job.status {
            JobStatus::Queued if job.parked => Ok(()),
            JobStatus::Queued if job.due_at() < due_before && backlog.is_lost(job) => {
                report.saw_queued(job, now);
                return self.resend(job, due_before, now, report).await;
            }
            JobStatus::Queued if job.due_at() < due_before => {
                report.saw_queued(job, now);
                report.in_line += 1;
                store.watch_sent(&job.id, backlog.look_again(job, now, self.settings.resend_after)).await
            }
            JobStatus::Queued => store.watch_sent(&job.id, job.due_at()).await,
            JobStatus::Processing => store.watch_run(&job.id).await.map(drop),
            _ => Ok(()),
        };
        if let Err(err) = watched {
            warn!(job_id = %job.id, error = %err, "lost-message walk: could not watch a job; the next run looks again");
            report.errors += 1;
        }
    }

    async fn resend(
        &self,
        job: &Job,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) {
        let age = (now - job.due_at()).num_seconds().max(0);
        match self.service.store().mark_resent(&job.id, due_before, now).await {
            Ok(_) => match self.queues.send(&envelope(job), 0).await {
                Ok(_) => {
                    warn!(job_id = %job.id, age_seconds = age, "queued job waited too long: message sent again");
                    report.resent += 1;
                }
                Err(err) => {
                    // Watched as sent already: the `sent` sweep sends it next period.
                    warn!(job_id = %job.id, error = %err, "could not send a lost job again; next period");
                    report.errors += 1;
                }
            },
            Err(err) if sweeps::moved_on(&err) => {}
            Err(err) => {
                warn!(job_id = %job.id, error = %err, "could not mark a lost job; the next run tries again");
                report.errors += 1;
            }
        }
    }
}

/// One metric set per kind of part that failed, counting its failures (none when all went well).
pub fn failure_metrics(report: &TickReport) -> Vec<MetricSet> {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for failure in &report.failures {
        *by_kind.entry(failure.part.kind()).or_default() += 1;
    }
    by_kind
        .into_iter()
        .map(|(kind, n)| {
            let mut set = MetricSet::new([("Part", kind)]);
            set.add(FAILURES_METRIC, Unit::Count, n as f64);
            set
        })
        .collect()
}

/// One metric set and one log line per tier (log-based metrics read the line).
fn emit_depths(report: &TickReport) {
    for (tier, depth) in &report.depths {
        let mut set = MetricSet::new([("Tier", tier.as_str())]);
        set.add("QueueVisible", Unit::Count, depth.visible as f64);
        set.add("QueueInFlight", Unit::Count, depth.in_flight as f64);
        set.add("QueueDelayed", Unit::Count, depth.delayed as f64);
        set.add(
            "OldestQueuedAge",
            Unit::Seconds,
            report.oldest_queued_seconds.get(tier).copied().unwrap_or(0) as f64,
        );
        set.emit();
        // One line per tier for log-based metrics (the EMF issue formats these as metrics).
        info!(
            metric = "queue_depth",
            queue = %tier,
            visible = depth.visible,
            in_flight = depth.in_flight,
            delayed = depth.delayed,
            oldest_queued_seconds = report.oldest_queued_seconds.get(tier).copied().unwrap_or(0),
            "queue depth"
        );
    }
}

fn envelope(job: &Job) -> Envelope {
    Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_have_defaults_and_name_bad_values() {
        let defaults = SchedulerSettings::from_lookup(|_| None).expect("defaults");
        assert_eq!(defaults.recover_after, Duration::seconds(30));
        assert_eq!(defaults.resend_after, Duration::seconds(900));
        assert!(defaults.recurring.is_empty());
        let vars = HashMap::from([
            ("JOBQ_RESEND_AFTER_SECONDS", " 60 "),
            ("JOBQ_SCHEDULES", r#"[{"name":"n","schedule":"rate(5 minutes)","type":"noop"}]"#),
        ]);
        let set = SchedulerSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("valid");
        assert_eq!((set.resend_after, set.recurring.len()), (Duration::seconds(60), 1));
        for bad in ["0", "-5", "soon", "99999999999999999"] {
            let lookup = |k: &str| (k == "JOBQ_RECOVER_AFTER_SECONDS").then(|| bad.to_owned());
            let err = SchedulerSettings::from_lookup(lookup).expect_err(bad);
            assert!(err.to_string().contains("JOBQ_RECOVER_AFTER_SECONDS"), "{bad}: {err}");
        }
    }
}
