//! Configuration from the environment, every variable prefixed `JOBQ_`.

use chrono::Duration;

use crate::domain::priority::{PerTier, PriorityTier};

mod vars;

pub use vars::{Vars, process_env};

pub const DEFAULT_RETENTION_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `JOBQ_TABLE`
    pub table: String,
    /// `JOBQ_QUEUE_URL_HIGH`, `_NORMAL`, `_LOW`
    pub queues: PerTier<String>,
    /// `JOBQ_DLQ_URL_HIGH`, `_NORMAL`, `_LOW`
    pub dlqs: PerTier<String>,
    /// `JOBQ_INGEST_QUEUE_URL` (optional)
    pub ingest_queue: Option<String>,
    /// `JOBQ_BUCKET` (optional)
    pub bucket: Option<String>,
    /// `JOBQ_RETENTION_DAYS`: how long terminal jobs are kept (default 7).
    pub retention: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set (see README: Configuration)")]
    Missing(String),
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid { var: String, value: String, reason: String },
}

impl ConfigError {
    pub fn invalid(var: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid { var: var.to_owned(), value: value.into(), reason: reason.into() }
    }

    /// The same error with `hint` after its reason (why the limit is what it is).
    pub fn with_hint(self, hint: &str) -> Self {
        match self {
            ConfigError::Invalid { var, value, reason } => {
                ConfigError::Invalid { var, value, reason: format!("{reason} ({hint})") }
            }
            missing @ ConfigError::Missing(_) => missing,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Reads through `lookup` so the rules are tested without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(lookup);
        let url = |name: String| -> Result<String, ConfigError> {
            let value = vars.required(&name)?;
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(value)
            } else {
                Err(ConfigError::invalid(&name, value, "expected a queue URL (http:// or https://)"))
            }
        };
        let per_tier = |kind: &str| -> Result<PerTier<String>, ConfigError> {
            let get = |t: PriorityTier| url(format!("JOBQ_{kind}_URL_{}", t.as_str().to_uppercase()));
            Ok(PerTier {
                high: get(PriorityTier::High)?,
                normal: get(PriorityTier::Normal)?,
                low: get(PriorityTier::Low)?,
            })
        };
        let retention_days = vars.number("JOBQ_RETENTION_DAYS", DEFAULT_RETENTION_DAYS as u64, 1..=3650)?;
        Ok(Config {
            table: vars.required("JOBQ_TABLE")?,
            queues: per_tier("QUEUE")?,
            dlqs: per_tier("DLQ")?,
            ingest_queue: vars.optional("JOBQ_INGEST_QUEUE_URL"),
            bucket: vars.optional("JOBQ_BUCKET"),
            retention: Duration::days(retention_days as i64),
        })
    }

    /// The same settings as environment variables, for child processes and deployment.
    pub fn to_env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("JOBQ_TABLE".to_owned(), self.table.clone()),
            ("JOBQ_RETENTION_DAYS".to_owned(), self.retention.num_days().to_string()),
        ];
        for (tier, url) in self.queues.iter() {
            vars.push((format!("JOBQ_QUEUE_URL_{}", tier.as_str().to_uppercase()), url.clone()));
        }
        for (tier, url) in self.dlqs.iter() {
            vars.push((format!("JOBQ_DLQ_URL_{}", tier.as_str().to_uppercase()), url.clone()));
        }
        vars.extend(self.ingest_queue.clone().map(|v| ("JOBQ_INGEST_QUEUE_URL".to_owned(), v)));
        vars.extend(self.bucket.clone().map(|v| ("JOBQ_BUCKET".to_owned(), v)));
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("JOBQ_TABLE", "jobs"),
            ("JOBQ_QUEUE_URL_HIGH", "http://q/high"),
            ("JOBQ_QUEUE_URL_NORMAL", "http://q/normal"),
            ("JOBQ_QUEUE_URL_LOW", "http://q/low"),
            ("JOBQ_DLQ_URL_HIGH", "http://q/high-dlq"),
            ("JOBQ_DLQ_URL_NORMAL", "http://q/normal-dlq"),
            ("JOBQ_DLQ_URL_LOW", "http://q/low-dlq"),
        ]
    }

    #[test]
    fn reads_everything_with_defaults() {
        let config = Config::from_lookup(env(&full())).expect("valid");
        assert_eq!(config.table, "jobs");
        assert_eq!(config.queues.get(PriorityTier::Normal), "http://q/normal");
        assert_eq!(config.retention, Duration::days(7));
        assert_eq!(config.bucket, None);
        let round_trip: Vec<(String, String)> = config.to_env();
        let lookup = |k: &str| round_trip.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(Config::from_lookup(lookup), Ok(config));
    }

    #[test]
    fn missing_and_malformed_values_are_named() {
        let mut vars = full();
        vars.retain(|(k, _)| *k != "JOBQ_QUEUE_URL_LOW");
        assert_eq!(Config::from_lookup(env(&vars)), Err(ConfigError::Missing("JOBQ_QUEUE_URL_LOW".into())));

        let mut vars = full();
        vars.push(("JOBQ_RETENTION_DAYS", "a week"));
        let err = Config::from_lookup(env(&vars)).expect_err("invalid");
        assert!(matches!(&err, ConfigError::Invalid { var, .. } if var == "JOBQ_RETENTION_DAYS"), "{err}");

        let mut vars = full();
        vars[1] = ("JOBQ_QUEUE_URL_HIGH", "high");
        let err = Config::from_lookup(env(&vars)).expect_err("not a url");
        assert!(err.to_string().contains("JOBQ_QUEUE_URL_HIGH"), "{err}");
    }
}
