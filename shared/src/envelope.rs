//! The SQS message body: a small, versioned pointer at the job record.
//!
//! The record is the source of truth; a worker checks everything an envelope claims against it.
//! `gen` lets a worker drop deliveries sent before the job was retried from the API.

use serde::{Deserialize, Serialize};

use crate::priority::PriorityTier;

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
}

/// Why a message body is not an envelope: the message is poison and goes to the dead-letter path.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message body is not a job envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("envelope version {0} is not supported (this worker reads version {ENVELOPE_VERSION})")]
    UnsupportedVersion(u32),
    #[error("envelope has an empty {0}")]
    Empty(&'static str),
}

impl Envelope {
    pub fn new(
        id: impl Into<String>,
        job_type: impl Into<String>,
        tier: PriorityTier,
        generation: u64,
    ) -> Self {
        Envelope { v: ENVELOPE_VERSION, id: id.into(), job_type: job_type.into(), tier, generation }
    }

    pub fn encode(&self) -> String {
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(body: &str) -> Result<Self, EnvelopeError> {
        let envelope: Envelope = serde_json::from_str(body)?;
        if envelope.v != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(envelope.v));
        }
        if envelope.id.is_empty() {
            return Err(EnvelopeError::Empty("id"));
        }
        if envelope.job_type.is_empty() {
            return Err(EnvelopeError::Empty("type"));
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tier() -> impl Strategy<Value = PriorityTier> {
        prop_oneof![Just(PriorityTier::High), Just(PriorityTier::Normal), Just(PriorityTier::Low)]
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(id in "\\PC{1,64}", job_type in "\\PC{1,40}", tier in tier(), generation in any::<u64>()) {
            let envelope = Envelope::new(id, job_type, tier, generation);
            let body = envelope.encode();
            prop_assert!(body.len() < 512, "envelope stays small: {}", body.len());
            prop_assert_eq!(Envelope::decode(&body).expect("decodes"), envelope);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let _ = Envelope::decode(&body);
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
        assert!(matches!(
            Envelope::decode(r#"{"v":2,"id":"a","type":"noop","tier":"low","gen":0}"#),
            Err(EnvelopeError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            Envelope::decode(r#"{"v":1,"id":"","type":"noop","tier":"low","gen":0}"#),
            Err(EnvelopeError::Empty("id"))
        ));
        assert!(matches!(
            Envelope::decode(r#"{"v":1,"id":"a","type":"noop","tier":"urgent","gen":0}"#),
            Err(EnvelopeError::Malformed(_))
        ));
    }
}
