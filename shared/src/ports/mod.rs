//! Ports: what the handlers need from the outside world, as small traits. The AWS adapters
//! implement them for Lambda; the in-memory adapters implement them for tests and the simulation,
//! held to the AWS behaviour by one conformance suite (`tests/src/conformance`).

pub mod blobs;
pub mod clock;
pub mod eval;
pub mod ids;
pub mod queue;
pub mod table;

pub use blobs::{BlobError, Blobs};
pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use ids::{Ids, RandomIds, SeededIds};
pub use queue::MessageQueue;
pub use table::{Attr, Cond, Item, Table, TableError};
