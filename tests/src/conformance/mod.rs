//! Conformance suites: one set of cases per port, run against the in-memory adapter and against
//! the AWS adapter on the emulator (as riverqueue/river runs one driver suite against every
//! driver), so a test that passes in memory holds on AWS too.
//!
//! Each suite is a set of `async fn case(fixture: &impl Fixture)`; `tests/tests/conformance_*.rs`
//! runs every case once per adapter.

pub mod queue;
