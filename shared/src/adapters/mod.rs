//! The ports' adapters: on AWS, and in memory. One conformance suite (`tests/src/conformance`)
//! holds the two to the same behaviour.

pub mod aws;
pub mod memory;
