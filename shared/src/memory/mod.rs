//! In-memory adapters of the ports, for tests and the simulation; held to the AWS adapters by
//! the conformance suite (`tests/src/conformance`).

pub mod table;

pub use table::MemoryTable;
