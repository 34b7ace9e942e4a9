//! CloudWatch Embedded Metric Format: metrics as structured log lines, no API calls. In Lambda
//! each line goes to stdout, where CloudWatch Logs extracts the metrics; elsewhere nothing is printed.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The namespace when `JOBQ_METRICS_NAMESPACE` is unset (the template sets `jobq/<stack>`).
pub const NAMESPACE: &str = "jobq";

/// The namespace metrics go to: `configured` when it is a valid CloudWatch namespace, else
/// [`NAMESPACE`].
pub fn namespace_from(configured: Option<&str>) -> String {
    let valid = |n: &&str| {
        (1..=255).contains(&n.len())
            && !n.starts_with(':')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
    };
    configured.map(str::trim).filter(valid).unwrap_or(NAMESPACE).to_owned()
}

/// This process's namespace, read once from `JOBQ_METRICS_NAMESPACE`.
fn namespace() -> &'static str {
    static NAMESPACE_IN_USE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAMESPACE_IN_USE.get_or_init(|| namespace_from(std::env::var("JOBQ_METRICS_NAMESPACE").ok().as_deref()))
}

/// The EMF units jobq uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Metrics sharing one set of dimensions (e.g. job type and tier), several values each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet {
    dimensions: BTreeMap<String, String>,
    metrics: BTreeMap<String, (Unit, Vec<f64>)>,
}

impl MetricSet {
    pub fn new<'a>(dimensions: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        MetricSet {
            dimensions: dimensions.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            metrics: BTreeMap::new(),
        }
    }

    /// Add a value; several values of one metric become an array (EMF computes the statistics).
    pub fn add(&mut self, name: &str, unit: Unit, value: f64) {
        self.metrics.entry(name.to_owned()).or_insert((unit, Vec::new())).1.push(value);
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The EMF document, timestamped `timestamp_ms`, in this process's namespace.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        self.to_emf_in(namespace(), timestamp_ms)
    }

    /// The EMF document in `namespace`. Each metric is published by its dimensions and also
    /// with none, the total an alarm watches (alarms need exact dimensions).
    pub fn to_emf_in(&self, namespace: &str, timestamp_ms: i64) -> Value {
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, (unit, _))| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [self.dimensions.keys().collect::<Vec<_>>(), Vec::<&String>::new()],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::from(value.clone()));
        }
        for (name, (_, values)) in &self.metrics {
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            root.insert(name.clone(), value);
        }
        Value::Object(root)
    }

    /// Print the line where CloudWatch will read it (in Lambda only).
    pub fn emit(&self) {
        #[cfg(test)]
        EMITTED.with(|emitted| emitted.borrow_mut().push(self.clone()));
        if !self.is_empty() && std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            println!("{}", self.to_emf(chrono::Utc::now().timestamp_millis()));
        }
    }

    /// The sum of `metric`'s values where dimension `name` is `value` (tests read what was
    /// emitted by it).
    #[cfg(test)]
    pub(crate) fn sum_where(sets: &[MetricSet], metric: &str, name: &str, value: &str) -> f64 {
        let matching = sets.iter().filter(|set| set.dimensions.get(name).is_some_and(|v| v == value));
        matching.filter_map(|set| set.metrics.get(metric)).flat_map(|(_, values)| values).sum()
    }
}

#[cfg(test)]
thread_local! {
    /// Every set emitted on this thread (a `#[tokio::test]` runs its tasks on one), for tests.
    static EMITTED: std::cell::RefCell<Vec<MetricSet>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The sets emitted on this thread since the last call.
#[cfg(test)]
pub(crate) fn take_emitted() -> Vec<MetricSet> {
    EMITTED.with(|emitted| std::mem::take(&mut *emitted.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented EMF rules (CloudWatch "Embedded metric format specification").
    fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 0), "Timestamp: epoch milliseconds");
        let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics array");
        assert!(!directives.is_empty());
        for directive in directives {
            let namespace = directive["Namespace"].as_str().expect("Namespace");
            assert!((1..=255).contains(&namespace.len()));
            for set in directive["Dimensions"].as_array().expect("Dimensions: array of arrays") {
                let set = set.as_array().expect("a dimension set is an array");
                assert!(set.len() <= 30);
                for name in set {
                    let name = name.as_str().expect("dimension name");
                    assert!(doc[name].is_string(), "dimension {name} is a string member of the root");
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!((1..=100).contains(&metrics.len()));
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name");
                let unit = metric["Unit"].as_str().unwrap_or("None");
                assert!(["Count", "Milliseconds", "Seconds", "None"].contains(&unit), "{unit}");
                let value = &doc[name];
                let numbers =
                    value.as_array().map(|a| a.iter().all(Value::is_number)).unwrap_or(value.is_number());
                assert!(numbers, "{name} is a number or an array of numbers: {value}");
                assert!(value.as_array().is_none_or(|a| a.len() <= 100));
            }
        }
    }

    #[test]
    fn a_metric_set_is_valid_emf() {
        let mut set = MetricSet::new([("JobType", "noop"), ("Tier", "high")]);
        set.add("JobsCompleted", Unit::Count, 1.0);
        set.add("JobsCompleted", Unit::Count, 1.0);
        set.add("ProcessingTime", Unit::Milliseconds, 12.0);
        let doc = set.to_emf(1_767_225_600_000);
        assert_valid_emf(&doc);
        assert_eq!(doc["JobType"], "noop");
        assert_eq!(doc["JobsCompleted"], json!([1.0, 1.0]));
        assert_eq!(doc["ProcessingTime"], json!(12.0));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["JobType", "Tier"], []]),
            "by type and tier, and in total"
        );
        assert_eq!(directive["Namespace"], "jobq");
        let staged = set.to_emf_in("jobq/jobq-prod", 1);
        assert_valid_emf(&staged);
        assert_eq!(staged["_aws"]["CloudWatchMetrics"][0]["Namespace"], "jobq/jobq-prod");
    }

    #[test]
    fn the_namespace_is_the_configured_one_when_valid() {
        assert_eq!(namespace_from(Some("jobq/jobq-prod")), "jobq/jobq-prod");
        assert_eq!(namespace_from(None), "jobq");
        for invalid in ["", "  ", ":jobq", "jobq prod", "jobq/\u{e9}", "n".repeat(256).as_str()] {
            assert_eq!(namespace_from(Some(invalid)), "jobq", "{invalid:?}");
        }
    }

    #[test]
    fn an_empty_set_prints_nothing_and_stays_valid_once_filled() {
        let mut set = MetricSet::new([("Tier", "low")]);
        assert!(set.is_empty());
        set.add("QueueDepth", Unit::Count, 3.0);
        assert_valid_emf(&set.to_emf(1));
    }
}
