//! Job types every deployment has: for demos, tests and health checks.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::context::JobContext;
use crate::domain::task::{JobError, Registry, Task, TaskOutput};

pub fn register(registry: &mut Registry) {
    registry.register(Noop).register(Echo).register(Sleep).register(Fail);
}

impl Registry {
    /// A registry of the built-in types (`noop`, `echo`, `sleep`, `fail`), to add yours to.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::default();
        register(&mut registry);
        registry
    }
}

/// Completes at once.
#[derive(Debug, Clone, Copy)]
pub struct Noop;

impl Task for Noop {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "noop"
    }

    async fn run(&self, _ctx: &JobContext, _input: Value) -> Result<TaskOutput, JobError> {
        Ok(TaskOutput::Completed(Value::Null))
    }
}

/// Its result is its payload.
#[derive(Debug, Clone, Copy)]
pub struct Echo;

impl Task for Echo {
    type Input = Value;

    fn job_type(&self) -> &'static str {
        "echo"
    }

    async fn run(&self, _ctx: &JobContext, input: Value) -> Result<TaskOutput, JobError> {
        Ok(TaskOutput::Completed(input))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepInput {
    /// Total time asleep.
    #[serde(default = "default_sleep_seconds")]
    pub seconds: f64,
    /// Progress reports, evenly spread.
    #[serde(default = "default_steps")]
    pub steps: u32,
}

fn default_sleep_seconds() -> f64 {
    1.0
}

fn default_steps() -> u32 {
    10
}

/// Sleeps `seconds` in `steps`, reporting progress after each; stops when cancelled.
#[derive(Debug, Clone, Copy)]
pub struct Sleep;

impl Task for Sleep {
    type Input = SleepInput;

    fn job_type(&self) -> &'static str {
        "sleep"
    }

    async fn run(&self, ctx: &JobContext, input: SleepInput) -> Result<TaskOutput, JobError> {
        if !(0.0..=86_400.0).contains(&input.seconds) {
            return Err(JobError::fatal("sleep.seconds must be between 0 and 86400"));
        }
        let steps = input.steps.clamp(1, 10_000);
        let each = Duration::from_secs_f64(input.seconds / f64::from(steps));
        for step in 1..=steps {
            tokio::time::sleep(each).await;
            let percent = (u64::from(step) * 100 / u64::from(steps)) as u8;
            ctx.progress(percent, Some(&format!("step {step}/{steps}")), None).await?;
        }
        Ok(TaskOutput::Completed(json!({ "slept_seconds": input.seconds, "steps": steps })))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailInput {
    #[serde(default = "default_fail_message")]
    pub message: String,
    #[serde(default = "default_true")]
    pub retryable: bool,
    /// Fail the first `times` attempts, then complete; absent: always fail.
    pub times: Option<u32>,
    /// Fail while the clock is before this time, then complete: a dependency that comes back,
    /// so a failed job can be retried by hand and succeed.
    #[serde(default, with = "crate::domain::model::rfc3339::option")]
    #[schemars(with = "Option<chrono::DateTime<chrono::Utc>>")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Work this long (no progress reported) before the outcome: a long step.
    #[serde(default)]
    pub seconds: f64,
    /// Panic instead of returning an error: a bug in a handler (the worker contains it).
    #[serde(default)]
    pub panic: bool,
}

fn default_fail_message() -> String {
    "failed on purpose".to_owned()
}

fn default_true() -> bool {
    true
}

/// Fails on purpose, to exercise retries and dead letters (or panics, to exercise containment).
#[derive(Debug, Clone, Copy)]
pub struct Fail;

impl Task for Fail {
    type Input = FailInput;

    fn job_type(&self) -> &'static str {
        "fail"
    }

    async fn run(&self, ctx: &JobContext, input: FailInput) -> Result<TaskOutput, JobError> {
        if !(0.0..=86_400.0).contains(&input.seconds) {
            return Err(JobError::fatal("fail.seconds must be between 0 and 86400"));
        }
        tokio::time::sleep(Duration::from_secs_f64(input.seconds)).await;
        if input.panic {
            panic!("{}", input.message);
        }
        let recovered = input.until.is_some_and(|until| chrono::Utc::now() >= until);
        if recovered || input.times.is_some_and(|times| ctx.attempt() > times) {
            return Ok(TaskOutput::Completed(json!({ "succeeded_on_attempt": ctx.attempt() })));
        }
        let error =
            if input.retryable { JobError::retryable(input.message) } else { JobError::fatal(input.message) };
        Err(error.with_details(json!({ "attempt": ctx.attempt() })))
    }
}
