//! The change feed on DynamoDB Streams, for hosts with no event source mapping (the local host,
//! tests): the table's stream read shard by shard with GetRecords. In AWS the counter function's
//! event source mapping reads the stream instead, and this is not used.
//!
//! Emulators keep one shard per table; with several, shards are read in the order DescribeStream
//! lists them (parents before children), each to its end before the next.

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use tokio::sync::Mutex;

use crate::ports::table::{Attr, Change, ChangeFeed, Item, TableError};
use crate::store::keys::PK;

#[derive(Debug)]
pub struct DynamoStreamFeed {
    client: Client,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    position: Mutex<Position>,
}

#[derive(Debug, Default)]
struct Position {
    stream: Option<String>,
    /// The shard being read and its next iterator.
    shard: Option<(String, String)>,
    /// Shards read to their end.
    finished: Vec<String>,
    /// The last change returned: a read after anything else starts a new iterator there.
    returned: Option<String>,
}

impl DynamoStreamFeed {
    pub fn new(clients: &super::Clients, table: impl Into<String>) -> Self {
        DynamoStreamFeed {
            client: clients.streams.clone(),
            dynamodb: clients.dynamodb.clone(),
            table: table.into(),
            position: Mutex::default(),
        }
    }

    async fn stream_arn(&self, position: &mut Position) -> Result<String, TableError> {
        if let Some(arn) = &position.stream {
            return Ok(arn.clone());
        }
        let out = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| transient("DescribeTable", e))?;
        let arn = out.table().and_then(|t| t.latest_stream_arn()).ok_or_else(|| TableError::Rejected {
            operation: "DescribeTable",
            source: format!("table {} has no stream", self.table).into(),
        })?;
        position.stream = Some(arn.to_owned());
        Ok(arn.to_owned())
    }

    /// The shard to read next and an iterator on it (after `after` when the reader restarts).
    async fn iterator(
        &self,
        position: &mut Position,
        after: Option<&str>,
    ) -> Result<Option<(String, String)>, TableError> {
        if let Some(current) = &position.shard {
            return Ok(Some(current.clone()));
        }
        let arn = self.stream_arn(position).await?;
        let out = self
            .client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .map_err(|e| transient("DescribeStream", e))?;
        let shards = out.stream_description().map(|d| d.shards()).unwrap_or_default();
        let Some(shard) =
            shards.iter().filter_map(|s| s.shard_id()).find(|id| !position.finished.iter().any(|f| f == id))
        else {
            return Ok(None);
        };
        let request = self.client.get_shard_iterator().stream_arn(&arn).shard_id(shard);
        let request = match after {
            Some(seq) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(seq)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = request.send().await.map_err(|e| transient("GetShardIterator", e))?;
        let iterator = out.shard_iterator().map(str::to_owned);
        Ok(iterator.map(|it| {
            position.shard = Some((shard.to_owned(), it.clone()));
            (shard.to_owned(), it)
        }))
    }
}

#[async_trait::async_trait]
impl ChangeFeed for DynamoStreamFeed {
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>, TableError> {
        let mut position = self.position.lock().await;
        if position.returned.as_deref() != after {
            position.shard = None;
            position.returned = after.map(str::to_owned);
        }
        let Some((shard, iterator)) = self.iterator(&mut position, after).await? else {
            return Ok(Vec::new());
        };
        let limit = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let out = self
            .client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await
            .map_err(|e| transient("GetRecords", e))?;
        let shard_id = shard.clone();
        position.shard = match out.next_shard_iterator() {
            Some(next) => Some((shard, next.to_owned())),
            None => {
                position.finished.push(shard);
                None
            }
        };
        let changes: Vec<Change> = out.records().iter().filter_map(|r| change_of(&shard_id, r)).collect();
        if out.records().is_empty() {
            // Caught up: ask for a fresh iterator next time (an emulator's iterator can go stale
            // when a refused transaction rolls its table back).
            position.shard = None;
        }
        if let Some(last) = changes.last() {
            position.returned = Some(last.seq.clone());
        }
        Ok(changes)
    }
}

fn change_of(shard: &str, record: &Record) -> Option<Change> {
    let data = record.dynamodb()?;
    let key = data.keys()?.get(PK).and_then(|k| k.as_s().ok())?.clone();
    Some(Change {
        shard: shard.to_owned(),
        seq: data.sequence_number()?.to_owned(),
        key,
        old: data.old_image().map(image),
        new: data.new_image().map(image),
    })
}

fn image(attributes: &std::collections::HashMap<String, AttributeValue>) -> Item {
    attributes
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                AttributeValue::S(s) => Attr::S(s.clone()),
                AttributeValue::N(n) => Attr::N(n.clone()),
                AttributeValue::Ss(set) => Attr::Ss(set.clone()),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// Reading the stream is retried by the reader's next poll, whatever went wrong.
fn transient(operation: &'static str, err: impl std::error::Error + Send + Sync + 'static) -> TableError {
    TableError::Transient { operation, source: super::with_context(Box::new(err)) }
}
