//! SQS's limits, as the memory queue checks them: each refusal is the one SQS answers with.

use std::collections::{HashMap, HashSet};

use super::settings::QueueSettings;
use crate::ports::queue::{
    BatchEntry, MAX_DELAY_SECONDS, MAX_RECEIVE, MAX_VISIBILITY_SECONDS, QueueError, Refusal, SQS_BATCH_MAX,
};

/// Most bytes a batch's entries may carry together, SQS's service maximum; also the largest
/// MaximumMessageSize a queue may have.
pub(super) const BATCH_MAXIMUM_SIZE: usize = 1_048_576;
/// Most message attributes one message may carry.
const MAX_ATTRIBUTES: usize = 10;
/// Longest ReceiveMessage wait SQS takes.
const MAX_WAIT_SECONDS: i32 = 20;

pub(super) fn invalid(operation: &'static str, why: String) -> QueueError {
    QueueError::refused(operation, Refusal::InvalidRequest, why)
}

/// What SQS counts toward a message's size: the body and each attribute's name, type and value.
fn message_size(body: &str, attributes: &HashMap<String, String>) -> usize {
    body.len() + attributes.iter().map(|(k, v)| k.len() + "String".len() + v.len()).sum::<usize>()
}

/// The checks SQS makes of one message before it takes it.
pub(super) fn check_message(
    operation: &'static str,
    settings: &QueueSettings,
    body: &str,
    attributes: &HashMap<String, String>,
) -> Result<(), QueueError> {
    if body.is_empty() {
        return Err(invalid(operation, "the message body is empty".into()));
    }
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(operation, format!("{} message attributes, at most 10", attributes.len())));
    }
    let size = message_size(body, attributes);
    if size > settings.maximum_message_size {
        let max = settings.maximum_message_size;
        return Err(invalid(operation, format!("message of {size} bytes, at most {max}")));
    }
    Ok(())
}

pub(super) fn check_delay(operation: &'static str, delay: i32) -> Result<(), QueueError> {
    if (0..=MAX_DELAY_SECONDS).contains(&delay) {
        Ok(())
    } else {
        Err(invalid(operation, format!("DelaySeconds {delay} is not in 0..=900")))
    }
}

pub(super) fn check_visibility(operation: &'static str, visibility: i32) -> Result<(), QueueError> {
    if (0..=MAX_VISIBILITY_SECONDS).contains(&visibility) {
        Ok(())
    } else {
        Err(invalid(operation, format!("VisibilityTimeout {visibility} is not in 0..=43200")))
    }
}

/// A batch's entry count: 1..=10.
pub(super) fn check_count(operation: &'static str, count: usize) -> Result<(), QueueError> {
    match count {
        0 => Err(QueueError::refused(operation, Refusal::EmptyBatch, "no entries")),
        n if n > SQS_BATCH_MAX => {
            Err(QueueError::refused(operation, Refusal::TooManyEntries, format!("{n} entries, at most 10")))
        }
        _ => Ok(()),
    }
}

/// The request-wide checks of SendMessageBatch, in the order moto makes them.
pub(super) fn check_send_batch(
    operation: &'static str,
    settings: &QueueSettings,
    entries: &[BatchEntry],
) -> Result<(), QueueError> {
    let valid_id = |id: &str| {
        (1..=80).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if let Some(entry) = entries.iter().find(|e| !valid_id(&e.id)) {
        return Err(QueueError::refused(
            operation,
            Refusal::InvalidEntryId,
            format!("entry id {:?}", entry.id),
        ));
    }
    let total: usize = entries.iter().map(|e| e.body.len()).sum();
    if total > BATCH_MAXIMUM_SIZE {
        return Err(QueueError::refused(
            operation,
            Refusal::BatchTooLong,
            format!("{total} bytes in one batch"),
        ));
    }
    let mut ids = HashSet::new();
    if let Some(entry) = entries.iter().find(|e| !ids.insert(e.id.as_str())) {
        let why = format!("entry id {:?} twice", entry.id);
        return Err(QueueError::refused(operation, Refusal::DuplicateEntryIds, why));
    }
    check_count(operation, entries.len())?;
    let no_attributes = HashMap::new();
    entries.iter().try_for_each(|e| check_message(operation, settings, &e.body, &no_attributes))
}

/// ReceiveMessage's parameters.
pub(super) fn check_receive(max: i32, wait_seconds: i32, visibility: Option<i32>) -> Result<(), QueueError> {
    const OPERATION: &str = "ReceiveMessage";
    if !(1..=MAX_RECEIVE).contains(&max) {
        return Err(invalid(OPERATION, format!("MaxNumberOfMessages {max} is not in 1..=10")));
    }
    if !(0..=MAX_WAIT_SECONDS).contains(&wait_seconds) {
        return Err(invalid(OPERATION, format!("WaitTimeSeconds {wait_seconds} is not in 0..=20")));
    }
    visibility.map_or(Ok(()), |v| check_visibility(OPERATION, v))
}

/// CreateQueue's name and attributes (whether the dead-letter queue exists is the caller's check).
pub(super) fn check_queue(name: &str, settings: &QueueSettings) -> Result<(), QueueError> {
    const OPERATION: &str = "CreateQueue";
    let valid_name = (1..=80).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(invalid(OPERATION, format!("queue name {name:?}")));
    }
    check_visibility(OPERATION, settings.visibility_timeout)?;
    if !(1024..=BATCH_MAXIMUM_SIZE).contains(&settings.maximum_message_size) {
        return Err(invalid(OPERATION, format!("MaximumMessageSize {}", settings.maximum_message_size)));
    }
    match &settings.redrive {
        Some(redrive) if !(1..=1000).contains(&redrive.max_receive_count) => {
            Err(invalid(OPERATION, format!("maxReceiveCount {}", redrive.max_receive_count)))
        }
        _ => Ok(()),
    }
}
