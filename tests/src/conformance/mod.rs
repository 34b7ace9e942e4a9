//! One conformance suite for the ports, as riverqueue/river runs one driver test suite against
//! every driver: each case is an async function of an adapter (or a fixture that makes one), and
//! `tests/tests/conformance_*.rs` run every case against the in-memory adapter and against the AWS
//! adapter on the emulator, so a test that passes in memory holds on AWS too. What only the
//! in-memory side models is listed at the top of each module.

pub mod bucket;
pub mod queue;
pub mod store;
pub mod table;
