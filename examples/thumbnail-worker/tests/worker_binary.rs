//! The example's Lambda worker binary: a missing setting stops it at start, naming the variable.

use std::process::Command;

#[test]
fn the_worker_binary_names_a_missing_setting_and_fails() {
    let queue = "http://127.0.0.1:4566/000000000000/q";
    let output = Command::new(env!("CARGO_BIN_EXE_example-worker"))
        .env_clear()
        .env("JOBQ_TABLE", "jobs")
        .envs(["HIGH", "NORMAL", "LOW"].map(|tier| (format!("JOBQ_QUEUE_URL_{tier}"), queue)))
        .envs(["HIGH", "NORMAL"].map(|tier| (format!("JOBQ_DLQ_URL_{tier}"), queue)))
        .output()
        .expect("run example-worker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("JOBQ_DLQ_URL_LOW is not set"), "{stderr}");
}
