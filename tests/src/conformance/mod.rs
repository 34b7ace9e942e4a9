//! One conformance suite for the ports, as riverqueue/river runs one driver test suite against
//! every driver: each case is an async function of an adapter, and `tests/tests/conformance_*.rs`
//! run every case against the in-memory adapter and against the AWS adapter on the emulator. What
//! only the in-memory side models is listed at the top of each module.

pub mod store;
pub mod table;
