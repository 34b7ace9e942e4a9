//! The counter function: keeps the counters (`store::tally`) from the table's change stream.
//!
//! In AWS an event source mapping hands it the stream in order, one shard per batch, and hands a
//! batch again from the first change it reports as failed. Here a batch is cut into chunks, each
//! counted in one transaction with a marker named after its first change: a chunk delivered
//! again is refused by its marker and skipped to where it ended. So each change is counted once,
//! whatever is delivered twice, and a crash anywhere loses nothing (the stream still holds what
//! was not counted). The local host and tests read the stream themselves ([`drain`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use tracing::{info, warn};

use crate::ports::clock::Clock;
use crate::ports::table::{Attr, Change, ChangeFeed, Item, seq_order};
use crate::store::tally::next_chunk;
use crate::store::{JobStore, StoreError};

#[derive(Debug, Clone)]
pub struct CounterEngine {
    store: JobStore,
    clock: Arc<dyn Clock>,
}

/// A batch stopped at `first_uncounted`: it and every later change must come again.
#[derive(Debug, thiserror::Error)]
#[error("counting stopped at change {first_uncounted}: {source}")]
pub struct CountError {
    pub first_uncounted: String,
    #[source]
    pub source: CountFailure,
}

#[derive(Debug, thiserror::Error)]
pub enum CountFailure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the change stream failed: {0}")]
    Feed(#[source] crate::ports::table::TableError),
    /// Another counter of the shard moved its checkpoint meanwhile (two readers of one shard).
    #[error("the checkpoint of shard {0} moved meanwhile")]
    CheckpointMoved(String),
}

impl CounterEngine {
    pub fn new(store: JobStore, clock: Arc<dyn Clock>) -> Self {
        CounterEngine { store, clock }
    }

    /// Count `changes` (each shard's in its order). Returns how many chunks were written.
    ///
    /// Changes of several shards (a reader of the whole stream) are counted shard by shard: order
    /// matters only within a shard, and a run of one shard between two of another's would
    /// otherwise cost a transaction of its own.
    /// A job item the batch shows removed (TTL's deletion, an enqueue taken back) has its objects
    /// in the bucket deleted once the batch is counted: they go with their job, not at the
    /// bucket's expiry. Best effort, and again if the batch comes again (a delete is idempotent).
    pub async fn count(&self, changes: &[Change]) -> Result<usize, CountError> {
        let written = self.count_shards(changes).await?;
        let deleted = self.store.discard_removed(changes).await;
        if deleted > 0 {
            info!(deleted, "objects of removed jobs deleted");
        }
        Ok(written)
    }

    async fn count_shards(&self, changes: &[Change]) -> Result<usize, CountError> {
        let mut shards: Vec<(&str, Vec<Change>)> = Vec::new();
        for change in changes {
            match shards.iter_mut().find(|(shard, _)| *shard == change.shard) {
                Some((_, of_shard)) => of_shard.push(change.clone()),
                None => shards.push((&change.shard, vec![change.clone()])),
            }
        }
        if shards.len() <= 1 {
            return self.count_shard(changes).await;
        }
        let mut written = 0;
        for (at, (_, of_shard)) in shards.iter().enumerate() {
            match self.count_shard(of_shard).await {
                Ok(chunks) => written += chunks,
                Err(mut err) => {
                    // Again from the earliest change not counted: this shard's, or a later shard's.
                    let firsts = shards[at + 1..].iter().map(|(_, later)| &later[0].seq);
                    if let Some(first) = firsts.min_by(|a, b| seq_order(a, b))
                        && seq_order(first, &err.first_uncounted).is_lt()
                    {
                        err.first_uncounted = first.clone();
                    }
                    return Err(err);
                }
            }
        }
        Ok(written)
    }

    /// Count changes of one shard, in its order.
    ///
    /// The shard's checkpoint is read first and what it covers skipped, so a transaction is
    /// refused only when two counters race on one shard (an emulator rolls its whole table back
    /// on a refused transaction, losing writes made meanwhile).
    async fn count_shard(&self, changes: &[Change]) -> Result<usize, CountError> {
        let mut checkpoints: HashMap<String, String> = HashMap::new();
        let mut written = 0;
        let mut at = 0;
        while at < changes.len() {
            let shard = &changes[at].shard;
            let stopped = |source: StoreError| CountError {
                first_uncounted: changes[at].seq.clone(),
                source: source.into(),
            };
            if !checkpoints.contains_key(shard) {
                let counted = self.store.counted_to(shard).await.map_err(stopped)?.unwrap_or_default();
                checkpoints.insert(shard.clone(), counted);
            }
            let counted = &checkpoints[shard];
            let same_shard = changes[at..].iter().take_while(|c| c.shard == *shard).count();
            let skipped = changes[at..at + same_shard]
                .iter()
                .take_while(|c| seq_order(&c.seq, counted).is_le())
                .count();
            if skipped > 0 {
                info!(shard = %shard, first = %changes[at].seq, counted_to = %counted, skipped, "changes counted before");
                at += skipped;
                continue;
            }
            let (taken, tally) = next_chunk(&changes[at..at + same_shard]);
            let (first, last) = (&changes[at].seq, &changes[at + taken - 1].seq);
            if !tally.is_empty()
                && !self
                    .store
                    .add_chunk(shard, first, last, &tally, self.clock.now())
                    .await
                    .map_err(stopped)?
            {
                // Refused: another counter of this shard moved the checkpoint meanwhile.
                checkpoints.remove(shard);
                return Err(CountError {
                    first_uncounted: first.clone(),
                    source: CountFailure::CheckpointMoved(shard.clone()),
                });
            }
            written += usize::from(!tally.is_empty());
            checkpoints.insert(shard.clone(), last.clone());
            at += taken;
        }
        Ok(written)
    }
}

/// Read `feed` from `after` to its end, counting as it goes; returns where it stopped. For hosts
/// with no event source mapping: the local host's poller, tests and benches.
pub async fn drain(
    engine: &CounterEngine,
    feed: &dyn ChangeFeed,
    mut after: Option<String>,
) -> Result<Option<String>, CountError> {
    loop {
        let changes = feed.read(after.as_deref(), 1000).await.map_err(|e| CountError {
            first_uncounted: after.clone().unwrap_or_default(),
            source: CountFailure::Feed(e),
        })?;
        let Some(last) = changes.last().map(|c| c.seq.clone()) else {
            return Ok(after);
        };
        tracing::debug!(read = changes.len(), after = ?after, last = %last, "counting changes");
        engine.count(&changes).await?;
        after = Some(last);
    }
}

/// A DynamoDB stream event as Lambda delivers it (the fields the counter reads).
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
    /// The shard the batch came from: present when the event source mapping has a tumbling
    /// window (the template sets one for this).
    #[serde(rename = "shardId")]
    pub shard_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    pub dynamodb: StreamData,
}

#[derive(Debug, Deserialize)]
pub struct StreamData {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "Keys", default)]
    pub keys: std::collections::HashMap<String, serde_json::Value>,
    #[serde(rename = "NewImage")]
    pub new_image: Option<std::collections::HashMap<String, serde_json::Value>>,
    #[serde(rename = "OldImage")]
    pub old_image: Option<std::collections::HashMap<String, serde_json::Value>>,
}

impl StreamEvent {
    /// The changes, in the order delivered (records without a string key are left out).
    pub fn changes(&self) -> Vec<Change> {
        self.records
            .iter()
            .filter_map(|r| {
                let key = attr(r.dynamodb.keys.get(crate::store::keys::PK)?)?;
                Some(Change {
                    shard: self.shard_id.clone().unwrap_or_else(|| "lambda".into()),
                    seq: r.dynamodb.sequence_number.clone(),
                    key: key.as_str()?.to_owned(),
                    old: r.dynamodb.old_image.as_ref().map(image),
                    new: r.dynamodb.new_image.as_ref().map(image),
                })
            })
            .collect()
    }
}

/// The event source mapping's answer: count again from the first change not counted.
pub fn batch_response(result: &Result<usize, CountError>) -> serde_json::Value {
    match result {
        Ok(_) => serde_json::json!({ "state": {}, "batchItemFailures": [] }),
        Err(err) => {
            warn!(error = %err, "counting stopped; the rest of the batch comes again");
            serde_json::json!({ "state": {}, "batchItemFailures": [{ "itemIdentifier": err.first_uncounted }] })
        }
    }
}

fn image(attributes: &std::collections::HashMap<String, serde_json::Value>) -> Item {
    attributes.iter().filter_map(|(name, value)| Some((name.clone(), attr(value)?))).collect()
}

/// One attribute in DynamoDB's JSON (`{"S": "x"}`); types the table never writes are left out.
fn attr(value: &serde_json::Value) -> Option<Attr> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    match kind.as_str() {
        "S" => Some(Attr::S(inner.as_str()?.to_owned())),
        "N" => Some(Attr::N(inner.as_str()?.to_owned())),
        "SS" => {
            Some(Attr::Ss(inner.as_array()?.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_stream_event_decodes_to_changes() {
        let event: StreamEvent = serde_json::from_value(serde_json::json!({
            "Records": [
                { "eventName": "MODIFY", "dynamodb": {
                    "SequenceNumber": "111", "Keys": { "pk": { "S": "job#a" } },
                    "OldImage": { "pk": { "S": "job#a" }, "status": { "S": "queued" }, "progress": { "N": "0" } },
                    "NewImage": { "pk": { "S": "job#a" }, "status": { "S": "processing" }, "payload": { "M": {} } }
                } },
                { "eventName": "REMOVE", "dynamodb": {
                    "SequenceNumber": "112", "Keys": { "pk": { "S": "job#b" } },
                    "OldImage": { "pk": { "S": "job#b" }, "scopes": { "SS": ["tier:low"] } }
                } }
            ]
        }))
        .expect("event");
        let changes = event.changes();
        assert_eq!(changes.len(), 2);
        assert_eq!((changes[0].seq.as_str(), changes[0].key.as_str()), ("111", "job#a"));
        let new = changes[0].new.as_ref().expect("new image");
        assert_eq!(new.get("status"), Some(&Attr::s("processing")));
        assert!(!new.contains_key("payload"), "a map is not a type the table writes");
        assert_eq!(changes[0].old.as_ref().and_then(|o| o.get("progress")), Some(&Attr::n(0)));
        assert!(changes[1].new.is_none());
        assert_eq!(
            changes[1].old.as_ref().and_then(|o| o.get("scopes")),
            Some(&Attr::Ss(vec!["tier:low".into()]))
        );
    }

    #[test]
    fn a_failed_batch_asks_for_the_first_uncounted_change_again() {
        let err =
            CountError { first_uncounted: "42".into(), source: CountFailure::CheckpointMoved("s".into()) };
        assert_eq!(batch_response(&Err(err))["batchItemFailures"][0]["itemIdentifier"], "42");
        assert_eq!(batch_response(&Ok(3))["batchItemFailures"], serde_json::json!([]));
    }
}
