//! `jobq_cli`: the local host behind `make run`, as a library so a crate of your own job types
//! can run the local stack with its registry ([`local::run_from_env`]).

// The scheduler's run is a deep nest of futures; laying out the local host's needs more room.
#![recursion_limit = "256"]

pub mod local;
