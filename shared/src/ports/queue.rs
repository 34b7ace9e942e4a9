//! The message-queue port: SQS's standard-queue calls, one method to one request, addressed by
//! queue URL. `SqsMessageQueue` implements it over the SDK, `MemoryQueues` in memory; both are held
//! to one conformance suite (`tests/src/conformance/queue.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// SQS's limit on entries per batch request.
pub const SQS_BATCH_MAX: usize = 10;
/// The longest DelaySeconds SQS takes.
pub const MAX_DELAY_SECONDS: i32 = 900;
/// The longest visibility timeout SQS takes (12 hours), also the most a message may stay hidden
/// in total from the receive that hid it.
pub const MAX_VISIBILITY_SECONDS: i32 = 43_200;
/// Most messages one ReceiveMessage returns.
pub const MAX_RECEIVE: i32 = 10;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why SQS refused a request, by the error it answers with. Sending the same request again
/// fails again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A value out of range, or a parameter missing (SQS's `InvalidParameterValue` and the like,
    /// which have no error type of their own): a message over the queue's maximum size, an empty
    /// body, DelaySeconds beyond 900, a visibility timeout beyond 12 hours.
    InvalidRequest,
    /// `TooManyEntriesInBatchRequest`: more than ten entries.
    TooManyEntries,
    /// `BatchEntryIdsNotDistinct`: two entries with the same id.
    DuplicateEntryIds,
    /// `EmptyBatchRequest`.
    EmptyBatch,
    /// `InvalidBatchEntryId`: an id not of 1 to 80 letters, digits, `-` or `_`.
    InvalidEntryId,
    /// `BatchRequestTooLong`: the entries together are over the service's maximum.
    BatchTooLong,
    /// `InvalidMessageContents`: characters SQS does not carry.
    InvalidContents,
    /// `ReceiptHandleIsInvalid`: a receipt this queue never handed out, or of a deleted message.
    InvalidReceipt,
    /// `MessageNotInflight`: the message's visibility already ran out.
    NotInFlight,
    /// `QueueDoesNotExist`.
    NoSuchQueue,
}

/// A failed SQS call.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Throttling, a server error, or no answer: the same request may succeed later.
    #[error("SQS {operation} failed: {source}")]
    Transient {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// SQS refused the request itself.
    #[error("SQS {operation} failed ({refusal:?}): {source}")]
    Refused {
        operation: &'static str,
        refusal: Refusal,
        #[source]
        source: BoxError,
    },
}

impl QueueError {
    /// The same request may succeed if sent again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Transient { .. })
    }

    /// Why the request was refused, when it was.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            QueueError::Refused { refusal, .. } => Some(*refusal),
            QueueError::Transient { .. } => None,
        }
    }

    pub fn operation(&self) -> &'static str {
        match self {
            QueueError::Transient { operation, .. } | QueueError::Refused { operation, .. } => operation,
        }
    }

    pub(crate) fn refused(operation: &'static str, refusal: Refusal, why: impl Into<BoxError>) -> Self {
        QueueError::Refused { operation, refusal, source: why.into() }
    }

    pub(crate) fn transient(operation: &'static str, why: impl Into<BoxError>) -> Self {
        QueueError::Transient { operation, source: why.into() }
    }
}

/// One entry of a batch request that SQS refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// Position in the caller's slice.
    pub index: usize,
    pub code: String,
    pub message: String,
    /// SQS says the fault was the caller's: sending the same entry again will fail again.
    pub sender_fault: bool,
}

/// Approximate message counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A message as a poller or test receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    /// String message attributes (e.g. [`super::REASON_ATTRIBUTE`] on dead letters).
    pub attributes: HashMap<String, String>,
    /// When the queue accepted the message (SQS's `SentTimestamp`, to the millisecond), if known.
    pub sent_at: Option<DateTime<Utc>>,
}

/// One message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    pub body: String,
    /// 0..=900.
    pub delay_seconds: i32,
    /// String message attributes.
    pub attributes: HashMap<String, String>,
}

impl NewMessage {
    pub fn new(body: impl Into<String>, delay_seconds: i32) -> Self {
        NewMessage { body: body.into(), delay_seconds, attributes: HashMap::new() }
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// One entry of a SendMessageBatch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// Distinct within the request: 1 to 80 letters, digits, `-` or `_`.
    pub id: String,
    pub body: String,
    /// 0..=900.
    pub delay_seconds: i32,
}

/// SQS's standard-queue operations that jobq uses, one call to one request.
/// What one ReceiveMessage asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receive {
    /// Up to this many messages (1..=10).
    pub max: i32,
    /// Wait up to this long (0..=20 s) for one.
    pub wait_seconds: i32,
    /// Overrides the queue's visibility timeout for these messages.
    pub visibility: Option<i32>,
}

impl Receive {
    pub fn new(max: i32, wait_seconds: i32, visibility: Option<i32>) -> Self {
        Receive { max, wait_seconds, visibility }
    }
}

#[async_trait::async_trait]
pub trait MessageQueue: Send + Sync + std::fmt::Debug {
    /// SendMessage; returns the message id.
    async fn send(&self, url: &str, message: &NewMessage) -> Result<String, QueueError>;

    /// SendMessageBatch of at most [`SQS_BATCH_MAX`] entries; returns the entries SQS refused,
    /// `index` being the position in `entries`.
    async fn send_batch(&self, url: &str, entries: &[BatchEntry]) -> Result<Vec<EntryFailure>, QueueError>;

    /// ReceiveMessage, as `request` says.
    async fn receive(&self, url: &str, request: &Receive) -> Result<Vec<Received>, QueueError>;

    /// ChangeMessageVisibility: hidden for `seconds` (0..=43,200) from now; 0 releases it now.
    async fn change_visibility(&self, url: &str, receipt: &str, seconds: i32) -> Result<(), QueueError>;

    /// ChangeMessageVisibilityBatch of at most [`SQS_BATCH_MAX`] receipts, each hidden for
    /// `seconds` (0..=43,200) from now; returns the entries SQS refused, `index` being the position
    /// in `receipts`.
    async fn change_visibility_batch(
        &self,
        url: &str,
        receipts: &[String],
        seconds: i32,
    ) -> Result<Vec<EntryFailure>, QueueError>;

    /// DeleteMessageBatch of at most [`SQS_BATCH_MAX`] receipts; returns the entries SQS refused,
    /// `index` being the position in `receipts`.
    async fn delete_batch(&self, url: &str, receipts: &[String]) -> Result<Vec<EntryFailure>, QueueError>;

    /// GetQueueAttributes: the approximate counts.
    async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError>;

    /// GetQueueAttributes: the queue's ARN, as Lambda event records carry it.
    async fn arn(&self, url: &str) -> Result<String, QueueError>;
}
