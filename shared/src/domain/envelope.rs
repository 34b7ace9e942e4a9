//! The SQS message body: a small, versioned pointer at the job record.
//!
//! The record is the source of truth; a worker checks everything an envelope claims against it.
//! `gen` lets a worker drop deliveries sent before the job was retried from the API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::priority::PriorityTier;

/// The envelope format version this build writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub tier: PriorityTier,
    #[serde(rename = "gen")]
    pub generation: u64,
    /// The run whose recorded outcome sent this message (a retry), when one did: says which run
    /// of the generation scheduled it. Older workers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The run named by `run` ended, but recording its outcome failed on AWS: the job is resumed
    /// in a new run on the same attempt, since an AWS failure must cost no attempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
    /// How many times AWS failed this delivery (throttled, unavailable), each time sent again:
    /// each wait doubles, so a long outage costs a waiting job a few requests, not one every
    /// few seconds. Older workers ignore it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub again: u32,
    /// With `resume`: the attempt the lost run was on. Were the job taken back from that run and
    /// claimed again meanwhile (a new attempt counted), this delivery tells the new run it stands
    /// for the lost one, so the outage costs no attempt. Older workers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A claim this delivery sent may have taken effect under this run token, its answer lost to
    /// AWS: the next delivery takes that run over on its attempt rather than count another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a message body is not an envelope: the message is poison and goes to the dead-letter path.
/// Every refusal of a JSON object names the field at fault ([`EnvelopeError::field`]).
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message body is not a job envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("message body is not a job envelope: expected a JSON object")]
    NotAnObject,
    #[error("envelope version {0} is not supported (this worker reads version {ENVELOPE_VERSION})")]
    UnsupportedVersion(u64),
    #[error("envelope field {field} {reason}")]
    Field { field: &'static str, reason: &'static str },
}

impl EnvelopeError {
    /// The envelope field at fault, when the body was a JSON object.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EnvelopeError::UnsupportedVersion(_) => Some("v"),
            EnvelopeError::Field { field, .. } => Some(field),
            EnvelopeError::Malformed(_) | EnvelopeError::NotAnObject => None,
        }
    }
}

impl Envelope {
    pub fn new(
        id: impl Into<String>,
        job_type: impl Into<String>,
        tier: PriorityTier,
        generation: u64,
    ) -> Self {
        Envelope {
            v: ENVELOPE_VERSION,
            id: id.into(),
            job_type: job_type.into(),
            tier,
            generation,
            run: None,
            resume: false,
            again: 0,
            attempt: None,
            claimed: None,
        }
    }

    /// The same envelope, resuming a run that was on `attempt`.
    pub fn at_attempt(mut self, attempt: u32) -> Self {
        self.attempt = Some(attempt);
        self
    }

    /// The same envelope, asking to resume the run `run` whose outcome was lost.
    pub fn resuming(mut self, run: Option<String>) -> Self {
        self.resume = run.is_some();
        self.run = run;
        self
    }

    /// The same envelope, after AWS failed it once more.
    pub fn failed_again(mut self) -> Self {
        self.again = self.again.saturating_add(1);
        self
    }

    /// The run to resume, when this delivery asks for one.
    pub fn lost_run(&self) -> Option<&str> {
        self.run.as_deref().filter(|_| self.resume)
    }

    /// The same envelope, naming the run that sent it.
    pub fn with_run(mut self, run: Option<String>) -> Self {
        self.run = run;
        self
    }

    pub fn encode(&self) -> String {
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Field by field, so a refusal says which field is wrong and how. Other fields are ignored
    /// (a later version may add some).
    pub fn decode(body: &str) -> Result<Self, EnvelopeError> {
        let value: Value = serde_json::from_str(body)?;
        let map = value.as_object().ok_or(EnvelopeError::NotAnObject)?;
        let field = |field: &'static str, reason: &'static str| EnvelopeError::Field { field, reason };
        let number = |name: &'static str| match map.get(name) {
            None => Err(field(name, "is missing")),
            Some(v) => v.as_u64().ok_or_else(|| field(name, "must be a whole number")),
        };
        let text = |name: &'static str| match map.get(name) {
            None => Err(field(name, "is missing")),
            Some(Value::String(s)) if s.is_empty() => Err(field(name, "must not be empty")),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(field(name, "must be a string")),
        };
        let version = number("v")?;
        if version != u64::from(ENVELOPE_VERSION) {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let id = text("id")?;
        let job_type = text("type")?;
        let tier = text("tier")?.parse().map_err(|_| field("tier", "must be one of high, normal, low"))?;
        let generation = number("gen")?;
        let run = match map.get("run") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(field("run", "must be a non-empty string")),
        };
        let resume = match map.get("resume") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(field("resume", "must be true or false")),
        };
        let again = match map.get("again") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| field("again", "must be a whole number"))?,
        };
        let attempt = match map.get("attempt") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| field("attempt", "must be a whole number"))?,
            ),
        };
        let claimed = match map.get("claimed") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(field("claimed", "must be a non-empty string")),
        };
        Ok(Envelope {
            v: ENVELOPE_VERSION,
            id,
            job_type,
            tier,
            generation,
            run,
            resume,
            again,
            attempt,
            claimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proptest_support::{config, re, text};
    use proptest::prelude::*;
    use serde_json::{Map, json};

    const FIELDS: [&str; 5] = ["v", "id", "type", "tier", "gen"];

    fn tier() -> impl Strategy<Value = PriorityTier> {
        prop_oneof![Just(PriorityTier::High), Just(PriorityTier::Normal), Just(PriorityTier::Low)]
    }

    /// Any JSON value, a few levels deep.
    fn json_value() -> BoxedStrategy<Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            text(0..13).prop_map(Value::from),
            prop_oneof![Just("high"), Just("normal"), Just("low"), Just("")].prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 6, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(re("[a-z]{1,4}"), inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// A value that is wrong for `field`, whatever else it is.
    fn wrong_value(field: &'static str) -> BoxedStrategy<Value> {
        match field {
            "v" => prop_oneof![
                json_value().prop_filter("not a whole number", |v| !v.is_u64()),
                any::<u64>().prop_filter("not 1", |n| *n != 1).prop_map(Value::from),
            ]
            .boxed(),
            "gen" => json_value().prop_filter("not a whole number", |v| !v.is_u64()).boxed(),
            "tier" => json_value()
                .prop_filter("not a tier", |v| !matches!(v.as_str(), Some("high" | "normal" | "low")))
                .boxed(),
            _ => json_value()
                .prop_filter("not a non-empty string", |v| v.as_str().is_none_or(str::is_empty))
                .boxed(),
        }
    }

    fn valid() -> impl Strategy<Value = Map<String, Value>> {
        (re("[a-z0-9-]{1,40}"), re("[a-z]{1,12}"), tier(), any::<u64>()).prop_map(
            |(id, job_type, tier, generation)| match serde_json::to_value(Envelope::new(
                id, job_type, tier, generation,
            )) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
        )
    }

    /// A valid envelope with exactly one field wrong (or missing), and that field's name.
    fn one_field_wrong() -> impl Strategy<Value = (String, &'static str)> {
        (valid(), prop::sample::select(FIELDS.to_vec())).prop_flat_map(|(map, field)| {
            let removed = {
                let mut map = map.clone();
                map.remove(field);
                Just(Value::Object(map).to_string())
            };
            let replaced = wrong_value(field).prop_map(move |wrong| {
                let mut map = map.clone();
                map.insert(field.to_owned(), wrong);
                Value::Object(map).to_string()
            });
            (prop_oneof![removed, replaced], Just(field))
        })
    }

    #[test]
    fn a_resuming_envelope_names_its_lost_run_and_round_trips() {
        let plain = Envelope::new("j1", "ocr", PriorityTier::Low, 2);
        assert_eq!(plain.encode(), r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2}"#, "unchanged");
        let retry = plain.clone().with_run(Some("r1".into()));
        assert_eq!(retry.lost_run(), None, "a retry names its run but resumes nothing");
        let resume = plain.resuming(Some("r1".into()));
        assert_eq!(resume.lost_run(), Some("r1"));
        assert_eq!(Envelope::decode(&resume.encode()).expect("decodes"), resume);
        let bad = r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2,"resume":"yes"}"#;
        assert_eq!(Envelope::decode(bad).expect_err("not a bool").field(), Some("resume"));
        let on_attempt = resume.at_attempt(3);
        assert_eq!(Envelope::decode(&on_attempt.encode()).expect("decodes").attempt, Some(3));
        let claimed =
            Envelope { claimed: Some("r2".into()), ..Envelope::new("j1", "ocr", PriorityTier::Low, 2) };
        assert_eq!(Envelope::decode(&claimed.encode()).expect("decodes").claimed.as_deref(), Some("r2"));
        let bad = r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2,"attempt":-1}"#;
        assert_eq!(Envelope::decode(bad).expect_err("not a count").field(), Some("attempt"));
        let bad = r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2,"claimed":""}"#;
        assert_eq!(Envelope::decode(bad).expect_err("empty").field(), Some("claimed"));
    }

    #[test]
    fn a_delivery_aws_failed_counts_its_failures_and_round_trips() {
        let plain = Envelope::new("j1", "ocr", PriorityTier::Low, 2);
        let twice = plain.clone().failed_again().failed_again();
        assert_eq!(twice.again, 2);
        assert_eq!(twice.encode(), r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2,"again":2}"#);
        assert_eq!(Envelope::decode(&twice.encode()).expect("decodes"), twice);
        assert_eq!(Envelope::decode(&plain.encode()).expect("decodes").again, 0, "absent: never failed");
        let bad = r#"{"v":1,"id":"j1","type":"ocr","tier":"low","gen":2,"again":-1}"#;
        assert_eq!(Envelope::decode(bad).expect_err("not a count").field(), Some("again"));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(
            id in re("\\PC{1,64}"),
            job_type in re("\\PC{1,40}"),
            tier in tier(),
            generation in any::<u64>(),
        ) {
            let envelope = Envelope::new(id, job_type, tier, generation);
            let body = envelope.encode();
            prop_assert!(body.len() < 512, "envelope stays small: {}", body.len());
            prop_assert_eq!(Envelope::decode(&body).expect("decodes"), envelope);
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn one_wrong_field_is_refused_naming_it((body, field) in one_field_wrong()) {
            let err = Envelope::decode(&body).expect_err("one field is wrong");
            prop_assert_eq!(err.field(), Some(field), "{}: {}", body, err);
            prop_assert!(err.to_string().contains(field), "{}", err);
        }

        #[test]
        fn any_json_object_is_decoded_or_refused_naming_a_field(
            extra in prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), json_value(), 0..6),
            base in valid(),
            keep_base in any::<bool>(),
        ) {
            let mut map = if keep_base { base } else { Map::new() };
            map.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
            let body = Value::Object(map).to_string();
            match Envelope::decode(&body) {
                Ok(envelope) => {
                    prop_assert_eq!(Envelope::decode(&envelope.encode()).expect("re-decodes"), envelope)
                }
                Err(err) => {
                    let field = err.field();
                    let named = field.is_some_and(|f| FIELDS.contains(&f) && err.to_string().contains(f));
                    prop_assert!(named, "{}: {}", body, err);
                }
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic_and_objects_get_a_field(
            body in prop_oneof![text(0..64), json_value().prop_map(|v| v.to_string())],
        ) {
            if let Err(err) = Envelope::decode(&body) {
                prop_assert!(!err.to_string().is_empty());
                let is_object = serde_json::from_str::<Value>(&body).is_ok_and(|v| v.is_object());
                prop_assert_eq!(err.field().is_some(), is_object, "{}: {}", body, err);
            }
        }
    }

    #[test]
    fn wire_format_is_stable() {
        let body = Envelope::new("j1", "noop", PriorityTier::High, 2).encode();
        assert_eq!(body, r#"{"v":1,"id":"j1","type":"noop","tier":"high","gen":2}"#);
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        assert!(matches!(Envelope::decode("not json"), Err(EnvelopeError::Malformed(_))));
        assert!(matches!(Envelope::decode("[1]"), Err(EnvelopeError::NotAnObject)));
        assert!(matches!(
            Envelope::decode(r#"{"v":2,"id":"a","type":"noop","tier":"low","gen":0}"#),
            Err(EnvelopeError::UnsupportedVersion(2))
        ));
        let err =
            Envelope::decode(r#"{"v":1,"id":"","type":"noop","tier":"low","gen":0}"#).expect_err("empty");
        assert_eq!(err.to_string(), "envelope field id must not be empty");
        let err =
            Envelope::decode(r#"{"v":1,"id":"a","type":"noop","tier":"urgent","gen":0}"#).expect_err("tier");
        assert_eq!(err.to_string(), "envelope field tier must be one of high, normal, low");
        let err =
            Envelope::decode(r#"{"v":1,"id":"a","type":"noop","tier":"low","gen":-1}"#).expect_err("gen");
        assert_eq!(err.field(), Some("gen"));
        let err = Envelope::decode(&json!({"v": 1, "id": "a", "tier": "low", "gen": 0}).to_string())
            .expect_err("type");
        assert_eq!(err.to_string(), "envelope field type is missing");
        let extra = json!({"v": 1, "id": "a", "type": "noop", "tier": "low", "gen": 0, "trace": "x"});
        assert!(Envelope::decode(&extra.to_string()).is_ok(), "unknown fields are ignored");
    }
}
