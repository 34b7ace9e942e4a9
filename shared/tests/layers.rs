//! The layers stay apart: the domain, the ports and the rules over them (store, tier queues)
//! name no AWS crate and no adapter, so they run the same on AWS and in memory.

use std::path::{Path, PathBuf};

const AWS_FREE: [&str; 4] = ["domain", "ports", "store", "queue"];
const FORBIDDEN: [&str; 6] =
    ["aws_sdk_", "aws_config", "aws_smithy", "aws_lambda_events", "crate::aws", "crate::adapters"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn domain_ports_and_rules_name_no_aws_crate_or_adapter() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    let mut files = Vec::new();
    for layer in AWS_FREE {
        rust_files(&src.join(layer), &mut files);
    }
    assert!(files.len() >= 20, "the layers' files were found: {files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            // The tier queues re-export the adapters under their old paths; nothing else may.
            let reexport = line.starts_with("pub use crate::adapters::");
            if !reexport && FORBIDDEN.iter().any(|f| line.contains(f)) {
                offences.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(offences.is_empty(), "AWS in an AWS-free layer:\n{}", offences.join("\n"));
}
