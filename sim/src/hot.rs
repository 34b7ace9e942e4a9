//! A hot partition for a while (issue 25, item 7): DynamoDB throttles requests on one partition
//! key past its own limits while it serves the rest of the table
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html>),
//! and a global secondary index's partitions likewise
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations>).
//! The partitions of jobq's that draw the most traffic: the pause flags (read by every worker
//! batch), the global counter (written for every change), and one shard of `by-due` or
//! `by-created` (what the scheduler's sweeps and walk read).

use std::time::Duration;

use jobq::adapters::memory::HotPartition;
use jobq::store::keys::{self, BY_CREATED, BY_DUE, INDEX_SHARDS, Watch};
use jobq::store::tally::ALL_COUNTER;

use crate::world::World;

/// One of the partitions jobq makes hottest, drawn.
pub fn draw(rng: &mut fastrand::Rng) -> HotPartition {
    let shard = rng.u32(..INDEX_SHARDS);
    match rng.u8(..4) {
        0 => HotPartition::Item(keys::PAUSE_PK.to_owned()),
        1 => HotPartition::Item(ALL_COUNTER.to_owned()),
        2 => {
            let watch = Watch::ALL[rng.usize(..Watch::ALL.len())];
            HotPartition::Index { index: BY_DUE.name, partition: format!("{}#{shard}", watch.as_str()) }
        }
        _ => HotPartition::Index {
            index: BY_CREATED.name,
            partition: format!("{}#{shard}", keys::CREATED_VALUE),
        },
    }
}

/// `partition` hot for `length`, then served again.
pub async fn for_a_while(world: &World, partition: HotPartition, length: Duration) {
    world.table.set_hot(partition.clone(), true);
    tokio::time::sleep(length).await;
    world.table.set_hot(partition, false);
}

/// The fault: a drawn partition hot for up to `max`.
pub async fn strike(world: &World, rng: &mut fastrand::Rng, max: Duration) -> &'static str {
    let partition = draw(rng);
    let length = Duration::from_secs(rng.u64(5..=max.as_secs().max(5)));
    for_a_while(world, partition, length).await;
    "hot_partition"
}
