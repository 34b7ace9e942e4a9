//! In-memory adapters of the ports, for tests and the simulation; held to the AWS adapters by
//! the conformance suite (`tests/src/conformance`).

pub mod blobs;
pub mod capacity;
pub mod queues;
pub mod table;

pub use blobs::{CreatedEvent, MemoryBlobs, Notify};
pub use queues::{MemoryQueues, QueueSettings, Redrive};
pub use table::{HotPartition, MemoryChanges, MemoryTable, TtlLag};
