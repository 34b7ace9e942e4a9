//! What a memory queue is created with: its visibility timeout, dead-letter policy and maximum
//! message size, as SQS's CreateQueue takes them.

/// A queue's MaximumMessageSize unless set: 256 KiB.
pub const DEFAULT_MAXIMUM_MESSAGE_SIZE: usize = 262_144;

/// A queue's dead-letter policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub dead_letter_url: String,
    /// Receives after which a message moves to the dead-letter queue (1..=1000).
    pub max_receive_count: u32,
}

/// What a queue is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Seconds a received message stays hidden (0..=43,200).
    pub visibility_timeout: i32,
    pub redrive: Option<Redrive>,
    /// Bytes of body and attributes a message may carry (1,024..=1,048,576).
    pub maximum_message_size: usize,
}

impl QueueSettings {
    pub fn new(visibility_timeout: i32) -> Self {
        QueueSettings {
            visibility_timeout,
            redrive: None,
            maximum_message_size: DEFAULT_MAXIMUM_MESSAGE_SIZE,
        }
    }

    pub fn with_redrive(mut self, dead_letter_url: impl Into<String>, max_receive_count: u32) -> Self {
        self.redrive = Some(Redrive { dead_letter_url: dead_letter_url.into(), max_receive_count });
        self
    }

    pub fn with_maximum_message_size(mut self, bytes: usize) -> Self {
        self.maximum_message_size = bytes;
        self
    }
}
