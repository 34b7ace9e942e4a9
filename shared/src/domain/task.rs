//! Job types: one [`Task`] per type, with its input, retry policy and timeout, collected in a
//! [`Registry`] the worker looks handlers up in.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::context::JobContext;
// A handler's error, at the path users name it by (`jobq::task::JobError`); defined below both
// the task and the context, which each use it.
pub use crate::domain::job_error::{ErrorKind, JobError};
use crate::domain::model::JobFailure;
use crate::domain::payload::JobTypes;

/// What a successful run produced.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutput {
    Completed(Value),
    /// Some steps failed, the rest are done: the job ends `partial`.
    Partial {
        result: Value,
        failed: JobFailure,
    },
}

impl TaskOutput {
    pub fn completed(result: impl Into<Value>) -> Self {
        TaskOutput::Completed(result.into())
    }

    pub fn partial(result: impl Into<Value>, message: impl Into<String>, details: Option<Value>) -> Self {
        TaskOutput::Partial { result: result.into(), failed: JobFailure { message: message.into(), details } }
    }
}

/// Exponential backoff with jitter between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub factor: f64,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base: Duration::from_secs(2), factor: 2.0, cap: Duration::from_secs(15 * 60) }
    }
}

impl RetryPolicy {
    /// Delay before the attempt after `attempt` (1-based), with "equal jitter": half fixed, half
    /// random (`unit` in 0..1), so retries of many jobs spread out but never come back at once.
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(63) as i32;
        let full = (self.base.as_secs_f64() * self.factor.powi(exponent)).min(self.cap.as_secs_f64());
        let half = full / 2.0;
        Duration::from_secs_f64(half + half * unit.clamp(0.0, 1.0))
    }
}

/// One job type.
pub trait Task: Send + Sync + 'static {
    /// What the job's payload decodes into. Every route that creates a job checks its payload
    /// against this type (a payload that does not decode is refused, naming the field), and its
    /// JSON Schema is the payload's schema in the OpenAPI document.
    type Input: DeserializeOwned + JsonSchema + Send;

    /// The job type name clients enqueue with.
    fn job_type(&self) -> &'static str;

    /// This type's own backoff; `None` uses the worker's configured policy.
    fn retry_policy(&self) -> Option<RetryPolicy> {
        None
    }

    /// A cap on the run, below the job's own `timeout_seconds` when shorter.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    fn run(
        &self,
        ctx: &JobContext,
        input: Self::Input,
    ) -> impl Future<Output = Result<TaskOutput, JobError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task with its input type erased, as the registry holds it.
pub trait Handler: Send + Sync {
    fn retry_policy(&self) -> Option<RetryPolicy>;
    fn timeout(&self) -> Option<Duration>;
    fn call<'a>(&'a self, ctx: &'a JobContext, payload: Value)
    -> BoxFuture<'a, Result<TaskOutput, JobError>>;
}

impl<T: Task> Handler for T {
    fn retry_policy(&self) -> Option<RetryPolicy> {
        Task::retry_policy(self)
    }

    fn timeout(&self) -> Option<Duration> {
        Task::timeout(self)
    }

    fn call<'a>(
        &'a self,
        ctx: &'a JobContext,
        payload: Value,
    ) -> BoxFuture<'a, Result<TaskOutput, JobError>> {
        Box::pin(async move {
            // Checked at enqueue; a job made before its type's input changed can still differ.
            let input: T::Input = serde_json::from_value(payload).map_err(|e| {
                JobError::fatal(format!("payload does not fit job type {}: {e}", self.job_type()))
            })?;
            self.run(ctx, input).await
        })
    }
}

/// Handlers by job type. [`Registry::with_builtins`] has `noop`, `echo`, `sleep` and `fail`.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
    /// Each type's input, for checking payloads where jobs are created.
    types: JobTypes,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("job_types", &self.types).finish()
    }
}

impl Registry {
    /// Add (or replace) the handler of `task.job_type()`.
    pub fn register<T: Task>(&mut self, task: T) -> &mut Self {
        self.types.add::<T::Input>(task.job_type());
        self.handlers.insert(task.job_type().to_owned(), Arc::new(task));
        self
    }

    pub fn get(&self, job_type: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(job_type).cloned()
    }

    pub fn contains(&self, job_type: &str) -> bool {
        self.handlers.contains_key(job_type)
    }

    /// The types the API, ingest and scheduler accept, with their payloads' checks and schemas:
    /// exactly the types the worker can run.
    pub fn job_types(&self) -> JobTypes {
        self.types.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_to_the_cap() {
        let policy = RetryPolicy::default();
        let fixed: Vec<f64> = (1..=12).map(|a| policy.backoff(a, 1.0).as_secs_f64()).collect();
        assert_eq!(&fixed[..5], &[2.0, 4.0, 8.0, 16.0, 32.0]);
        assert!(fixed.iter().all(|d| *d <= 900.0));
        assert_eq!(fixed[11], 900.0, "capped at 15 minutes");
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_secs(900));
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let policy = RetryPolicy { base: Duration::from_secs(10), factor: 3.0, cap: Duration::from_secs(60) };
        assert_eq!(policy.backoff(1, 0.0), Duration::from_secs(5));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_secs_f64(22.5));
        assert_eq!(policy.backoff(3, 0.0), Duration::from_secs(30), "90 s capped to 60, half fixed");
        assert_eq!(policy.backoff(3, 7.0), Duration::from_secs(60), "unit is clamped");
    }

    #[test]
    fn registry_knows_the_builtins_and_decodes_payloads() {
        let registry = Registry::with_builtins();
        assert_eq!(registry.job_types().names().collect::<Vec<_>>(), ["echo", "fail", "noop", "sleep"]);
        assert!(registry.get("transcode").is_none());
        assert!(Registry::default().job_types().is_empty());
    }

    #[test]
    fn errors_say_whether_to_retry() {
        assert!(JobError::retryable("x").is_retryable());
        assert!(!JobError::fatal("x").is_retryable());
        assert!(!JobError::cancelled().is_retryable());
        let failure = JobError::fatal("bad").with_details(serde_json::json!({"step": 2})).to_failure();
        assert_eq!(failure.details, Some(serde_json::json!({"step": 2})));
    }
}
