//! What one batch adds up to: which messages must come back, the statistics to record and the
//! metric lines to emit.

use std::collections::BTreeMap;

use crate::domain::priority::PriorityTier;
use crate::metrics::{MetricSet, Unit};
use crate::store::{BatchStats, Ended};

/// What happens to one record's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Done with it: Lambda (or the local poller) deletes it.
    Ack,
    /// It must come back (its visibility was set for when).
    Retry,
}

/// One run's contribution to the batch statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunCount {
    pub job_type: String,
    pub tier: PriorityTier,
    pub ended: Ended,
    pub processing_ms: u64,
    pub wait_ms: u64,
}

/// What one record did: what happens to its message, and the run it counts (if one ended).
pub(super) type Processed = (Disposition, Option<RunCount>);

/// How one record went: its message id, what happens to its message, and the run it counts.
pub(crate) type RecordResult = (String, Disposition, Option<RunCount>);

/// A batch's records, added up.
#[derive(Debug, Default)]
pub(crate) struct BatchSummary {
    pub stats: BatchStats,
    /// One metric set per job type and tier.
    pub metrics: BTreeMap<(String, PriorityTier), MetricSet>,
    /// The messages that must come back.
    pub failed: Vec<String>,
}

impl BatchSummary {
    pub fn of(results: Vec<RecordResult>) -> Self {
        let mut summary = BatchSummary::default();
        for (message_id, disposition, counted) in results {
            if let Some(run) = counted {
                summary.stats.record(&run.job_type, run.ended, run.processing_ms, run.wait_ms);
                let set = summary.metrics.entry((run.job_type.clone(), run.tier)).or_insert_with(|| {
                    MetricSet::new([("JobType", run.job_type.as_str()), ("Tier", run.tier.as_str())])
                });
                record_metrics(set, run.ended, run.processing_ms, run.wait_ms);
            }
            if disposition == Disposition::Retry {
                summary.failed.push(message_id);
            }
        }
        summary
    }
}

/// One run in the batch's EMF line: started, how it ended, and its times.
fn record_metrics(set: &mut MetricSet, ended: Ended, processing_ms: u64, wait_ms: u64) {
    set.add("JobsStarted", Unit::Count, 1.0);
    let outcome = match ended {
        Ended::Completed => "JobsCompleted",
        Ended::Partial => "JobsPartial",
        Ended::Retried => "JobsRetried",
        Ended::Failed => "JobsFailed",
    };
    set.add(outcome, Unit::Count, 1.0);
    if ended == Ended::Failed {
        // Every failed job's message goes to its tier's DLQ.
        set.add("JobsDeadLettered", Unit::Count, 1.0);
    }
    set.add("ProcessingTime", Unit::Milliseconds, processing_ms as f64);
    set.add("WaitTime", Unit::Milliseconds, wait_ms as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_metric_line_counts_each_outcome_and_time() {
        let mut set = MetricSet::new([("JobType", "ocr"), ("Tier", "high")]);
        record_metrics(&mut set, Ended::Completed, 120, 5);
        record_metrics(&mut set, Ended::Failed, 30, 7);
        record_metrics(&mut set, Ended::Retried, 10, 1);
        let doc = set.to_emf(1);
        assert_eq!(doc["JobsStarted"], serde_json::json!([1.0, 1.0, 1.0]));
        assert_eq!(doc["JobsCompleted"], serde_json::json!(1.0));
        assert_eq!(doc["JobsFailed"], serde_json::json!(1.0));
        assert_eq!(doc["JobsDeadLettered"], serde_json::json!(1.0));
        assert_eq!(doc["JobsRetried"], serde_json::json!(1.0));
        assert_eq!(doc["ProcessingTime"], serde_json::json!([120.0, 30.0, 10.0]));
        assert_eq!(doc["WaitTime"], serde_json::json!([5.0, 7.0, 1.0]));
        assert!(doc.get("JobsPartial").is_none());
    }

    #[test]
    fn a_summary_lists_the_returning_messages_and_groups_runs_by_type_and_tier() {
        let run = |job_type: &str, tier, ended| RunCount {
            job_type: job_type.to_owned(),
            tier,
            ended,
            processing_ms: 10,
            wait_ms: 1,
        };
        let summary = BatchSummary::of(vec![
            ("m1".into(), Disposition::Ack, Some(run("ocr", PriorityTier::High, Ended::Completed))),
            ("m2".into(), Disposition::Retry, None),
            ("m3".into(), Disposition::Ack, Some(run("ocr", PriorityTier::High, Ended::Failed))),
            ("m4".into(), Disposition::Retry, Some(run("ocr", PriorityTier::Low, Ended::Retried))),
            ("m5".into(), Disposition::Ack, None),
        ]);
        assert_eq!(summary.failed, ["m2", "m4"]);
        assert_eq!(
            summary.metrics.keys().cloned().collect::<Vec<_>>(),
            [("ocr".to_owned(), PriorityTier::High), ("ocr".to_owned(), PriorityTier::Low)]
        );
        let high = summary.metrics[&("ocr".to_owned(), PriorityTier::High)].to_emf(1);
        assert_eq!(high["JobsStarted"], serde_json::json!([1.0, 1.0]));
        let ocr = &summary.stats.by_type["ocr"];
        assert_eq!((ocr.completed, ocr.failed, ocr.retried, ocr.partial), (1, 1, 1, 0));
    }
}
