//! The local host's own settings, from `JOBQ_*` variables.

use std::time::Duration;

use jobq::PerTier;
use jobq::config::ConfigError;

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
    /// `JOBQ_LOCAL_VISIBILITY_SECONDS` (default 30): the local tier queues' visibility timeout and
    /// runs' lease (unless `JOBQ_LEASE_SECONDS` is set), and
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
            Some(v) => concurrency(v)?,
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

fn invalid(var: &str, value: String, reason: &str) -> ConfigError {
    ConfigError::Invalid { var: var.to_owned(), value, reason: reason.to_owned() }
}

/// `JOBQ_LOCAL_CONCURRENCY`: `high,normal,low`, each at most 64.
fn concurrency(value: String) -> Result<PerTier<usize>, ConfigError> {
    let parts: Vec<Option<usize>> = value.split(',').map(|p| p.trim().parse().ok()).collect();
    match parts.as_slice() {
        [Some(high), Some(normal), Some(low)] if *high <= 64 && *normal <= 64 && *low <= 64 => {
            Ok(PerTier { high: *high, normal: *normal, low: *low })
        }
        _ => Err(invalid("JOBQ_LOCAL_CONCURRENCY", value, "expected three numbers: high,normal,low")),
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
        for (var, value) in [
            ("JOBQ_LOCAL_CONCURRENCY", "8,3"),
            ("JOBQ_LOCAL_CONCURRENCY", "65,1,1"),
            ("JOBQ_PORT", "http"),
            ("JOBQ_PREFIX", "Jobq_"),
        ] {
            let err = LocalSettings::from_lookup(|k| (k == var).then(|| value.to_owned())).expect_err(var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
