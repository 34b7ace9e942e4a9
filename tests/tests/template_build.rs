//! The template deploys one build of one binary: every function runs the package its `CodeUri`
//! parameter names, and each says which function of the runtime it is.

use std::collections::BTreeSet;

use jobq::runtime::{FUNCTION_VAR, LambdaFunction};
use jobq_integration_tests::yaml::{self, reference, text};
use serde_norway::Value;

/// One build of one binary for the whole stack: every function runs the package at `CodeUri`
/// (SAM builds functions alike in code, handler and Metadata once), and each names a different
/// function of the runtime. scripts/check-template-build.py asks the SAM CLI itself.
#[test]
fn every_function_runs_one_binary_and_says_which_function_it_serves() {
    let template = yaml::load("infra/template.yaml");
    let functions = yaml::resources(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), LambdaFunction::ALL.len());
    let metadata: Vec<&Value> = functions.iter().map(|(_, f)| &f["Metadata"]).collect();
    assert!(metadata.iter().all(|m| *m == metadata[0]), "one Metadata for all, or SAM builds each");
    assert!(metadata[0]["BuildProperties"]["Binary"].is_null(), "the package's only binary");
    let mut served = BTreeSet::new();
    for (name, function) in &functions {
        let code = &function["Properties"]["CodeUri"];
        assert_eq!(reference(code).as_deref(), Some("CodeUri"), "{name}: {code:?}");
        assert!(function["Properties"]["Handler"].is_null(), "{name}: one handler (Globals)");
        let serves = text(&function["Properties"]["Environment"]["Variables"][FUNCTION_VAR]);
        let serves = serves.unwrap_or_else(|| panic!("{name} does not say which function it is"));
        let parsed = LambdaFunction::from_settings(Some(&serves), None);
        served.insert(parsed.unwrap_or_else(|e| panic!("{name}: {e}")).name());
    }
    let all: BTreeSet<&str> = LambdaFunction::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(served, all, "each function of the runtime once");
    let default = text(&template["Parameters"]["CodeUri"]["Default"]).expect("a default package");
    let manifest =
        std::fs::read_to_string(format!("{}/../infra/{default}/Cargo.toml", env!("CARGO_MANIFEST_DIR")));
    let manifest = manifest.expect("the default CodeUri is a package");
    assert_eq!(manifest.matches("[[bin]]").count(), 1, "exactly one binary, so SAM needs no name");
}
