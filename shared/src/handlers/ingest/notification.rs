//! S3 event notifications as they arrive on the ingest queue, decoded field by field so every
//! refusal names the field at fault; the bucket and object are decoded with aws_lambda_events'
//! S3 types.

use aws_lambda_events::event::s3::{S3Bucket, S3Object};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One created object, as the notification describes it (key decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Option<String>,
    /// The record's `eventTime`: the same in every delivery of one event.
    pub event_time: Option<String>,
}

impl CreatedObject {
    /// What tells this upload from every other of its key, the same in every delivery of its
    /// notification. S3 gives each PUT (or DELETE) on a key a `sequencer`, unique and increasing
    /// per key, and in a versioned bucket a `versionId`; a duplicate delivery repeats both
    /// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
    /// Without either (moto sends neither), the ETag and the event's time; without a time too, the
    /// ETag alone, and the same bytes uploaded again are then taken for the same upload.
    pub fn upload(&self) -> String {
        let etag = self.etag.as_deref().unwrap_or("");
        match (&self.version_id, &self.sequencer, &self.event_time) {
            (Some(version), _, _) => version.clone(),
            (None, Some(sequencer), _) => format!("seq:{sequencer}"),
            (None, None, Some(time)) => format!("{etag}@{time}"),
            (None, None, None) => etag.to_owned(),
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

/// The JSON shape of a field of the aws_lambda_events types decoded here.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Text,
    /// `{principalId}`
    Identity,
}

const BUCKET_FIELDS: &[(&str, Shape)] =
    &[("name", Shape::Text), ("arn", Shape::Text), ("ownerIdentity", Shape::Identity)];
const OBJECT_FIELDS: &[(&str, Shape)] = &[
    ("key", Shape::Text),
    ("urlDecodedKey", Shape::Text),
    ("versionId", Shape::Text),
    ("eTag", Shape::Text),
    ("sequencer", Shape::Text),
];
const IDENTITY_FIELDS: &[(&str, Shape)] = &[("principalId", Shape::Text)];

/// The first of `fields` in `map` whose value has the wrong shape, as a refusal naming it.
fn misfit(map: &Map<String, Value>, path: &str, fields: &[(&str, Shape)]) -> Option<NotificationError> {
    fields.iter().find_map(|(name, shape)| {
        let field = format!("{path}.{name}");
        match (shape, map.get(*name)) {
            (_, None | Some(Value::Null)) | (Shape::Text, Some(Value::String(_))) => None,
            (Shape::Text, Some(_)) => Some(refuse(field, "must be a string")),
            (Shape::Identity, Some(Value::Object(identity))) => misfit(identity, &field, IDENTITY_FIELDS),
            (Shape::Identity, Some(_)) => Some(refuse(field, "must be an object")),
        }
    })
}

/// `map` decoded as `T`; when serde refuses it, the refusal names the field at fault.
fn typed<T: DeserializeOwned>(
    map: &Map<String, Value>,
    path: &str,
    fields: &[(&str, Shape)],
) -> Result<T, NotificationError> {
    serde_json::from_value(Value::Object(map.clone())).map_err(|err| {
        misfit(map, path, fields).unwrap_or_else(|| refuse(path, format!("does not decode: {err}")))
    })
}

/// The created object of one record's `s3` entity, at `path` (`Records[i].s3`).
fn created_object(
    s3: Option<&Value>,
    path: &str,
    event_time: Option<String>,
) -> Result<CreatedObject, NotificationError> {
    let s3 = object(s3, path)?;
    let bucket_path = format!("{path}.bucket");
    let bucket: S3Bucket = typed(object(s3.get("bucket"), &bucket_path)?, &bucket_path, BUCKET_FIELDS)?;
    let bucket = bucket.name.ok_or_else(|| refuse(format!("{bucket_path}.name"), "is missing"))?;
    let object_path = format!("{path}.object");
    let raw = object(s3.get("object"), &object_path)?;
    let size = match raw.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| refuse(format!("{object_path}.size"), "must be a whole number of bytes"))?,
        ),
    };
    // S3Object reads `size` as i64; it is read above as u64, as S3 reports it, and left out here.
    let mut rest = raw.clone();
    rest.remove("size");
    let decoded: S3Object = typed(&rest, &object_path, OBJECT_FIELDS)?;
    let key_path = format!("{object_path}.key");
    let key = decoded.key.ok_or_else(|| refuse(&key_path, "is missing"))?;
    Ok(CreatedObject {
        bucket,
        key: decode_key(&key).map_err(|_| refuse(&key_path, "is not valid URL-encoded UTF-8"))?,
        size,
        etag: decoded.e_tag,
        version_id: decoded.version_id.filter(|v| !v.is_empty() && v != "null"),
        sequencer: decoded.sequencer.filter(|s| !s.is_empty()),
        event_time,
    })
}

impl Notification {
    /// Field by field, so a refusal says which field is wrong. Records of other events
    /// (removals, ...) are skipped; unknown fields are ignored. Records are not decoded as
    /// `S3EventRecord`, which requires fields this decoder does not read (`eventTime`,
    /// `userIdentity`, `requestParameters`).
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
            if event.as_deref().unwrap_or("").starts_with("ObjectCreated") {
                let time = string(record, "eventTime", &path)?;
                objects.push(created_object(record.get("s3"), &format!("{path}.s3"), time)?);
            }
        }
        Ok(Notification::Objects(objects))
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
    const PATHS: [(&str, bool); 11] = [
        ("eventName", false),
        ("eventTime", false),
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
    fn mistyped_fields_of_the_s3_types_are_named() {
        let cases = [
            (json!({"name": "b", "arn": 5}), json!({"key": "k"}), "Records[0].s3.bucket.arn"),
            (
                json!({"name": "b", "ownerIdentity": "me"}),
                json!({"key": "k"}),
                "Records[0].s3.bucket.ownerIdentity",
            ),
            (
                json!({"name": "b", "ownerIdentity": {"principalId": 1}}),
                json!({"key": "k"}),
                "Records[0].s3.bucket.ownerIdentity.principalId",
            ),
            (
                json!({"name": "b"}),
                json!({"key": "k", "urlDecodedKey": []}),
                "Records[0].s3.object.urlDecodedKey",
            ),
        ];
        for (bucket, object, field) in cases {
            let s3 = json!({"bucket": bucket, "object": object});
            let body = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": s3}]}).to_string();
            let err = Notification::parse(&body).expect_err(field);
            assert_eq!(err.field(), Some(field), "{err}");
        }
        // aws_lambda_events reads sizes as i64; a larger whole number is still a size here.
        let s3 = json!({"bucket": {"name": "b", "arn": "arn:aws:s3:::b"}, "object": {"key": "k", "size": u64::MAX}});
        let body = json!({"Records": [{"eventName": "ObjectCreated:Copy", "s3": s3}]}).to_string();
        let Notification::Objects(objects) = Notification::parse(&body).expect("valid") else {
            panic!("objects")
        };
        assert_eq!((objects[0].bucket.as_str(), objects[0].size), ("b", Some(u64::MAX)));
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
}
