//! The table's change stream as a reader sees it: the whole stream, or one shard.

use super::{MemoryTable, stream};
use crate::ports::table::{Change, ChangeFeed, TableError};

/// The change stream of a [`MemoryTable`]: every shard in sequence order (one reader of the
/// whole stream, as the local host reads it), or one shard ([`MemoryChanges::shard`]), as an
/// event source mapping reads each shard.
#[derive(Debug, Clone)]
pub struct MemoryChanges {
    pub(super) table: MemoryTable,
    pub(super) shard: Option<String>,
}

impl MemoryChanges {
    /// The stream's shards.
    pub fn shards(&self) -> Vec<String> {
        let state = self.table.lock();
        state.changes.as_ref().map(stream::Stream::shard_names).unwrap_or_default()
    }

    /// One shard of the stream.
    pub fn shard(&self, shard: &str) -> MemoryChanges {
        MemoryChanges { table: self.table.clone(), shard: Some(shard.to_owned()) }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for MemoryChanges {
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>, TableError> {
        self.table.wait().await;
        let mut state = self.table.begin("GetRecords")?;
        let clock = self.table.clock.clone();
        let changes = state.changes.get_or_insert_with(|| stream::Stream::new(clock));
        Ok(changes.read(self.shard.as_deref(), after, limit))
    }
}
