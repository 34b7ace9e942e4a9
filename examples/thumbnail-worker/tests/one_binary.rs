//! The example's one binary started as Lambda starts it: the function comes from `JOBQ_FUNCTION`,
//! a missing setting stops the start naming the variable, and no name at all says what to set.
//! (Started elsewhere it is the local stack: tests/local_stack.rs runs that in-process.)

use std::process::{Command, Output};

const QUEUE: &str = "http://127.0.0.1:9/000000000000/q";

/// The binary with Lambda's Runtime API variable (an address nobody answers: each run below
/// stops before it calls it) and `vars`.
fn start(vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thumbnail-worker"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("JOBQ_TABLE", "jobs")
        .envs(["HIGH", "NORMAL", "LOW"].map(|tier| (format!("JOBQ_QUEUE_URL_{tier}"), QUEUE)))
        .envs(["HIGH", "NORMAL"].map(|tier| (format!("JOBQ_DLQ_URL_{tier}"), QUEUE)))
        .envs(vars.iter().copied())
        .output()
        .expect("run thumbnail-worker")
}

#[test]
fn each_named_function_reads_its_settings_and_names_a_missing_one() {
    for function in ["api", "worker", "dlq", "counter", "ingest", "scheduler"] {
        let output = start(&[("JOBQ_FUNCTION", function)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{function}: {stderr}");
        assert!(stderr.contains("JOBQ_DLQ_URL_LOW is not set"), "{function}: {stderr}");
    }
}

#[test]
fn without_a_function_name_it_says_what_to_set() {
    for handler in [None, Some("bootstrap")] {
        let output = start(&handler.map(|h| ("_HANDLER", h)).into_iter().collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains("JOBQ_FUNCTION"), "{stderr}");
        assert!(stderr.contains("api, worker, dlq, counter, ingest, scheduler"), "{stderr}");
    }
}

#[test]
fn an_unknown_function_is_refused_by_name() {
    let output = start(&[("JOBQ_FUNCTION", "workers")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("JOBQ_FUNCTION=\"workers\" is invalid"), "{stderr}");
}
