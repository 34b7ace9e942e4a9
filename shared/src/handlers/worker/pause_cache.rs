//! The pause flags a worker read last, and which deliveries they may still judge: a record sent
//! before they were read, while they are fresh. Held by the [`super::state::Worker`] and read
//! through it, so a batch costs at most one read of the flags.

use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};

use super::polling::SENT_TIMESTAMP;
use crate::store::PauseFlags;

/// How far SQS's clock (a message's `SentTimestamp`, in whole milliseconds) may be ahead of the
/// worker's. Both are kept by NTP-synchronised hosts (Amazon Time Sync in AWS); a message sent
/// within this of a cached read is judged by a fresh read.
pub(super) const SENT_CLOCK_ALLOWANCE: chrono::Duration = chrono::Duration::milliseconds(100);

/// The flags last read, if any (a poisoned lock serves none: the flags are read again).
#[derive(Debug, Default)]
pub(super) struct PauseCache(Mutex<Option<CachedPause>>);

impl PauseCache {
    /// The cached flags, if they may judge every one of `records` at `now` (see
    /// [`CachedPause::serves`]).
    pub(super) fn serving(
        &self,
        records: &[SqsMessage],
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Option<PauseFlags> {
        let cache = self.0.lock().ok()?;
        cache.as_ref().filter(|cached| cached.serves(records, now, ttl)).map(|cached| cached.flags.clone())
    }

    /// Keep `flags`, read at `read_at` (by the worker's clock, taken before the read).
    pub(super) fn keep(&self, read_at: DateTime<Utc>, flags: PauseFlags) {
        if let Ok(mut cache) = self.0.lock() {
            *cache = Some(CachedPause { read_at, flags });
        }
    }
}

/// Pause flags as read, and when (by the worker's clock, taken before the read).
#[derive(Debug, Clone)]
struct CachedPause {
    read_at: DateTime<Utc>,
    flags: PauseFlags,
}

impl CachedPause {
    /// Read less than `ttl` ago, and after every one of `records` was sent (a record without a
    /// send time is judged by a fresh read).
    fn serves(&self, records: &[SqsMessage], now: DateTime<Utc>, ttl: Duration) -> bool {
        let fresh =
            chrono::Duration::from_std(ttl).is_ok_and(|ttl| now >= self.read_at && now - self.read_at < ttl);
        fresh
            && records
                .iter()
                .all(|record| sent_at(record).is_some_and(|sent| sent + SENT_CLOCK_ALLOWANCE <= self.read_at))
    }
}

/// When SQS accepted the record's message: its `SentTimestamp` (epoch milliseconds).
fn sent_at(record: &SqsMessage) -> Option<DateTime<Utc>> {
    let millis = record.attributes.get(SENT_TIMESTAMP)?.parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}
