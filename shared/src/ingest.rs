//! S3 uploads become jobs: `ObjectCreated` notifications arrive on the ingest queue, routing rules
//! pick the job type, and the object's version (or ETag) makes the job id, so a notification
//! delivered twice creates one job.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Map, Value};
use tracing::{error, info, warn};

use crate::config::ConfigError;
use crate::model::NewJob;
use crate::priority::Priority;
use crate::service::{JobService, ServiceError};

/// Which objects become which jobs. The first rule that matches wins.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRule {
    /// Only this bucket (any when absent).
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    #[serde(rename = "type")]
    pub job_type: String,
    #[serde(default)]
    pub priority: Priority,
    /// Fields added to every payload; the object's own fields (bucket, key, ...) win.
    #[serde(default)]
    pub payload: Map<String, Value>,
    pub max_attempts: Option<u32>,
    pub timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestRules {
    pub rules: Vec<IngestRule>,
}

impl IngestRules {
    /// `JOBQ_INGEST_RULES` (a JSON list) or `JOBQ_INGEST_RULES_FILE` (a file holding one).
    pub fn from_env() -> Result<Self, ConfigError> {
        if let Ok(json) = std::env::var("JOBQ_INGEST_RULES") {
            return Self::parse("JOBQ_INGEST_RULES", &json);
        }
        match std::env::var("JOBQ_INGEST_RULES_FILE") {
            Ok(path) => {
                let json = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    var: "JOBQ_INGEST_RULES_FILE".into(),
                    value: path.clone(),
                    reason: e.to_string(),
                })?;
                Self::parse("JOBQ_INGEST_RULES_FILE", &json)
            }
            Err(_) => Ok(IngestRules::default()),
        }
    }

    pub fn parse(var: &str, json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map(|rules| IngestRules { rules }).map_err(|e| ConfigError::Invalid {
            var: var.to_owned(),
            value: json.to_owned(),
            reason: format!(
                "expected a list of {{bucket?, prefix?, suffix?, type, priority?, payload?}}: {e}"
            ),
        })
    }

    /// Every rule names a job type the deployment runs.
    pub fn check_types(&self, known: &std::collections::BTreeSet<String>) -> Result<(), ConfigError> {
        match self.rules.iter().find(|r| !known.contains(&r.job_type)) {
            Some(rule) => Err(ConfigError::Invalid {
                var: "JOBQ_INGEST_RULES".into(),
                value: rule.job_type.clone(),
                reason: "no such job type is registered".into(),
            }),
            None => Ok(()),
        }
    }

    pub fn route(&self, bucket: &str, key: &str) -> Option<&IngestRule> {
        self.rules.iter().find(|r| {
            r.bucket.as_deref().is_none_or(|b| b == bucket)
                && r.prefix.as_deref().is_none_or(|p| key.starts_with(p))
                && r.suffix.as_deref().is_none_or(|s| key.ends_with(s))
        })
    }
}

/// One created object, as the notification describes it (key decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Option<String>,
}

impl CreatedObject {
    /// The job for this object under `rule`: payload = rule's template + the object's fields.
    pub fn job(&self, rule: &IngestRule) -> NewJob {
        let mut payload = rule.payload.clone();
        payload.insert("bucket".into(), Value::from(self.bucket.clone()));
        payload.insert("key".into(), Value::from(self.key.clone()));
        payload.insert("size".into(), self.size.map(Value::from).unwrap_or(Value::Null));
        payload.insert("etag".into(), self.etag.clone().map(Value::from).unwrap_or(Value::Null));
        payload.insert("version_id".into(), self.version_id.clone().map(Value::from).unwrap_or(Value::Null));
        let version =
            self.version_id.as_deref().or(self.etag.as_deref()).or(self.sequencer.as_deref()).unwrap_or("");
        NewJob {
            job_type: rule.job_type.clone(),
            payload: Value::Object(payload),
            priority: rule.priority,
            idempotency_key: Some(format!("s3:{}/{}@{version}", self.bucket, self.key)),
            max_attempts: rule.max_attempts,
            timeout_seconds: rule.timeout_seconds,
            ..NewJob::default()
        }
    }
}

/// What an ingest message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Sent by S3 when notifications are configured: nothing to do.
    Test,
    Objects(Vec<CreatedObject>),
}

/// Why an ingest message is not an S3 notification. Every refusal of a JSON object names the
/// field at fault, as a path (`Records[0].s3.object.key`): [`NotificationError::field`].
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("not an S3 notification: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("not an S3 notification: {field} {reason}")]
    Field { field: String, reason: String },
    #[error("object key {0:?} is not valid URL-encoded UTF-8")]
    BadKey(String),
}

impl NotificationError {
    /// The field at fault, when the message was JSON.
    pub fn field(&self) -> Option<&str> {
        match self {
            NotificationError::Field { field, .. } => Some(field),
            NotificationError::Malformed(_) | NotificationError::BadKey(_) => None,
        }
    }
}

/// Keys in S3 events are form-encoded: `+` is a space, `%XX` bytes of UTF-8.
pub fn decode_key(raw: &str) -> Result<String, NotificationError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| NotificationError::BadKey(raw.to_owned()))
}

fn refuse(field: impl Into<String>, reason: impl Into<String>) -> NotificationError {
    NotificationError::Field { field: field.into(), reason: reason.into() }
}

/// The object at `path` in `value`, or the refusal naming it.
fn object<'v>(value: Option<&'v Value>, path: &str) -> Result<&'v Map<String, Value>, NotificationError> {
    match value {
        Some(Value::Object(map)) => Ok(map),
        None | Some(Value::Null) => Err(refuse(path, "is missing")),
        Some(_) => Err(refuse(path, "must be an object")),
    }
}

fn string(map: &Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, NotificationError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(refuse(format!("{path}.{name}"), "must be a string")),
    }
}

fn required(map: &Map<String, Value>, name: &str, path: &str) -> Result<String, NotificationError> {
    string(map, name, path)?.ok_or_else(|| refuse(format!("{path}.{name}"), "is missing"))
}

impl Notification {
    /// Field by field, so a refusal says which field is wrong. Records of other events
    /// (removals, ...) are skipped; unknown fields are ignored.
    pub fn parse(body: &str) -> Result<Notification, NotificationError> {
        let value: Value = serde_json::from_str(body)?;
        let root = value.as_object().ok_or_else(|| refuse("(body)", "must be a JSON object"))?;
        match root.get("Event") {
            Some(Value::String(event)) if event == "s3:TestEvent" => return Ok(Notification::Test),
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(refuse("Event", "must be a string")),
        }
        let records = match root.get("Records") {
            Some(Value::Array(records)) => records,
            None | Some(Value::Null) => {
                return Err(refuse("Records", "is missing (and this is not a test event)"));
            }
            Some(_) => return Err(refuse("Records", "must be an array")),
        };
        let mut objects = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let path = format!("Records[{i}]");
            let record = object(Some(record), &path)?;
            let event = string(record, "eventName", &path)?;
            if !event.as_deref().unwrap_or("").starts_with("ObjectCreated") {
                continue;
            }
            let s3_path = format!("{path}.s3");
            let s3 = object(record.get("s3"), &s3_path)?;
            let bucket_path = format!("{s3_path}.bucket");
            let bucket = required(object(s3.get("bucket"), &bucket_path)?, "name", &bucket_path)?;
            let object_path = format!("{s3_path}.object");
            let raw = object(s3.get("object"), &object_path)?;
            let key_path = format!("{object_path}.key");
            let key = decode_key(&required(raw, "key", &object_path)?)
                .map_err(|_| refuse(&key_path, "is not valid URL-encoded UTF-8"))?;
            let size = match raw.get("size") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    refuse(format!("{object_path}.size"), "must be a whole number of bytes")
                })?),
            };
            objects.push(CreatedObject {
                bucket,
                key,
                size,
                etag: string(raw, "eTag", &object_path)?,
                version_id: string(raw, "versionId", &object_path)?.filter(|v| !v.is_empty() && v != "null"),
                sequencer: string(raw, "sequencer", &object_path)?,
            });
        }
        Ok(Notification::Objects(objects))
    }
}

/// The ingest function's handler.
#[derive(Debug, Clone)]
pub struct IngestHandler {
    service: JobService,
    rules: IngestRules,
    sqs: aws_sdk_sqs::Client,
    dlq_url: Option<String>,
}

impl IngestHandler {
    pub fn new(
        service: JobService,
        rules: IngestRules,
        sqs: aws_sdk_sqs::Client,
        dlq_url: Option<String>,
    ) -> Self {
        IngestHandler { service, rules, sqs, dlq_url }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let results: Vec<(String, bool)> = futures::stream::iter(event.records)
            .map(|record: SqsMessage| async move {
                let ok = self.record(&record).await;
                (record.message_id.unwrap_or_default(), ok)
            })
            .buffer_unordered(10)
            .collect()
            .await;
        crate::worker::batch_response(results.into_iter().filter(|(_, ok)| !ok).map(|(id, _)| id))
    }

    /// `true` when the message is done with (jobs created, or nothing to create).
    async fn record(&self, record: &SqsMessage) -> bool {
        let body = record.body.as_deref().unwrap_or_default();
        let objects = match Notification::parse(body) {
            Ok(Notification::Test) => {
                info!("S3 test event acknowledged");
                return true;
            }
            Ok(Notification::Objects(objects)) => objects,
            Err(err) => {
                error!(error = %err, "poison ingest message");
                return self.dead_letter(body, &format!("poison_message: {err}")).await;
            }
        };
        for object in objects {
            let Some(rule) = self.rules.route(&object.bucket, &object.key) else {
                info!(bucket = %object.bucket, key = %object.key, "no ingest rule matches: skipped");
                continue;
            };
            match self.service.enqueue_once(object.job(rule)).await {
                Ok(Some(job)) => {
                    info!(job_id = %job.id, job_type = %job.job_type, key = %object.key, "upload enqueued")
                }
                Ok(None) => info!(key = %object.key, "upload already enqueued (duplicate notification)"),
                Err(ServiceError::Store(crate::store::StoreError::Corrupt { .. })) => {}
                Err(err) => {
                    warn!(error = %err, key = %object.key, "could not enqueue the upload; the notification will return");
                    return false;
                }
            }
        }
        true
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> bool {
        let Some(url) = &self.dlq_url else { return true };
        match crate::queue::send_with_reason(&self.sqs, url, body, reason).await {
            Ok(()) => true,
            Err(err) => {
                error!(error = %err, "could not reach the ingest DLQ; the message will return");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proptest_support::{config, re, text};
    use proptest::prelude::*;
    use serde_json::json;

    /// Any JSON value, a few levels deep.
    fn json_value() -> BoxedStrategy<Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            text(0..13).prop_map(Value::from),
            prop_oneof![Just("ObjectCreated:Put"), Just("s3:TestEvent"), Just("a%2Fb"), Just("%FF")]
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 12, 3, |inner| {
            let key = prop_oneof![
                Just("Records".to_owned()),
                Just("eventName".to_owned()),
                Just("s3".to_owned()),
                Just("bucket".to_owned()),
                Just("name".to_owned()),
                Just("object".to_owned()),
                Just("key".to_owned()),
                Just("size".to_owned()),
                Just("Event".to_owned()),
                re("[a-zA-Z]{1,6}"),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// A key as S3 puts it in an event: form-encoded, spaces as `+`.
    fn form_encode(key: &str) -> String {
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%20", "+")
    }

    fn record(bucket: &str, key: &str, size: u64, etag: &str) -> Value {
        let object = json!({"key": form_encode(key), "size": size, "eTag": etag, "sequencer": "0A"});
        json!({"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
               "s3": {"bucket": {"name": bucket}, "object": object}})
    }

    fn records() -> impl Strategy<Value = Vec<(String, String, u64, String)>> {
        prop::collection::vec((re("[a-z0-9.-]{3,20}"), text(1..31), any::<u64>(), re("[0-9a-f]{8}")), 1..4)
    }

    /// Paths (below `Records[i]`) of the fields a created-object record is checked for, and
    /// whether leaving one out is an error.
    const PATHS: [(&str, bool); 10] = [
        ("eventName", false),
        ("s3", true),
        ("s3.bucket", true),
        ("s3.bucket.name", true),
        ("s3.object", true),
        ("s3.object.key", true),
        ("s3.object.size", false),
        ("s3.object.eTag", false),
        ("s3.object.versionId", false),
        ("s3.object.sequencer", false),
    ];

    /// A value wrong for the field at `path`.
    fn wrong_value(path: &'static str) -> BoxedStrategy<Value> {
        let not_null = json_value().prop_filter("not null", |v| !v.is_null());
        match path {
            "s3" | "s3.bucket" | "s3.object" => {
                not_null.prop_filter("not an object", |v| !v.is_object()).boxed()
            }
            "s3.object.size" => not_null.prop_filter("not a size", |v| !v.is_u64()).boxed(),
            "s3.object.key" => prop_oneof![
                not_null.clone().prop_filter("not a string", |v| !v.is_string()),
                Just(Value::from("in/%FF%FE.pdf")),
            ]
            .boxed(),
            _ => not_null.prop_filter("not a string", |v| !v.is_string()).boxed(),
        }
    }

    /// Valid records with one field of record `i` wrong (or missing): the body and the path.
    fn one_field_wrong() -> impl Strategy<Value = (String, String)> {
        (records(), prop::sample::select(PATHS.to_vec()), any::<prop::sample::Index>()).prop_flat_map(
            |(objects, (path, required), index)| {
                let list: Vec<Value> = objects.iter().map(|(b, k, n, e)| record(b, k, *n, e)).collect();
                let i = index.index(list.len());
                let field = format!("Records[{i}].{path}");
                let set = move |wrong: Option<Value>| {
                    let mut list = list.clone();
                    let (parents, leaf) = match path.rsplit_once('.') {
                        Some((parents, leaf)) => (parents.split('.').collect::<Vec<_>>(), leaf),
                        None => (Vec::new(), path),
                    };
                    let mut at = &mut list[i];
                    for parent in parents {
                        at = &mut at[parent];
                    }
                    if let Value::Object(map) = at {
                        match wrong {
                            Some(value) => map.insert(leaf.to_owned(), value),
                            None => map.remove(leaf),
                        };
                    }
                    json!({"Records": list}).to_string()
                };
                let wrong = if required {
                    prop_oneof![Just(None), wrong_value(path).prop_map(Some)].boxed()
                } else {
                    wrong_value(path).prop_map(Some).boxed()
                };
                (wrong.prop_map(set), Just(field))
            },
        )
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn created_objects_parse_with_their_keys_decoded(objects in records()) {
            let list: Vec<Value> = objects.iter().map(|(b, k, n, e)| record(b, k, *n, e)).collect();
            let body = json!({"Records": list}).to_string();
            let Notification::Objects(parsed) = Notification::parse(&body).expect("valid") else {
                return Err(TestCaseError::fail("objects expected"));
            };
            prop_assert_eq!(parsed.len(), objects.len());
            for (got, (bucket, key, size, etag)) in parsed.iter().zip(&objects) {
                prop_assert_eq!(
                    (&got.bucket, &got.key, got.size, got.etag.as_deref()),
                    (bucket, key, Some(*size), Some(etag.as_str()))
                );
            }
        }

        #[test]
        fn one_wrong_field_is_refused_naming_its_path((body, field) in one_field_wrong()) {
            let err = Notification::parse(&body).expect_err("one field is wrong");
            prop_assert_eq!(err.field(), Some(field.as_str()), "{}: {}", body, err);
            prop_assert!(err.to_string().contains(&field), "{}", err);
        }

        #[test]
        fn arbitrary_bodies_never_panic_and_objects_get_a_field(
            body in prop_oneof![text(0..64), json_value().prop_map(|v| v.to_string())],
        ) {
            if let Err(err) = Notification::parse(&body) {
                prop_assert!(!err.to_string().is_empty());
                let is_json = serde_json::from_str::<Value>(&body).is_ok();
                prop_assert_eq!(err.field().is_some(), is_json, "{}: {}", body, err);
                if let Some(field) = err.field() {
                    prop_assert!(err.to_string().contains(field), "{}", err);
                }
            }
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let err = Notification::parse(r#"{"Records": {}}"#).expect_err("not a list");
        assert_eq!(err.to_string(), "not an S3 notification: Records must be an array");
        let s3 = json!({"bucket": {"name": "b"}, "object": {"key": 7}});
        let body = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": s3}]});
        let err = Notification::parse(&body.to_string()).expect_err("key");
        assert_eq!(err.field(), Some("Records[0].s3.object.key"));
        let err = Notification::parse("[]").expect_err("list");
        assert_eq!(err.field(), Some("(body)"));
    }

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(decode_key("in%2FMy+Report+%281%29.pdf").expect("ok"), "in/My Report (1).pdf");
        assert_eq!(decode_key("in%2Fvid%C3%A9o+clip.mp4").expect("ok"), "in/vidéo clip.mp4");
        assert_eq!(decode_key("a%2Bb").expect("ok"), "a+b", "an encoded plus stays a plus");
        assert!(decode_key("bad%FF%FE").is_err());
    }

    #[test]
    fn notifications_parse_test_events_and_created_objects() {
        assert_eq!(
            Notification::parse(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#)
                .expect("test"),
            Notification::Test
        );
        let body = r#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"x+y","size":3,"eTag":"e1"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"gone"}}}]}"#;
        let Notification::Objects(objects) = Notification::parse(body).expect("records") else {
            panic!("objects")
        };
        assert_eq!(objects.len(), 1, "only creations");
        assert_eq!(
            (objects[0].key.as_str(), objects[0].size, objects[0].etag.as_deref()),
            ("x y", Some(3), Some("e1"))
        );
        assert!(Notification::parse("not json").is_err());
        assert!(Notification::parse("{}").is_err());
    }

    #[test]
    fn rules_route_by_bucket_prefix_and_suffix_and_build_the_job() {
        let rules = IngestRules::parse(
            "T",
            r#"[{"prefix":"in/","suffix":".pdf","type":"ocr","priority":"high","payload":{"lang":"en","key":"ignored"}},
                {"bucket":"media","type":"transcode"}]"#,
        )
        .expect("valid");
        assert_eq!(rules.route("any", "in/a.pdf").map(|r| r.job_type.as_str()), Some("ocr"));
        assert_eq!(rules.route("media", "in/a.mp4").map(|r| r.job_type.as_str()), Some("transcode"));
        assert_eq!(rules.route("other", "in/a.mp4"), None);
        let object = CreatedObject {
            bucket: "b".into(),
            key: "in/a.pdf".into(),
            size: Some(10),
            etag: Some("e".into()),
            version_id: None,
            sequencer: None,
        };
        let job = object.job(rules.route("b", "in/a.pdf").expect("rule"));
        assert_eq!(job.payload["key"], "in/a.pdf", "the object's fields win over the template");
        assert_eq!(job.payload["lang"], "en");
        assert_eq!(job.idempotency_key.as_deref(), Some("s3:b/in/a.pdf@e"));
        assert_eq!(job.priority, Priority::HIGH);
        let versioned = CreatedObject { version_id: Some("v2".into()), ..object };
        assert_eq!(versioned.job(&rules.rules[0]).idempotency_key.as_deref(), Some("s3:b/in/a.pdf@v2"));
        assert!(IngestRules::parse("T", r#"[{"type":"x","colour":1}]"#).is_err());
    }
}
