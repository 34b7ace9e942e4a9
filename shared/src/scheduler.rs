//! The scheduler, invoked every minute by an EventBridge rule (locally by a ticker):
//! recurring jobs, release of `scheduled` jobs, recovery of stuck and lost jobs, queue metrics.
//! Every action is idempotent, so two invocations for the same minute do no harm.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use crate::config::ConfigError;
use crate::envelope::Envelope;
use crate::metrics::{MetricSet, Unit};
use crate::model::{Job, MAX_SQS_DELAY_SECONDS, NewJob};
use crate::priority::{Priority, PriorityTier};
use crate::queue::{QueueDepth, SqsJobQueue};
use crate::service::{JobService, ServiceError};
use crate::status::JobStatus;
use crate::store::StoreError;
use crate::worker::DeadLetterReason;

/// When a recurring job is due: EventBridge's `rate(...)` and `cron(...)` expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpr {
    /// Every `minutes` minutes, counted from the Unix epoch.
    Rate {
        minutes: i64,
    },
    Cron(Box<Cron>),
}

/// `cron(minutes hours day-of-month month day-of-week year)`, EventBridge flavour
/// (day-of-week 1-7 = SUN-SAT; `?` in one of the two day fields). `L`, `W` and `#` are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days_of_month: Option<Vec<bool>>,
    months: Vec<bool>,
    days_of_week: Option<Vec<bool>>,
    years: Option<Vec<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {expr:?}: {reason}")]
pub struct ScheduleError {
    pub expr: String,
    pub reason: String,
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl std::str::FromStr for ScheduleExpr {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ScheduleError { expr: text.to_owned(), reason: reason.to_owned() };
        let text_trim = text.trim();
        if let Some(inner) = text_trim.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let mut parts = inner.split_whitespace();
            let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(err("expected rate(<number> <minute|minutes|hour|hours|day|days>)"));
            };
            let n: i64 =
                n.parse().ok().filter(|n| *n > 0).ok_or_else(|| err("the rate must be a positive number"))?;
            let minutes = match unit {
                "minute" | "minutes" => n,
                "hour" | "hours" => n * 60,
                "day" | "days" => n * 1440,
                _ => return Err(err("the unit must be minute(s), hour(s) or day(s)")),
            };
            return Ok(ScheduleExpr::Rate { minutes });
        }
        let inner = text_trim
            .strip_prefix("cron(")
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| err("expected rate(...) or cron(...)"))?;
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = fields.as_slice() else {
            return Err(err("cron needs 6 fields: minutes hours day-of-month month day-of-week year"));
        };
        let field = |f: &str, lo: u32, hi: u32, names: &[&str], name_base: u32| {
            parse_field(f, lo, hi, names, name_base).map_err(|reason| err(&reason))
        };
        let optional =
            |f: &str, lo, hi, names: &[&str], name_base| -> Result<Option<Vec<bool>>, ScheduleError> {
                if f == "?" { Ok(None) } else { field(f, lo, hi, names, name_base).map(Some) }
            };
        let days_of_month = optional(dom, 1, 31, &[], 0)?;
        let days_of_week = optional(dow, 1, 7, &DAYS, 1)?;
        if days_of_month.is_some() == days_of_week.is_some() {
            return Err(err("exactly one of day-of-month and day-of-week must be '?'"));
        }
        Ok(ScheduleExpr::Cron(Box::new(Cron {
            minutes: field(min, 0, 59, &[], 0)?,
            hours: field(hour, 0, 23, &[], 0)?,
            days_of_month,
            months: field(month, 1, 12, &MONTHS, 1)?,
            days_of_week,
            years: if *year == "*" { None } else { Some(field(year, 1970, 2199, &[], 0)?) },
        })))
    }
}

/// One cron field as a membership table indexed from 0 (value - lo).
fn parse_field(field: &str, lo: u32, hi: u32, names: &[&str], name_base: u32) -> Result<Vec<bool>, String> {
    let mut set = vec![false; (hi - lo + 1) as usize];
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| format!("{s:?} is not a value from {lo} to {hi}"))
    };
    for part in field.split(',') {
        if part.contains(['L', 'W', '#']) && !names.iter().any(|n| part.eq_ignore_ascii_case(n)) {
            return Err(format!("{part:?}: L, W and # are not supported"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (start, end) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if start > end {
            return Err(format!("{part:?}: range runs backwards"));
        }
        for v in (start..=end).step_by(step as usize) {
            set[(v - lo) as usize] = true;
        }
    }
    Ok(set)
}

impl ScheduleExpr {
    /// Whether the expression fires at `minute` (seconds ignored).
    pub fn is_due(&self, minute: DateTime<Utc>) -> bool {
        match self {
            ScheduleExpr::Rate { minutes } => (minute.timestamp() / 60).rem_euclid(*minutes) == 0,
            ScheduleExpr::Cron(c) => {
                let has =
                    |set: &Vec<bool>, v: u32, lo: u32| set.get((v - lo) as usize).copied().unwrap_or(false);
                has(&c.minutes, minute.minute(), 0)
                    && has(&c.hours, minute.hour(), 0)
                    && has(&c.months, minute.month(), 1)
                    && c.days_of_month.as_ref().is_none_or(|d| has(d, minute.day(), 1))
                    // chrono: Sunday = 0 from Sunday; EventBridge: SUN = 1.
                    && c.days_of_week.as_ref().is_none_or(|d| has(d, minute.weekday().num_days_from_sunday() + 1, 1))
                    && c.years.as_ref().is_none_or(|y| {
                        u32::try_from(minute.year()).is_ok_and(|year| year >= 1970 && has(y, year, 1970))
                    })
            }
        }
    }
}

/// A recurring job, from `JOBQ_SCHEDULES` (a JSON list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurringJob {
    /// Unique: with the due minute it makes the idempotency key.
    pub name: String,
    /// `rate(5 minutes)` or `cron(0 2 * * ? *)`.
    pub schedule: String,
    #[serde(rename = "type")]
    pub job_type: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub priority: Priority,
}

/// Tunables, from `JOBQ_SCHEDULES` and `JOBQ_SCHEDULER_*`.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    pub recurring: Vec<(RecurringJob, ScheduleExpr)>,
    /// Minutes looked back for recurring jobs, so a missed invocation is made up (default 5).
    pub catch_up_minutes: i64,
    /// A `processing` job whose lease ended this long ago with nobody taking over is recovered
    /// (`JOBQ_RECOVER_AFTER_SECONDS`, default: the visibility timeout, when any message would be back).
    pub recover_after: Duration,
    /// A `queued` job due this long ago is sent again (`JOBQ_RESEND_AFTER_SECONDS`, default 900).
    pub resend_after: Duration,
    /// Jobs looked at per index shard and status in one run (default 200).
    pub sweep_per_shard: usize,
}

impl SchedulerSettings {
    pub fn from_env(visibility: std::time::Duration) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), visibility)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        visibility: std::time::Duration,
    ) -> Result<Self, ConfigError> {
        let seconds = |name: &str, default: i64| -> Result<Duration, ConfigError> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(Duration::seconds(default)),
                Some(v) => v.trim().parse::<i64>().ok().filter(|s| *s > 0).map(Duration::seconds).ok_or(
                    ConfigError::Invalid {
                        var: name.to_owned(),
                        value: v,
                        reason: "expected a positive number of seconds".into(),
                    },
                ),
            }
        };
        Ok(SchedulerSettings {
            recurring: parse_recurring(lookup("JOBQ_SCHEDULES").as_deref())?,
            catch_up_minutes: 5,
            recover_after: seconds("JOBQ_RECOVER_AFTER_SECONDS", visibility.as_secs() as i64)?,
            resend_after: seconds("JOBQ_RESEND_AFTER_SECONDS", 900)?,
            sweep_per_shard: 200,
        })
    }
}

pub fn parse_recurring(json: Option<&str>) -> Result<Vec<(RecurringJob, ScheduleExpr)>, ConfigError> {
    let Some(json) = json.filter(|j| !j.trim().is_empty()) else { return Ok(Vec::new()) };
    let invalid = |reason: String| ConfigError::Invalid {
        var: "JOBQ_SCHEDULES".into(),
        value: json.to_owned(),
        reason,
    };
    let jobs: Vec<RecurringJob> = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    let mut names = std::collections::HashSet::new();
    jobs.into_iter()
        .map(|job| {
            if !names.insert(job.name.clone()) {
                return Err(invalid(format!("two schedules are named {:?}", job.name)));
            }
            let expr = job.schedule.parse::<ScheduleExpr>().map_err(|e| invalid(e.to_string()))?;
            Ok((job, expr))
        })
        .collect()
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    pub enqueued: usize,
    pub released: usize,
    pub recovered: usize,
    pub failed: usize,
    pub resent: usize,
    pub depths: BTreeMap<PriorityTier, QueueDepth>,
    /// Age of the oldest `queued` job seen, per tier.
    pub oldest_queued_seconds: BTreeMap<PriorityTier, i64>,
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    service: JobService,
    queues: SqsJobQueue,
    dlqs: SqsJobQueue,
    settings: SchedulerSettings,
}

impl Scheduler {
    pub fn new(
        clients: &crate::aws::Clients,
        config: &crate::config::Config,
        job_types: Vec<String>,
        settings: SchedulerSettings,
    ) -> Self {
        Scheduler {
            service: JobService::new(clients, config, job_types),
            queues: SqsJobQueue::new(clients.sqs.clone(), config.queues.clone()),
            dlqs: SqsJobQueue::new(clients.sqs.clone(), config.dlqs.clone()),
            settings,
        }
    }

    /// One run at `now` (injectable, for tests and catch-up).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, ServiceError> {
        let mut report = TickReport::default();
        self.enqueue_recurring(now, &mut report).await?;
        self.release_scheduled(now, &mut report).await?;
        self.recover_stuck(now, &mut report).await?;
        self.resend_lost(now, &mut report).await?;
        for tier in PriorityTier::ALL {
            report.depths.insert(tier, self.queues.depth(tier).await?);
        }
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
        info!(
            enqueued = report.enqueued,
            released = report.released,
            recovered = report.recovered,
            failed = report.failed,
            resent = report.resent,
            "scheduler run"
        );
        Ok(report)
    }

    async fn enqueue_recurring(
        &self,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
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
                        crate::model::format_time(minute)
                    )),
                    ..NewJob::default()
                };
                if self.service.enqueue_once(spec).await?.is_some() {
                    info!(schedule = %job.name, due = %minute, "recurring job enqueued");
                    report.enqueued += 1;
                }
            }
        }
        Ok(())
    }

    async fn release_scheduled(
        &self,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), ServiceError> {
        let horizon = now + Duration::seconds(MAX_SQS_DELAY_SECONDS);
        for job in self.service.store().oldest(JobStatus::Scheduled, self.settings.sweep_per_shard).await? {
            if job.run_at.is_some_and(|at| at > horizon) {
                continue;
            }
            match self.service.store().release(&job.id, now).await {
                Ok(released) => {
                    self.queues.send(&envelope(&released), released.delay_seconds(now)).await?;
                    report.released += 1;
                }
                Err(err) => skip_refused(err)?,
            }
        }
        Ok(())
    }

    async fn recover_stuck(&self, now: DateTime<Utc>, report: &mut TickReport) -> Result<(), ServiceError> {
        let expired_before = now - self.settings.recover_after;
        for job in self.service.store().oldest(JobStatus::Processing, self.settings.sweep_per_shard).await? {
            if job.lease_until.is_none_or(|lease| lease >= expired_before) {
                continue;
            }
            if job.attempts >= job.max_attempts {
                let error = crate::worker::crashed_repeatedly(job.attempts);
                match self.service.store().fail(&job.id, &error, now).await {
                    Ok(failed) => {
                        warn!(job_id = %job.id, "stuck job failed: attempts spent");
                        let reason = DeadLetterReason::CrashedRepeatedly.as_str();
                        self.dlqs.send_with_reason(failed.tier, &envelope(&failed).encode(), reason).await?;
                        report.failed += 1;
                    }
                    Err(err) => skip_refused(err)?,
                }
                continue;
            }
            match self.service.store().recover(&job.id, expired_before, now).await {
                Ok(recovered) => {
                    warn!(job_id = %job.id, attempts = recovered.attempts, "stuck job recovered");
                    self.queues.send(&envelope(&recovered), 0).await?;
                    report.recovered += 1;
                }
                Err(err) => skip_refused(err)?,
            }
        }
        Ok(())
    }

    async fn resend_lost(&self, now: DateTime<Utc>, report: &mut TickReport) -> Result<(), ServiceError> {
        let due_before = now - self.settings.resend_after;
        for job in self.service.store().oldest(JobStatus::Queued, self.settings.sweep_per_shard).await? {
            let age = (now - job.due_at()).num_seconds().max(0);
            let oldest = report.oldest_queued_seconds.entry(job.tier).or_insert(0);
            *oldest = (*oldest).max(age);
            if job.due_at() >= due_before {
                continue;
            }
            match self.service.store().mark_resent(&job.id, due_before, now).await {
                Ok(_) => {
                    warn!(job_id = %job.id, age_seconds = age, "queued job waited too long: message sent again");
                    self.queues.send(&envelope(&job), 0).await?;
                    report.resent += 1;
                }
                Err(err) => skip_refused(err)?,
            }
        }
        Ok(())
    }
}

/// A write refused because the job moved on (another run, a cancel, a worker) is nothing to do;
/// anything else is an error of this run.
fn skip_refused(err: StoreError) -> Result<(), ServiceError> {
    match err {
        StoreError::InvalidTransition { .. } | StoreError::Conflict { .. } | StoreError::NotFound { .. } => {
            Ok(())
        }
        other => Err(other.into()),
    }
}

fn envelope(job: &Job) -> Envelope {
    Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_time;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).expect("time")
    }

    fn expr(s: &str) -> ScheduleExpr {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rates_fire_on_multiples_of_their_period() {
        let every5 = expr("rate(5 minutes)");
        assert!(every5.is_due(at("2026-01-01T00:05:00Z")));
        assert!(!every5.is_due(at("2026-01-01T00:06:00Z")));
        assert!(expr("rate(1 minute)").is_due(at("2026-01-01T13:37:00Z")));
        assert!(expr("rate(2 hours)").is_due(at("2026-01-01T02:00:00Z")));
        assert!(!expr("rate(2 hours)").is_due(at("2026-01-01T03:00:00Z")));
        assert!("rate(0 minutes)".parse::<ScheduleExpr>().is_err());
        assert!("rate(5 weeks)".parse::<ScheduleExpr>().is_err());
    }

    #[test]
    fn cron_follows_eventbridge_fields() {
        let nightly = expr("cron(0 2 * * ? *)");
        assert!(nightly.is_due(at("2026-03-04T02:00:00Z")));
        assert!(!nightly.is_due(at("2026-03-04T02:01:00Z")));
        // 2026-01-05 is a Monday; MON-FRI is 2-6.
        let weekdays = expr("cron(*/15 9-17 ? * MON-FRI *)");
        assert!(weekdays.is_due(at("2026-01-05T09:45:00Z")));
        assert!(!weekdays.is_due(at("2026-01-04T09:45:00Z")), "Sunday");
        assert!(!weekdays.is_due(at("2026-01-05T18:00:00Z")));
        assert!(expr("cron(0 12 ? * 1 *)").is_due(at("2026-01-04T12:00:00Z")), "1 is Sunday");
        assert!(expr("cron(30 8 1,15 JAN,JUL ? 2026)").is_due(at("2026-07-15T08:30:00Z")));
        assert!(!expr("cron(30 8 1,15 JAN,JUL ? 2026)").is_due(at("2027-07-15T08:30:00Z")));
        for bad in [
            "cron(0 2 * * * *)",
            "cron(0 2 ? * ? *)",
            "cron(0 2 L * ? *)",
            "cron(61 * * * ? *)",
            "cron(0 2 * *)",
            "every day",
        ] {
            assert!(bad.parse::<ScheduleExpr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn recurring_jobs_are_checked_at_startup() {
        let ok = parse_recurring(Some(r#"[{"name":"report","schedule":"cron(0 2 * * ? *)","type":"noop"}]"#))
            .expect("valid");
        assert_eq!(ok.len(), 1);
        assert!(parse_recurring(None).expect("none").is_empty());
        let dup = r#"[{"name":"a","schedule":"rate(1 minute)","type":"noop"},{"name":"a","schedule":"rate(2 minutes)","type":"noop"}]"#;
        assert!(parse_recurring(Some(dup)).is_err());
        let err = parse_recurring(Some(r#"[{"name":"a","schedule":"hourly","type":"noop"}]"#))
            .expect_err("bad schedule");
        assert!(err.to_string().contains("JOBQ_SCHEDULES"), "{err}");
    }
}
