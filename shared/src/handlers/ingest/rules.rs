//! Routing rules: which uploaded objects become which jobs.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::CreatedObject;
use crate::config::{ConfigError, Vars, process_env};
use crate::domain::caller::SystemCaller;
use crate::domain::model::NewJob;
use crate::domain::payload::JobTypes;
use crate::domain::priority::Priority;

/// What `JOBQ_INGEST_RULES` holds, for refusals.
const EXPECTED_RULES: &str = "a list of {bucket?, prefix?, suffix?, type, priority?, payload?}";

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
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(lookup);
        if let Some(rules) = vars.json("JOBQ_INGEST_RULES", EXPECTED_RULES)? {
            return Ok(IngestRules { rules });
        }
        let Some(path) = vars.optional("JOBQ_INGEST_RULES_FILE") else { return Ok(IngestRules::default()) };
        let json = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::invalid("JOBQ_INGEST_RULES_FILE", path.clone(), e.to_string()))?;
        Self::parse("JOBQ_INGEST_RULES_FILE", &json)
    }

    pub fn parse(var: &str, json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json)
            .map(|rules| IngestRules { rules })
            .map_err(|e| ConfigError::invalid(var, json, format!("expected {EXPECTED_RULES}: {e}")))
    }

    /// Every rule names a job type the deployment runs, and makes payloads that fit it: the
    /// job of a sample upload under each rule is checked, so a rule whose every job would be
    /// refused stops the start, naming the rule and the field.
    pub fn check_types(&self, known: &JobTypes) -> Result<(), ConfigError> {
        for (i, rule) in self.rules.iter().enumerate() {
            let sample = CreatedObject {
                bucket: rule.bucket.clone().unwrap_or_else(|| "bucket".to_owned()),
                key: format!(
                    "{}object{}",
                    rule.prefix.as_deref().unwrap_or(""),
                    rule.suffix.as_deref().unwrap_or("")
                ),
                size: Some(0),
                etag: Some("etag".to_owned()),
                version_id: None,
                sequencer: None,
                event_time: None,
            };
            if let Err(refusal) = known.check_job(&sample.job(rule)) {
                return Err(ConfigError::invalid(
                    "JOBQ_INGEST_RULES",
                    rule.job_type.clone(),
                    format!("rules[{i}]: {refusal}"),
                ));
            }
        }
        Ok(())
    }

    pub fn route(&self, bucket: &str, key: &str) -> Option<&IngestRule> {
        self.rules.iter().find(|r| {
            r.bucket.as_deref().is_none_or(|b| b == bucket)
                && r.prefix.as_deref().is_none_or(|p| key.starts_with(p))
                && r.suffix.as_deref().is_none_or(|s| key.ends_with(s))
        })
    }
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
        NewJob {
            job_type: rule.job_type.clone(),
            payload: Value::Object(payload),
            priority: rule.priority,
            idempotency_key: Some(format!("s3:{}/{}@{}", self.bucket, self.key, self.upload())),
            owner: Some(SystemCaller::Ingest.owner().to_owned()),
            created_by: Some(SystemCaller::Ingest.owner().to_owned()),
            max_attempts: rule.max_attempts,
            timeout_seconds: rule.timeout_seconds,
            ..NewJob::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::ingest::CreatedObject;

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
            event_time: None,
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

    /// The idempotency key of the job made of the one object `record` describes.
    fn key_of(record: serde_json::Value) -> String {
        let body = serde_json::json!({"Records": [record]}).to_string();
        let Ok(super::super::Notification::Objects(objects)) = super::super::Notification::parse(&body)
        else {
            panic!("one created object: {body}")
        };
        let rules = IngestRules::parse("T", r#"[{"type":"ocr"}]"#).expect("valid");
        objects[0].job(&rules.rules[0]).idempotency_key.expect("a key")
    }

    fn upload(object: serde_json::Value, time: &str) -> serde_json::Value {
        serde_json::json!({"eventName": "ObjectCreated:Put", "eventTime": time,
            "s3": {"bucket": {"name": "b"}, "object": object}})
    }

    /// Each upload is a job, even of the same bytes under the same key (the same ETag); a
    /// notification delivered twice (the same event: the same sequencer, version and time) is
    /// one. S3's `sequencer` is unique and increasing per PUT or DELETE on a key, and `versionId`
    /// names the version in a versioned bucket:
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    #[test]
    fn each_upload_is_its_own_job_and_a_duplicate_notification_is_the_same_one() {
        use serde_json::json;
        let t1 = "2026-12-07T03:00:00.000Z";
        let t2 = "2026-12-07T03:00:05.000Z";
        let put = |sequencer: &str, time: &str| {
            upload(json!({"key": "in/a.pdf", "size": 3, "eTag": "e1", "sequencer": sequencer}), time)
        };
        assert_eq!(key_of(put("0A1", t1)), key_of(put("0A1", t1)), "a duplicate delivery");
        assert_ne!(key_of(put("0A1", t1)), key_of(put("0A2", t2)), "the same bytes uploaded again");
        // Versioned: the version names the upload.
        let versioned = |version: &str, sequencer: &str| {
            let object =
                json!({"key": "in/a.pdf", "eTag": "e1", "versionId": version, "sequencer": sequencer});
            upload(object, t1)
        };
        assert_eq!(key_of(versioned("v1", "0A1")), key_of(versioned("v1", "0A1")));
        assert_ne!(key_of(versioned("v1", "0A1")), key_of(versioned("v2", "0A2")));
        // No sequencer nor version (the emulator, moto, sends neither): the ETag and the event's
        // time, which a duplicate delivery repeats and a later upload does not.
        let bare = |time: &str| upload(json!({"key": "in/a.pdf", "eTag": "e1"}), time);
        assert_eq!(key_of(bare(t1)), key_of(bare(t1)));
        assert_ne!(key_of(bare(t1)), key_of(bare(t2)));
        // Other keys or buckets are other jobs whatever their fields.
        assert_ne!(
            key_of(put("0A1", t1)),
            key_of(upload(json!({"key": "in/b.pdf", "sequencer": "0A1"}), t1))
        );
    }

    #[test]
    fn rules_come_from_the_variable_or_the_file_it_names() {
        let rules = r#"[{"prefix":"in/","type":"ocr"}]"#;
        let inline = IngestRules::from_lookup(|k| (k == "JOBQ_INGEST_RULES").then(|| rules.to_owned()));
        assert_eq!(inline.expect("inline").rules[0].job_type, "ocr");
        assert_eq!(IngestRules::from_lookup(|_| None), Ok(IngestRules::default()));

        let path = std::env::temp_dir().join(format!("jobq-rules-{}.json", std::process::id()));
        std::fs::write(&path, rules).expect("write the rules file");
        let file = path.display().to_string();
        let from_file = IngestRules::from_lookup(|k| (k == "JOBQ_INGEST_RULES_FILE").then(|| file.clone()));
        std::fs::remove_file(&path).expect("remove the rules file");
        assert_eq!(from_file.expect("from the file").rules[0].prefix.as_deref(), Some("in/"));

        let missing = IngestRules::from_lookup(|k| (k == "JOBQ_INGEST_RULES_FILE").then(|| file.clone()));
        let err = missing.expect_err("the file is gone");
        assert!(matches!(&err, ConfigError::Invalid { var, .. } if var == "JOBQ_INGEST_RULES_FILE"), "{err}");
        let bad =
            IngestRules::from_lookup(|k| (k == "JOBQ_INGEST_RULES").then(|| "[{\"type\": 1}]".to_owned()));
        let err = bad.expect_err("malformed");
        assert!(
            err.to_string().contains("JOBQ_INGEST_RULES") && err.to_string().contains("prefix?"),
            "{err}"
        );
    }
}
