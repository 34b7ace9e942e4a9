//! Which function a deployment's one binary serves. Every function of the template runs the same
//! bootstrap (one build, one zip); each says which it is with `JOBQ_FUNCTION`, or, for a template
//! of your own, with its `Handler` (Lambda's `_HANDLER`).

use std::fmt;
use std::str::FromStr;

use crate::config::ConfigError;

/// The setting that names the function, as the template gives it.
pub const FUNCTION_VAR: &str = "JOBQ_FUNCTION";
/// The function's handler name, as Lambda passes it to a custom runtime.
pub const HANDLER_VAR: &str = "_HANDLER";

/// One of the Lambda functions a jobq deployment is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaFunction {
    Api,
    Worker,
    DeadLetters,
    Counter,
    Ingest,
    Scheduler,
}

impl LambdaFunction {
    pub const ALL: [LambdaFunction; 6] = [
        LambdaFunction::Api,
        LambdaFunction::Worker,
        LambdaFunction::DeadLetters,
        LambdaFunction::Counter,
        LambdaFunction::Ingest,
        LambdaFunction::Scheduler,
    ];

    /// The name `JOBQ_FUNCTION` (or the handler) gives it.
    pub fn name(self) -> &'static str {
        match self {
            LambdaFunction::Api => "api",
            LambdaFunction::Worker => "worker",
            LambdaFunction::DeadLetters => "dlq",
            LambdaFunction::Counter => "counter",
            LambdaFunction::Ingest => "ingest",
            LambdaFunction::Scheduler => "scheduler",
        }
    }

    /// The function named by `JOBQ_FUNCTION`, else by the handler. `JOBQ_FUNCTION` wins: the
    /// stock template keeps one `Handler` for all, since SAM builds functions that differ in
    /// their handler separately. A handler that names no function (`bootstrap`) is no answer.
    pub fn from_settings(function: Option<&str>, handler: Option<&str>) -> Result<Self, ConfigError> {
        if let Some(value) = function.filter(|v| !v.is_empty()) {
            return value.parse().map_err(|reason| ConfigError::invalid(FUNCTION_VAR, value, reason));
        }
        match handler.map(str::parse) {
            Some(Ok(named)) => Ok(named),
            _ => Err(ConfigError::invalid(
                FUNCTION_VAR,
                "",
                format!("name the function this binary serves: one of {}", Self::names()),
            )),
        }
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let function = std::env::var(FUNCTION_VAR).ok();
        let handler = std::env::var(HANDLER_VAR).ok();
        Self::from_settings(function.as_deref(), handler.as_deref())
    }

    fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl FromStr for LambdaFunction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("not a jobq function (one of {})", Self::names()))
    }
}

impl fmt::Display for LambdaFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_named_by_its_setting() {
        for function in LambdaFunction::ALL {
            assert_eq!(LambdaFunction::from_settings(Some(function.name()), None), Ok(function));
            assert_eq!(function.name().parse::<LambdaFunction>(), Ok(function));
        }
    }

    #[test]
    fn the_setting_wins_over_the_handler() {
        let named = LambdaFunction::from_settings(Some("worker"), Some("api"));
        assert_eq!(named, Ok(LambdaFunction::Worker));
    }

    #[test]
    fn a_handler_that_names_a_function_serves_it_when_the_setting_is_absent() {
        assert_eq!(LambdaFunction::from_settings(None, Some("scheduler")), Ok(LambdaFunction::Scheduler));
        assert_eq!(LambdaFunction::from_settings(Some(""), Some("dlq")), Ok(LambdaFunction::DeadLetters));
    }

    #[test]
    fn no_name_is_an_error_that_says_what_to_set() {
        for handler in [None, Some("bootstrap")] {
            let err = LambdaFunction::from_settings(None, handler).expect_err("no function named");
            let message = err.to_string();
            assert!(message.starts_with("JOBQ_FUNCTION="), "{message}");
            assert!(message.contains("api, worker, dlq, counter, ingest, scheduler"), "{message}");
        }
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_value() {
        let err = LambdaFunction::from_settings(Some("workers"), None).expect_err("unknown");
        assert!(
            matches!(&err, ConfigError::Invalid { var, value, .. } if var == FUNCTION_VAR && value == "workers")
        );
    }
}
