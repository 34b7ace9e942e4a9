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

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("not an S3 notification: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("object key {0:?} is not valid URL-encoded UTF-8")]
    BadKey(String),
}

// Our own shapes: only the fields we need, all optional where emulators leave them out.
#[derive(Deserialize)]
struct RawNotification {
    #[serde(rename = "Records")]
    records: Option<Vec<RawRecord>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    event_name: Option<String>,
    s3: RawS3,
}

#[derive(Deserialize)]
struct RawS3 {
    bucket: RawBucket,
    object: RawObject,
}

#[derive(Deserialize)]
struct RawBucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// Keys in S3 events are form-encoded: `+` is a space, `%XX` bytes of UTF-8.
pub fn decode_key(raw: &str) -> Result<String, NotificationError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| NotificationError::BadKey(raw.to_owned()))
}

impl Notification {
    pub fn parse(body: &str) -> Result<Notification, NotificationError> {
        let raw: RawNotification = serde_json::from_str(body)?;
        if raw.event.as_deref() == Some("s3:TestEvent") {
            return Ok(Notification::Test);
        }
        let Some(records) = raw.records else {
            return Err(NotificationError::Malformed(serde::de::Error::custom(
                "no Records and no test Event",
            )));
        };
        let mut objects = Vec::new();
        for record in records {
            if !record.event_name.as_deref().unwrap_or("").starts_with("ObjectCreated") {
                continue;
            }
            objects.push(CreatedObject {
                bucket: record.s3.bucket.name,
                key: decode_key(&record.s3.object.key)?,
                size: record.s3.object.size,
                etag: record.s3.object.e_tag,
                version_id: record.s3.object.version_id.filter(|v| !v.is_empty() && v != "null"),
                sequencer: record.s3.object.sequencer,
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
