//! `GET /metrics`: the figures of `GET /stats` in the Prometheus (OpenMetrics) text format, for
//! people who scrape. Computed per scrape from the table and the queues, so every API instance
//! (the local host, or any Lambda container) answers the same.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

use crate::domain::priority::PriorityTier;
use crate::handlers::service::Stats;
use crate::store::PauseScope;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;
type Gauges = Family<Labels, Gauge>;
type Ratios = Family<Labels, Gauge<f64, AtomicU64>>;
type Counters = Family<Labels, Counter>;
type Seconds = Family<Labels, Counter<f64, AtomicU64>>;

/// A metric family, registered under `name` (a counter's gets `_total`).
fn family<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// Pure: the exposition of one set of statistics.
pub fn render(stats: &Stats) -> String {
    let mut registry = Registry::with_prefix("jobq");
    let r = &mut registry;
    let jobs: Gauges = family(r, "jobs", "Jobs in the table, by status");
    let messages: Gauges = family(r, "queue_messages", "Messages in a tier's queue, by state (approximate)");
    let dead: Gauges =
        family(r, "dead_letter_messages", "Messages in a tier's dead-letter queue (approximate)");
    let paused: Gauges = family(r, "paused", "1 when the scope (all, a tier's queue, a job type) is paused");
    let success: Ratios =
        family(r, "job_success_ratio", "Completed (fully or partly) over finished jobs, by type");
    let ended: Counters = family(r, "jobs_ended", "Jobs that reached an end, by type and outcome");
    let retried: Counters = family(r, "job_retries", "Runs that failed and were retried, by type");
    let runs: Counters = family(r, "job_runs", "Handler runs that ended, by type");
    let processing: Seconds =
        family(r, "job_processing_seconds", "Summed run time, by type (divide by job_runs)");
    let wait: Seconds =
        family(r, "job_wait_seconds", "Summed time from due to start, by type (divide by job_runs)");
    for (status, n) in &stats.counts {
        jobs.get_or_create(&vec![("status", status.to_string())]).set(*n as i64);
    }
    for (tier, summary) in &stats.tiers {
        let q = summary.queue;
        for (state, n) in [("visible", q.visible), ("in_flight", q.in_flight), ("delayed", q.delayed)] {
            messages.get_or_create(&vec![("tier", tier.to_string()), ("state", state.into())]).set(n as i64);
        }
        dead.get_or_create(&vec![("tier", tier.to_string())]).set(summary.dlq_depth as i64);
    }
    let scopes = std::iter::once(PauseScope::All)
        .chain(PriorityTier::ALL.into_iter().map(PauseScope::Queue))
        .chain(stats.types.keys().map(|t| PauseScope::Type(t.clone())))
        .chain(stats.paused.paused.iter().cloned());
    for scope in scopes {
        let value = i64::from(stats.paused.paused.contains(&scope));
        paused.get_or_create(&vec![("scope", scope.to_string())]).set(value);
    }

    for (job_type, s) in &stats.types {
        let by_type = || vec![("type", job_type.clone())];
        for (outcome, n) in [("completed", s.completed), ("partial", s.partial), ("failed", s.failed)] {
            ended.get_or_create(&vec![("type", job_type.clone()), ("outcome", outcome.into())]).inc_by(n);
        }
        retried.get_or_create(&by_type()).inc_by(s.retried);
        runs.get_or_create(&by_type()).inc_by(s.runs);
        processing.get_or_create(&by_type()).inc_by(s.processing_ms as f64 / 1000.0);
        wait.get_or_create(&by_type()).inc_by(s.wait_ms as f64 / 1000.0);
        if let Some(rate) = s.success_rate {
            success.get_or_create(&by_type()).set(rate);
        }
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::status::JobStatus;
    use crate::handlers::service::{TierSummary, TypeSummary};
    use crate::queue::QueueDepth;
    use crate::store::PauseFlags;

    fn stats() -> Stats {
        let summary = TypeSummary {
            completed: 7,
            partial: 1,
            failed: 2,
            retried: 3,
            runs: 13,
            processing_ms: 6500,
            wait_ms: 1300,
            success_rate: Some(0.8),
            avg_processing_ms: Some(500.0),
            avg_wait_ms: Some(100.0),
        };
        let tiers = PriorityTier::ALL
            .into_iter()
            .zip(0u64..)
            .map(|(t, n)| {
                (
                    t,
                    TierSummary {
                        queue: QueueDepth { visible: 10 + n, in_flight: n, delayed: 2 },
                        dlq_depth: n,
                    },
                )
            })
            .collect();
        let mut paused = PauseFlags::default();
        paused.paused.insert(PauseScope::Queue(PriorityTier::Low));
        paused.paused.insert(PauseScope::Type("resize \"big\"".into()));
        Stats {
            counts: BTreeMap::from([(JobStatus::Queued, 4), (JobStatus::Completed, 7)]),
            types: BTreeMap::from([("resize \"big\"".to_owned(), summary)]),
            tiers,
            paused,
        }
    }

    /// `name{labels} value` lines of the exposition, without comments.
    fn samples(text: &str) -> BTreeMap<String, f64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').expect("a sample line");
                (key.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }

    #[test]
    fn exposes_statuses_queues_pauses_and_per_type_counters() {
        let text = render(&stats());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE jobq_job_runs counter"), "{text}");
        assert!(text.contains("# TYPE jobq_queue_messages gauge"), "{text}");
        let s = samples(&text);
        let t = r#"type="resize \"big\"""#; // label values are escaped
        for (key, value) in [
            (r#"jobq_jobs{status="queued"}"#.to_owned(), 4.0),
            (r#"jobq_jobs{status="completed"}"#.to_owned(), 7.0),
            (r#"jobq_queue_messages{tier="normal",state="visible"}"#.to_owned(), 11.0),
            (r#"jobq_queue_messages{tier="low",state="in_flight"}"#.to_owned(), 2.0),
            (r#"jobq_dead_letter_messages{tier="low"}"#.to_owned(), 2.0),
            (r#"jobq_paused{scope="all"}"#.to_owned(), 0.0),
            (r#"jobq_paused{scope="queue:low"}"#.to_owned(), 1.0),
            (r#"jobq_paused{scope="queue:high"}"#.to_owned(), 0.0),
            (r#"jobq_paused{scope="type:resize \"big\""}"#.to_owned(), 1.0),
            (format!(r#"jobq_jobs_ended_total{{{t},outcome="failed"}}"#), 2.0),
            (format!("jobq_job_runs_total{{{t}}}"), 13.0),
            (format!("jobq_job_retries_total{{{t}}}"), 3.0),
            (format!("jobq_job_processing_seconds_total{{{t}}}"), 6.5),
            (format!("jobq_job_wait_seconds_total{{{t}}}"), 1.3),
            (format!("jobq_job_success_ratio{{{t}}}"), 0.8),
        ] {
            assert_eq!(s.get(&key), Some(&value), "{key} in\n{text}");
        }
    }
}
