//! Request bodies and query strings, validated field by field so every refusal names its field.

use chrono::{DateTime, Utc};

mod fields;
mod job;
mod operations;
pub mod wire;

pub use fields::{object, priority};
pub use job::{batch, new_job, retry};
pub use operations::{bulk_retry, external_update, id, list_query, scope};

pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// A job record must stay under DynamoDB's 400 KB item limit, payload and pipeline included.
pub const MAX_SPEC_BYTES: usize = 350 * 1000;
pub const MAX_BATCH_JOBS: usize = 100;
pub const MAX_NEXT_STEPS: usize = 20;
pub const MAX_DELAY_SECONDS: i64 = 365 * 24 * 3600;
pub const MAX_TIMEOUT_SECONDS: u64 = 900;
pub const MAX_ATTEMPTS: u64 = 100;
/// The longest job or batch id a path (or `batch_id` anywhere) may name: job ids are uuids (36
/// characters) and batch ids are at most this long when made, so no longer one exists; and the
/// table's keys have a byte limit (2048 for a partition key, 1024 for an index's sort key) that
/// a longer one could pass, which DynamoDB refuses.
pub const MAX_ID_CHARS: usize = 128;

/// Limits and the job types the deployment runs.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub max_payload_bytes: usize,
    pub job_types: &'a crate::domain::payload::JobTypes,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::job::JOB_FIELDS;
    use super::*;
    use crate::api::error::ApiError;
    use crate::domain::model::{NewJob, parse_time};
    use crate::domain::priority::Priority;
    use crate::domain::status::{JobEvent, JobStatus};
    use chrono::Duration;
    use serde_json::{Map, Value, json};

    fn rules() -> Rules<'static> {
        static KNOWN: std::sync::LazyLock<crate::domain::payload::JobTypes> =
            std::sync::LazyLock::new(|| {
                let mut registry = crate::domain::task::Registry::default();
                registry.register(crate::domain::builtin::Noop).register(crate::domain::builtin::Echo);
                registry.job_types()
            });
        Rules {
            max_payload_bytes: 64,
            job_types: &KNOWN,
            now: parse_time("2026-01-01T00:00:00Z").expect("time"),
        }
    }

    fn field_of(result: Result<NewJob, ApiError>) -> (u16, String) {
        let err = result.expect_err("refused");
        (err.status.as_u16(), err.field.unwrap_or_default())
    }

    #[test]
    fn a_full_spec_is_accepted() {
        let spec = new_job(
            &json!({"type": "echo", "payload": {"a": 1}, "priority": "high", "idempotency_key": "k",
                    "delay_seconds": 60, "max_attempts": 5, "timeout_seconds": 30, "batch_id": "b",
                    "github_workflow_run_id": 123, "next": [{"type": "noop"}]}),
            "",
            &rules(),
            0,
        )
        .expect("valid");
        assert_eq!(spec.priority, Priority::HIGH);
        assert_eq!(spec.run_at, Some(rules().now + Duration::seconds(60)));
        assert_eq!(spec.github_workflow_run_id.as_deref(), Some("123"));
        assert_eq!(spec.next.len(), 1);
    }

    #[test]
    fn each_bad_field_is_named() {
        let r = rules();
        assert_eq!(field_of(new_job(&json!({}), "", &r, 0)), (422, "type".into()));
        assert_eq!(field_of(new_job(&json!({"type": "resize"}), "", &r, 0)), (422, "type".into()));
        assert_eq!(field_of(new_job(&json!({"type": 5}), "", &r, 0)), (422, "type".into()));
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "priority": 11}), "", &r, 0)),
            (422, "priority".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "priority": "urgent"}), "", &r, 0)),
            (422, "priority".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "payload": "x".repeat(100)}), "", &r, 0)),
            (413, "payload".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "max_attempts": 0}), "", &r, 0)),
            (422, "max_attempts".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "timeout_seconds": 901}), "", &r, 0)),
            (422, "timeout_seconds".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "run_at": "tomorrow"}), "", &r, 0)),
            (422, "run_at".into())
        );
        // run_at is held to delay_seconds' cap: 2026-01-01 plus 365 days, and a second more.
        let at_cap = json!({"type": "noop", "run_at": "2027-01-01T00:00:00Z"});
        assert!(new_job(&at_cap, "", &r, 0).is_ok(), "as far as delay_seconds reaches");
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "run_at": "2027-01-01T00:00:01Z"}), "", &r, 0)),
            (422, "run_at".into())
        );
        assert_eq!(
            field_of(new_job(
                &json!({"type": "noop", "run_at": "2030-01-01T00:00:00Z", "delay_seconds": 1}),
                "",
                &r,
                0
            )),
            (422, "run_at".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "colour": "red"}), "", &r, 0)),
            (422, "colour".into())
        );
        assert_eq!(
            field_of(new_job(&json!({"type": "noop", "next": [{"type": "nope"}]}), "", &r, 0)),
            (422, "next[0].type".into())
        );
        assert_eq!(field_of(new_job(&json!([1]), "", &r, 0)), (422, "body".into()));
    }

    #[test]
    fn batches_name_the_job_at_fault() {
        let r = rules();
        let err = batch(&json!({"jobs": [{"type": "noop"}, {"type": "noop", "priority": -1}]}), &r)
            .expect_err("bad");
        assert_eq!(err.field.as_deref(), Some("jobs[1].priority"));
        let err = batch(&json!({"jobs": []}), &r).expect_err("empty");
        assert_eq!(err.field.as_deref(), Some("jobs"));
        let many: Vec<Value> = (0..101).map(|_| json!({"type": "noop"})).collect();
        assert_eq!(batch(&json!({"jobs": many}), &r).expect_err("too many").field.as_deref(), Some("jobs"));
    }

    #[test]
    fn list_queries_are_checked() {
        let q = |pairs: &[(&str, &str)]| {
            list_query(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        let (query, limit, cursor) = q(&[("status", "failed"), ("type", "noop")]).expect("valid");
        assert_eq!(
            (query.status, query.job_type.as_deref(), limit, cursor),
            (Some(JobStatus::Failed), Some("noop"), 50, None)
        );
        assert_eq!(q(&[("limit", "501")]).expect_err("limit").field.as_deref(), Some("limit"));
        assert_eq!(q(&[("limit", "ten")]).expect_err("limit").field.as_deref(), Some("limit"));
        assert_eq!(q(&[("status", "done")]).expect_err("status").field.as_deref(), Some("status"));
        assert_eq!(q(&[("limit", "")]).expect_err("empty").field.as_deref(), Some("limit"));
        assert_eq!(q(&[("status", "")]).expect_err("empty").field.as_deref(), Some("status"));
        assert!(q(&[("type", ""), ("cursor", "")]).is_ok(), "an empty filter is no filter");
        let bad_cursor = q(&[("cursor", "zzz")]).expect_err("cursor");
        assert_eq!((bad_cursor.status.as_u16(), bad_cursor.field.as_deref()), (400, Some("cursor")));
    }

    #[test]
    fn external_updates_map_statuses_to_events() {
        let update = external_update(&json!({"status": "completed", "result": {"ok": 1}, "progress": 100}))
            .expect("ok");
        assert_eq!(update.event, Some(JobEvent::Complete));
        assert_eq!(
            external_update(&json!({"status": "retrying"})).expect_err("bad").field.as_deref(),
            Some("status")
        );
        assert_eq!(
            external_update(&json!({"progress": 101})).expect_err("bad").field.as_deref(),
            Some("progress")
        );
        let failed =
            external_update(&json!({"status": "failed", "error": {"message": "boom", "details": [1]}}))
                .expect("ok");
        assert_eq!(failed.error.map(|e| e.details), Some(Some(json!([1]))));
    }

    mod properties {
        use super::*;
        use crate::proptest_support::{config, re, text};
        use proptest::prelude::*;

        const MAX_PAYLOAD: usize = 64;

        fn rules() -> Rules<'static> {
            Rules { max_payload_bytes: MAX_PAYLOAD, ..super::rules() }
        }

        /// Any JSON value, weighted toward the API's own field names and values.
        fn json_value() -> BoxedStrategy<Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-3i64..120).prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                text(0..17).prop_map(Value::from),
                prop_oneof![
                    Just("noop"),
                    Just("echo"),
                    Just("high"),
                    Just("failed"),
                    Just("completed"),
                    Just("queue:low"),
                    Just("type:echo"),
                    Just("2030-01-01T00:00:00Z"),
                    Just(""),
                ]
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 12, 4, |inner| {
                let key = prop_oneof![
                    prop::sample::select(JOB_FIELDS.to_vec()).prop_map(str::to_owned),
                    prop::sample::select(vec![
                        "jobs",
                        "status",
                        "scope",
                        "progress",
                        "current_step",
                        "message",
                        "result",
                        "error",
                        "details",
                    ])
                    .prop_map(str::to_owned),
                    re("[a-z_]{1,8}"),
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(key, inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
            .boxed()
        }

        /// Fields that are reported when absent.
        const REQUIRED: [&str; 5] = ["type", "jobs", "status", "scope", "message"];

        /// Whether `field` (a path like `jobs[2].next[0].priority`) names a field of `input`,
        /// or a required one missing there, or the body itself.
        fn names_a_field(input: &Value, field: &str) -> bool {
            if field == "body" {
                return true;
            }
            let segments: Vec<&str> = field.split('.').collect();
            let mut at = input;
            for (n, segment) in segments.iter().enumerate() {
                let (name, index) = match segment.split_once('[') {
                    Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
                    None => (*segment, None),
                };
                let last = n + 1 == segments.len();
                match at.get(name) {
                    None if last => return REQUIRED.contains(&name),
                    None => return false,
                    Some(value) => at = value,
                }
                if let Some(i) = index {
                    match at.get(i) {
                        Some(value) => at = value,
                        None => return false,
                    }
                }
            }
            true
        }

        /// A refusal is a 4xx naming a field of the request in its message.
        fn clear_refusal(input: &Value, err: &ApiError) -> Result<(), TestCaseError> {
            let field = err.field.as_deref().unwrap_or("");
            prop_assert!(err.status.is_client_error(), "{} {:?}", input, err);
            prop_assert!(!field.is_empty() && err.message.contains(field), "{} {:?}", input, err);
            prop_assert!(names_a_field(input, field), "{:?} is not in {}", field, input);
            Ok(())
        }

        /// A body a reader took is one of the wire type the document's schema is derived from.
        fn documented<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), TestCaseError> {
            let read = serde_json::from_value::<T>(body.clone());
            prop_assert!(
                read.is_ok(),
                "{} is taken but not a {}: {:?}",
                body,
                std::any::type_name::<T>(),
                read.err()
            );
            Ok(())
        }

        fn valid_spec() -> impl Strategy<Value = Map<String, Value>> {
            (
                prop::sample::select(vec!["noop", "echo"]),
                prop::option::of(prop_oneof![(0i64..=10).prop_map(Value::from), Just(Value::from("low"))]),
                prop::option::of(re("[a-z0-9-]{1,40}")),
                prop::option::of(0i64..=MAX_DELAY_SECONDS),
                prop::option::of(1i64..=MAX_ATTEMPTS as i64),
                prop::option::of(1i64..=MAX_TIMEOUT_SECONDS as i64),
                prop::option::of(prop_oneof![any::<u32>().prop_map(Value::from), Just(Value::from("run-7"))]),
            )
                .prop_map(|(job_type, priority, key, delay, attempts, timeout, run_id)| {
                    let mut map = Map::new();
                    map.insert("type".into(), Value::from(job_type));
                    map.insert("payload".into(), serde_json::json!({"n": 1}));
                    let mut put = |name: &str, value: Option<Value>| {
                        if let Some(value) = value {
                            map.insert(name.into(), value);
                        }
                    };
                    put("priority", priority);
                    put("idempotency_key", key.map(Value::from));
                    put("delay_seconds", delay.map(Value::from));
                    put("max_attempts", attempts.map(Value::from));
                    put("timeout_seconds", timeout.map(Value::from));
                    put("github_workflow_run_id", run_id);
                    map
                })
        }

        /// A value of `field` that must be refused (for `type`, `None`: leave it out).
        fn wrong_value(field: &'static str) -> BoxedStrategy<Option<Value>> {
            let not_int =
                json_value().prop_filter("not an integer", |v| !v.is_i64() && !v.is_u64() && !v.is_null());
            let int_outside = |lo: i64, hi: i64| {
                prop_oneof![(i64::MIN..lo).prop_map(Value::from), (hi + 1..i64::MAX).prop_map(Value::from)]
            };
            let bad_string = |max: usize| {
                prop_oneof![
                    json_value().prop_filter("not a string", |v| !v.is_string() && !v.is_null()),
                    Just(Value::from("")),
                    Just(Value::from("x".repeat(max + 1))),
                ]
            };
            let some = |s: BoxedStrategy<Value>| s.prop_map(Some).boxed();
            match field {
                "type" => prop_oneof![
                    Just(None),
                    bad_string(128).prop_map(Some),
                    re("[a-z]{1,10}")
                        .prop_filter("unknown", |t| t != "noop" && t != "echo")
                        .prop_map(|t| Some(Value::from(t))),
                ]
                .boxed(),
                "payload" => some(Just(Value::from("x".repeat(MAX_PAYLOAD))).boxed()),
                "priority" => some(
                    json_value()
                        .prop_filter("not a priority", |v| {
                            !v.is_null() && serde_json::from_value::<Priority>(v.clone()).is_err()
                        })
                        .boxed(),
                ),
                "idempotency_key" => some(bad_string(256).boxed()),
                "batch_id" => some(bad_string(128).boxed()),
                "delay_seconds" => {
                    some(prop_oneof![not_int.clone(), int_outside(0, MAX_DELAY_SECONDS)].boxed())
                }
                "max_attempts" => {
                    some(prop_oneof![not_int.clone(), int_outside(1, MAX_ATTEMPTS as i64)].boxed())
                }
                "timeout_seconds" => {
                    some(prop_oneof![not_int, int_outside(1, MAX_TIMEOUT_SECONDS as i64)].boxed())
                }
                "run_at" => some(
                    prop_oneof![
                        json_value().prop_filter("not a string", |v| !v.is_string() && !v.is_null()),
                        text(1..21)
                            .prop_filter("not a time", |t| parse_time(t).is_err())
                            .prop_map(Value::from),
                        Just(Value::from("2099-01-01T00:00:00Z")),
                    ]
                    .boxed(),
                ),
                "github_workflow_run_id" => some(
                    prop_oneof![
                        json_value().prop_filter("not a run id", |v| {
                            !v.is_null()
                                && !v.is_u64()
                                && !v.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= 64)
                        }),
                        Just(Value::from("9".repeat(65))),
                    ]
                    .boxed(),
                ),
                _ => some(
                    json_value()
                        .prop_filter("not a list of specs", |v| !v.is_array() && !v.is_null())
                        .boxed(),
                ),
            }
        }

        const CHECKED: [&str; 11] = [
            "type",
            "payload",
            "priority",
            "idempotency_key",
            "batch_id",
            "delay_seconds",
            "max_attempts",
            "timeout_seconds",
            "run_at",
            "github_workflow_run_id",
            "next",
        ];

        /// A valid spec with one field wrong (or an unknown one added), and the field to name.
        fn one_field_wrong() -> impl Strategy<Value = (Value, String)> {
            let checked = (valid_spec(), prop::sample::select(CHECKED.to_vec()))
                .prop_flat_map(|(spec, field)| (Just(spec), Just(field), wrong_value(field)));
            let unknown = (
                valid_spec(),
                re("[a-z_]{1,12}").prop_filter("unknown", |k| !JOB_FIELDS.contains(&k.as_str())),
            );
            prop_oneof![
                checked.prop_map(|(mut spec, field, wrong)| {
                    match wrong {
                        Some(value) => spec.insert(field.to_owned(), value),
                        None => spec.remove(field),
                    };
                    if field == "run_at" {
                        spec.remove("delay_seconds");
                    }
                    (Value::Object(spec), field.to_owned())
                }),
                unknown.prop_map(|(mut spec, key)| {
                    spec.insert(key.clone(), Value::Null);
                    (Value::Object(spec), key)
                }),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn one_wrong_field_of_a_spec_is_refused_naming_it(
                (body, field) in one_field_wrong(),
                at in 0usize..3,
            ) {
                // Alone, as the third job of a batch, or as a step of a pipeline.
                let (result, want) = match at {
                    0 => (new_job(&body, "", &rules(), 0).map(drop), field.clone()),
                    1 => {
                        let ok = serde_json::json!({"type": "noop"});
                        let mut batch_body = serde_json::json!({"jobs": [ok.clone(), ok, body.clone()]});
                        if field == "batch_id" {
                            // A batch's jobs carry no batch_id: the wrong one goes on the batch.
                            batch_body["jobs"][2] = serde_json::json!({"type": "noop"});
                            batch_body["batch_id"] = body["batch_id"].clone();
                        }
                        let want =
                            if field == "batch_id" { field.clone() } else { format!("jobs[2].{field}") };
                        (batch(&batch_body, &rules()).map(drop), want)
                    }
                    _ => {
                        let first = serde_json::json!({"type": "echo", "next": [{"type": "noop"}, body]});
                        (new_job(&first, "", &rules(), 0).map(drop), format!("next[1].{field}"))
                    }
                };
                let err = result.expect_err("one field is wrong");
                prop_assert_eq!(err.field.as_deref(), Some(want.as_str()), "{:?}", err);
                prop_assert!(err.status.is_client_error() && err.message.contains(&want), "{:?}", err);
            }

            #[test]
            fn any_job_spec_is_accepted_as_documented_or_refused_naming_a_field(
                body in prop_oneof![json_value(), valid_spec().prop_map(Value::Object)],
            ) {
                match new_job(&body, "", &rules(), 0) {
                    Ok(_) => documented::<wire::JobSpec>(&body)?,
                    Err(err) => clear_refusal(&body, &err)?,
                }
            }

            #[test]
            fn any_batch_body_is_accepted_or_refused_naming_a_field(
                jobs in prop::collection::vec(
                    prop_oneof![json_value(), valid_spec().prop_map(Value::Object)],
                    0..4,
                ),
                batch_id in prop::option::of(json_value()),
                extra in prop::option::of((re("[a-z]{1,6}"), json_value())),
            ) {
                let mut body = serde_json::json!({"jobs": jobs});
                if let Value::Object(map) = &mut body {
                    if let Some(id) = batch_id {
                        map.insert("batch_id".into(), id);
                    }
                    if let Some((key, value)) = extra {
                        map.insert(key, value);
                    }
                }
                match batch(&body, &rules()) {
                    Ok(_) => documented::<wire::NewBatch>(&body)?,
                    Err(err) => clear_refusal(&body, &err)?,
                }
            }

            #[test]
            fn any_other_body_is_accepted_or_refused_naming_a_field(
                body in json_value(),
                which in 0usize..4,
            ) {
                let (result, documented) = match which {
                    0 => (external_update(&body).map(drop), documented::<wire::ExternalReport>(&body)),
                    1 => (bulk_retry(&body).map(drop), documented::<wire::BulkRetry>(&body)),
                    2 => (scope(&body).map(drop), documented::<wire::Scope>(&body)),
                    _ => (retry(Some(&body)).map(drop), documented::<Option<wire::RetryJobBody>>(&body)),
                };
                match result {
                    Ok(()) => documented?,
                    Err(err) => clear_refusal(&body, &err)?,
                }
            }

            #[test]
            fn any_query_string_is_accepted_or_refused_naming_a_parameter(
                params in prop::collection::hash_map(
                    prop_oneof![
                        prop::sample::select(vec!["status", "type", "batch_id", "limit", "cursor"])
                            .prop_map(str::to_owned),
                        re("[a-z_]{1,8}"),
                    ],
                    prop_oneof![
                        text(0..13),
                        (0u64..1000).prop_map(|n| n.to_string()),
                        Just("failed".to_owned()),
                    ],
                    0..5,
                ),
            ) {
                if let Err(err) = list_query(&params) {
                    let field = err.field.clone().unwrap_or_default();
                    prop_assert!(err.status.is_client_error(), "{:?}", err);
                    let named = params.contains_key(&field) && err.message.contains(&field);
                    prop_assert!(named, "{:?} {:?}", params, err);
                }
            }
        }
    }
}
