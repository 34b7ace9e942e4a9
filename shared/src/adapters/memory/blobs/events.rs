//! S3 event notifications of the in-memory bucket ([`super::MemoryBlobs::notify`]): each object
//! created under a prefix is announced on an SQS queue, as a bucket's `s3:ObjectCreated:*`
//! notification configuration does.
//!
//! As S3 documents them: notifications are delivered at least once, "typically ... in seconds but
//! can sometimes take a minute or longer", and not in order: an event may come twice, late, and
//! after a later one (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html>).
//! Each event carries the object's `sequencer`, unique and increasing per key, its ETag and size,
//! and in a versioned bucket its `versionId`; every delivery of one event repeats them
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>).
//! How the next notifications arrive (twice, late) is set on demand
//! ([`super::MemoryBlobs::shape_next_notification`]); unset, each arrives once, at once.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::adapters::memory::MemoryQueues;
use crate::ports::Clock;

/// Where and how the bucket notifies.
#[derive(Debug, Clone)]
pub struct Notify {
    pub bucket: String,
    /// Only keys under this prefix notify (the template's filter: `uploads/`).
    pub prefix: String,
    pub queues: Arc<MemoryQueues>,
    /// The queue notified (the ingest queue).
    pub url: String,
    /// A versioned bucket: each object created gets a fresh `versionId`.
    pub versioned: bool,
    pub clock: Arc<dyn Clock>,
}

/// One object created under the prefix, as its notification describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedEvent {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub version_id: Option<String>,
    pub sequencer: String,
}

#[derive(Debug)]
pub(super) struct Events {
    pub(super) notify: Notify,
    /// Orders every event: S3's sequencer only orders events of one key, this is enough for that.
    sequence: u64,
    /// How the next notifications arrive: the delays of their copies, in seconds.
    shapes: VecDeque<Vec<i32>>,
    pub(super) created: Vec<CreatedEvent>,
}

impl Events {
    pub(super) fn new(notify: Notify) -> Self {
        Events { notify, sequence: 0, shapes: VecDeque::new(), created: Vec::new() }
    }

    pub(super) fn shape_next(&mut self, delays: Vec<i32>) {
        self.shapes.push_back(delays);
    }

    /// The event of `key` created with `body`, and the delays of its copies; none outside the prefix.
    pub(super) fn created(&mut self, key: &str, body: &[u8]) -> Option<(String, Vec<i32>)> {
        if !key.starts_with(&self.notify.prefix) {
            return None;
        }
        self.sequence += 1;
        let event = CreatedEvent {
            key: key.to_owned(),
            size: body.len() as u64,
            etag: etag(body),
            version_id: self.notify.versioned.then(|| format!("v{:010}", self.sequence)),
            sequencer: format!("{:016X}", self.sequence),
        };
        let record = self.record(&event);
        self.created.push(event);
        let delays = self.shapes.pop_front().filter(|d| !d.is_empty()).unwrap_or_else(|| vec![0]);
        Some((json!({ "Records": [record] }).to_string(), delays))
    }

    /// One record as S3 writes it, the key form-encoded (spaces as `+`).
    fn record(&self, event: &CreatedEvent) -> Value {
        let key =
            percent_encoding::utf8_percent_encode(&event.key, KEY_ESCAPES).to_string().replace("%20", "+");
        let mut object =
            json!({"key": key, "size": event.size, "eTag": event.etag, "sequencer": event.sequencer});
        if let Some(version) = &event.version_id {
            object["versionId"] = Value::from(version.clone());
        }
        let bucket = &self.notify.bucket;
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": crate::domain::model::format_time(self.notify.clock.now()),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:UPLOADER"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
                   "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                   "object": object},
        })
    }
}

/// What a key escapes in an event: everything but letters, digits and `/ - _ . ~`.
const KEY_ESCAPES: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A single PUT's ETag is the MD5 of its bytes; a stable 128-bit hash (FNV-1a) stands in for it:
/// the same bytes give the same ETag, other bytes another.
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, b| {
        (h ^ u128::from(*b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b)
    });
    format!("{hash:032x}")
}
