//! When recurring jobs are due: EventBridge's `rate(...)` and `cron(...)` expressions, and the
//! recurring jobs of `JOBQ_SCHEDULES`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ConfigError;
use crate::domain::payload::JobTypes;
use crate::domain::priority::Priority;

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

/// Every recurring job is of a registered type, with a payload that fits it; the first that is
/// not, named (it would be refused at every run).
pub fn check_recurring(
    recurring: &[(RecurringJob, ScheduleExpr)],
    types: &JobTypes,
) -> Result<(), ConfigError> {
    for (job, _) in recurring {
        if let Err(refusal) = types.check(&job.job_type, &job.payload) {
            return Err(ConfigError::invalid(
                "JOBQ_SCHEDULES",
                job.name.clone(),
                format!("schedule {:?}: {refusal}", job.name),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::parse_time;

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
