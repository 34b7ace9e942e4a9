//! Names and settings of every AWS resource jobq uses, in one place: local provisioning reads
//! them, and the SAM template is checked against them.

use crate::domain::priority::{PerTier, PriorityTier};

/// Longest a worker invocation may run (Lambda's maximum).
pub const WORKER_FUNCTION_TIMEOUT_SECONDS: u32 = 900;
/// AWS asks for at least six times the consuming function's timeout, so that a batch retried by
/// Lambda is not redelivered while an earlier invocation still holds it.
pub const QUEUE_VISIBILITY_TIMEOUT_SECONDS: u32 = 6 * WORKER_FUNCTION_TIMEOUT_SECONDS;
/// Receives before SQS moves a message to the DLQ. Attempts are counted in the job record and
/// retries are sent as fresh messages, so only crashes and throttles add up here: a safety net.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Where uploads go to become jobs: the bucket notifies the ingest queue of these keys only, never
/// of the store's own objects ([`crate::store::BLOB_PREFIX`]).
pub const UPLOADS_PREFIX: &str = "uploads/";
/// 14 days, SQS's maximum, for queues and DLQs alike: a long pause never ages messages out.
pub const MESSAGE_RETENTION_SECONDS: u32 = 14 * 24 * 3600;
/// Long polling wait used by pollers and receives.
pub const RECEIVE_WAIT_SECONDS: i32 = 20;

/// One SQS queue as provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub visibility_timeout: u32,
    pub retention: u32,
    /// The queue's DLQ name and maxReceiveCount, when it has one.
    pub redrive: Option<(String, u32)>,
}

/// Resource names derived from one prefix, e.g. `jobq-` or a per-test `t1234-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    prefix: String,
}

impl ResourceNames {
    pub fn new(prefix: impl Into<String>) -> Self {
        ResourceNames { prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn table(&self) -> String {
        format!("{}jobs", self.prefix)
    }

    pub fn bucket(&self) -> String {
        format!("{}uploads", self.prefix)
    }

    pub fn queue(&self, tier: PriorityTier) -> String {
        format!("{}{tier}", self.prefix)
    }

    pub fn dlq(&self, tier: PriorityTier) -> String {
        format!("{}{tier}-dlq", self.prefix)
    }

    pub fn ingest_queue(&self) -> String {
        format!("{}ingest", self.prefix)
    }

    pub fn ingest_dlq(&self) -> String {
        format!("{}ingest-dlq", self.prefix)
    }

    /// Dead-letter queues first: the others name them in their redrive policies.
    pub fn queue_specs(&self) -> Vec<QueueSpec> {
        let dlq = |name: String| QueueSpec {
            name,
            visibility_timeout: QUEUE_VISIBILITY_TIMEOUT_SECONDS,
            retention: MESSAGE_RETENTION_SECONDS,
            redrive: None,
        };
        let main = |name: String, dlq: String| QueueSpec {
            name,
            visibility_timeout: QUEUE_VISIBILITY_TIMEOUT_SECONDS,
            retention: MESSAGE_RETENTION_SECONDS,
            redrive: Some((dlq, MAX_RECEIVE_COUNT)),
        };
        let mut specs: Vec<QueueSpec> = PriorityTier::ALL.iter().map(|t| dlq(self.dlq(*t))).collect();
        specs.push(dlq(self.ingest_dlq()));
        specs.extend(PriorityTier::ALL.iter().map(|t| main(self.queue(*t), self.dlq(*t))));
        specs.push(main(self.ingest_queue(), self.ingest_dlq()));
        specs
    }

    pub fn queues(&self) -> PerTier<String> {
        PerTier::from_fn(|t| self.queue(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_with_a_dlq_comes_after_it() {
        let specs = ResourceNames::new("t-").queue_specs();
        assert_eq!(specs.len(), 8);
        for (i, spec) in specs.iter().enumerate() {
            if let Some((dlq, count)) = &spec.redrive {
                let at = specs.iter().position(|s| &s.name == dlq).expect("dlq is provisioned");
                assert!(at < i, "{dlq} must exist before {}", spec.name);
                assert!(*count > crate::domain::model::DEFAULT_MAX_ATTEMPTS);
            }
        }
        assert_eq!(specs.iter().filter(|s| s.redrive.is_none()).count(), 4);
        const { assert!(QUEUE_VISIBILITY_TIMEOUT_SECONDS >= 6 * WORKER_FUNCTION_TIMEOUT_SECONDS) };
    }

    #[test]
    fn names_derive_from_the_prefix() {
        let names = ResourceNames::new("jobq-");
        assert_eq!(names.table(), "jobq-jobs");
        assert_eq!(names.queue(PriorityTier::High), "jobq-high");
        assert_eq!(names.dlq(PriorityTier::Low), "jobq-low-dlq");
        assert_eq!(names.bucket(), "jobq-uploads");
    }
}
