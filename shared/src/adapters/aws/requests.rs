//! Counting AWS requests at the HTTP level (every attempt, retries included), per service and
//! operation: the benchmark's cost figures and the tests' request budgets come from here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Shared counts; clone it into every client that should be counted.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// Counts keyed `Service:Operation`, e.g. `DynamoDB:UpdateItem`.
pub type RequestCounts = BTreeMap<String, u64>;

impl RequestCounter {
    pub fn snapshot(&self) -> RequestCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Counts since `earlier` (a snapshot), without the zero rows.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        self.snapshot()
            .into_iter()
            .map(|(k, v)| {
                let before = earlier.get(&k).copied().unwrap_or(0);
                (k, v - before)
            })
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    /// Count one request made without the SDK (an in-memory adapter), keyed as the SDK's are.
    pub fn count(&self, service: &str, operation: &str) {
        self.record(format!("{service}:{operation}"));
    }

    fn record(&self, key: String) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(key).or_default() += 1;
        }
    }
}

/// Total of the counts whose service is `service` (e.g. `"DynamoDB"`, `"SQS"`).
pub fn total(counts: &RequestCounts, service: &str) -> u64 {
    counts.iter().filter(|(k, _)| k.split(':').next() == Some(service)).map(|(_, v)| v).sum()
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "jobq-request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!("{}:{}", m.service(), m.name()),
            None => "unknown:unknown".to_owned(),
        };
        self.record(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_and_drops_zeroes() {
        let counter = RequestCounter::default();
        counter.record("DynamoDB:PutItem".into());
        let before = counter.snapshot();
        counter.record("DynamoDB:PutItem".into());
        counter.record("SQS:SendMessage".into());
        counter.record("SQS:SendMessage".into());
        let delta = counter.since(&before);
        assert_eq!(delta.get("DynamoDB:PutItem"), Some(&1));
        assert_eq!(total(&delta, "SQS"), 2);
        assert_eq!(total(&delta, "S3"), 0);
    }
}
