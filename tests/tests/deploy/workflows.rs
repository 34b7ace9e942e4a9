//! How the workflows run the deploy: actions and tools pinned, the deploy after the tests with
//! builds that hold no credentials, no script splicing untrusted values, the Rust CI checks, and
//! every setting a workflow reads named in the README.

use jobq_integration_tests::yaml::{load, text};
use serde_norway::Value;

use super::{file_name, job_running, readme_deploy_section, step_uses, strings, values_of, workflow_files};

fn uses_of(v: &Value, out: &mut Vec<String>) {
    values_of(v, "uses", out);
}

/// A tag can be moved to other code; a commit cannot. Each pin names its release in a comment.
#[test]
fn every_third_party_action_is_pinned_by_commit() {
    let mut checked = 0;
    for (path, text) in workflow_files() {
        let doc: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut uses = Vec::new();
        uses_of(&doc, &mut uses);
        for action in uses.iter().filter(|u| !u.starts_with("./")) {
            let (name, commit) =
                action.split_once('@').unwrap_or_else(|| panic!("{path}: {action} unpinned"));
            assert!(name.split('/').count() >= 2, "{path}: {action}");
            assert!(
                commit.len() == 40
                    && commit.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{path}: {action} is not pinned by a 40-hex commit"
            );
            let line = text.lines().find(|l| l.contains(action.as_str())).expect("the line");
            assert!(
                line.split_once(" # ").is_some_and(|(_, tag)| !tag.trim().is_empty()),
                "{path}: {line}: which release?"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
}

/// The deploy waits for the tests (the whole of ci.yml) and the build; the build and the tests run
/// without AWS credentials, and no job builds or runs repository code after taking them.
#[test]
fn the_deploy_runs_after_the_tests_and_builds_hold_no_credentials() {
    let deploy = load(".github/workflows/deploy.yml");
    let jobs = deploy["jobs"].as_mapping().expect("jobs");
    let (deploy_job, job, _) = job_running(&deploy, "sam deploy");
    let needs = strings(&job["needs"]);
    let test_job = jobs
        .iter()
        .find(|(_, j)| j["uses"].as_str() == Some("./.github/workflows/ci.yml"))
        .and_then(|(k, _)| k.as_str())
        .expect("a job running ci.yml");
    let (build_job, _, _) = job_running(&deploy, "sam build");
    assert!(needs.iter().any(|n| n == test_job), "{deploy_job} needs {test_job}: {needs:?}");
    assert!(needs.iter().any(|n| n == &build_job), "{deploy_job} needs {build_job}: {needs:?}");
    assert_ne!(build_job, deploy_job, "built before the credentials, in a job without them");
    assert!(deploy["permissions"]["id-token"].is_null(), "only the deploy job may ask for a token");
    for (name, job) in jobs {
        let name = name.as_str().unwrap_or_default();
        let steps = job["steps"].as_sequence().cloned().unwrap_or_default();
        let credentials = steps.iter().position(|s| step_uses(s, "aws-actions/configure-aws-credentials"));
        if name != deploy_job {
            assert!(credentials.is_none(), "{name} takes AWS credentials");
            assert!(job["permissions"]["id-token"].is_null(), "{name} may ask for an OIDC token");
        }
        for step in steps.iter().skip(credentials.map_or(steps.len(), |at| at + 1)) {
            let run = step["run"].as_str().unwrap_or_default();
            assert!(
                !run.contains("sam build") && !run.contains("cargo "),
                "{name}: builds with credentials: {run}"
            );
            assert!(!step_uses(step, "Swatinem/rust-cache"), "{name}: a cache restored with credentials");
        }
    }
}

/// A manual run can pick any branch, and it runs that branch's files: the deploy job admits only
/// main or a release tag into the production environment.
#[test]
fn a_manual_deploy_takes_main_or_a_tag_only() {
    let deploy = load(".github/workflows/deploy.yml");
    let (_, job, _) = job_running(&deploy, "sam deploy");
    assert_eq!(job["environment"].as_str(), Some("production"));
    let condition = job["if"].as_str().expect("the deploy job's if");
    let refs: Vec<&str> = condition.split("||").map(str::trim).collect();
    assert!(refs.contains(&"github.ref == 'refs/heads/main'"), "{condition}");
    for r in refs {
        assert!(
            r == "github.ref == 'refs/heads/main'" || r.starts_with("startsWith(github.ref, 'refs/tags/"),
            "{r} admits another ref"
        );
    }
}

/// The SAM CLI transforms and uploads what is deployed: a new release is taken deliberately.
#[test]
fn the_sam_cli_is_pinned() {
    let path = format!("{}/../scripts/requirements-deploy.txt", env!("CARGO_MANIFEST_DIR"));
    let pins = std::fs::read_to_string(&path).expect("requirements-deploy.txt");
    let pin = pins.lines().find(|l| l.starts_with("aws-sam-cli")).expect("aws-sam-cli");
    let version = pin.strip_prefix("aws-sam-cli==").unwrap_or_else(|| panic!("{pin}: not pinned"));
    assert!(version.split('.').all(|p| p.parse::<u32>().is_ok()), "{pin}");
    let makefile =
        std::fs::read_to_string(format!("{}/../Makefile", env!("CARGO_MANIFEST_DIR"))).expect("Makefile");
    for (path, text) in workflow_files().into_iter().chain([("Makefile".to_owned(), makefile)]) {
        for line in text.lines().filter(|l| l.contains("aws-sam-cli") && !l.trim_start().starts_with('#')) {
            assert!(line.contains("aws-sam-cli=="), "{path}: {line}");
        }
        if text.contains("sam build") || text.contains("sam deploy") {
            assert!(text.contains("requirements-deploy.txt"), "{path} runs sam but installs another");
        }
    }
}

/// The workspace's `rust-version`, from Cargo.toml.
fn declared_rust_version() -> String {
    let path = format!("{}/../Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("Cargo.toml");
    let line = text.lines().find(|l| l.starts_with("rust-version")).expect("rust-version");
    line.split('"').nth(1).expect("a quoted version").to_owned()
}

/// The code needs Rust 1.88 (let-chains; aws-sdk-dynamodb 1.100), so the workspace declares at
/// least that, and CI checks the workspace with exactly the declared version.
#[test]
fn the_declared_minimum_rust_is_the_one_ci_checks() {
    let declared = declared_rust_version();
    let parts: Vec<u32> = declared.split('.').map(|p| p.parse().expect("numeric")).collect();
    assert!(parts.as_slice() >= [1, 88].as_slice(), "rust-version {declared} < 1.88");
    let ci = load(".github/workflows/ci.yml");
    let checked = ci["jobs"].as_mapping().expect("jobs").values().any(|job| {
        let steps = job["steps"].as_sequence().cloned().unwrap_or_default();
        steps.iter().any(|s| {
            step_uses(s, "dtolnay/rust-toolchain")
                && s["with"]["toolchain"].as_str() == Some(declared.as_str())
        }) && steps
            .iter()
            .any(|s| s["run"].as_str().is_some_and(|r| r.contains("cargo check") || r.contains("cargo test")))
    });
    assert!(checked, "no CI job checks with Rust {declared}");
}

/// The names a workflow reads as `vars.X` and `secrets.X` (GitHub's own token aside).
fn settings_read(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for prefix in ["vars.", "secrets."] {
        for (at, _) in text.match_indices(prefix) {
            let name: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != "GITHUB_TOKEN" {
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_variable_and_secret_the_workflows_read_is_named_in_the_readme() {
    assert_eq!(
        settings_read("a ${{ vars.AWS_REGION }} b ${{ secrets.X_1 }} ${{ secrets.GITHUB_TOKEN }}"),
        ["AWS_REGION", "X_1"]
    );
    let deploy = readme_deploy_section();
    let mut read = 0;
    for (path, text) in workflow_files() {
        for name in settings_read(&text) {
            read += 1;
            let named = deploy.contains(&format!("`{name}`"));
            assert!(named, "{} reads {name}; the README's deploy steps never name it", file_name(&path));
        }
    }
    assert!(read >= 6, "the deploy reads its role, region, bucket and more: {read}");
}

/// Every `run:` script anywhere in a YAML document.
fn scripts_of(v: &Value, out: &mut Vec<String>) {
    values_of(v, "run", out);
}

/// No script splices a value a user or the API controls (inputs, step outputs, event fields)
/// into its text, where a crafted value becomes a command: such values reach scripts through
/// `env:` only.
#[test]
fn no_script_splices_inputs_outputs_or_event_fields() {
    let mut checked = 0;
    for (path, text) in workflow_files() {
        let document: Value = serde_norway::from_str(&text).expect("YAML");
        let mut scripts = Vec::new();
        scripts_of(&document, &mut scripts);
        for script in scripts {
            checked += 1;
            let compact: String = script.chars().filter(|c| !c.is_whitespace()).collect();
            for untrusted in ["${{inputs.", "${{steps.", "${{github.event", "${{github.head_ref"] {
                assert!(
                    !compact.contains(untrusted),
                    "{}: a script splices {untrusted}: {script}",
                    file_name(&path)
                );
            }
        }
    }
    assert!(checked >= 10, "{checked} scripts");
}

/// CI runs `make test` as on a developer's machine (its own moto: no endpoint, no service), and
/// the emulator tests on LocalStack in a job of their own, with the token secret when present.
#[test]
fn ci_tests_with_the_same_emulator_as_make_test_and_again_on_localstack() {
    let ci = load(".github/workflows/ci.yml");
    let test = &ci["jobs"]["test"];
    assert!(test["services"].is_null(), "no emulator service: make test starts moto");
    assert!(test["env"]["AWS_ENDPOINT_URL"].is_null(), "no endpoint: make test starts moto");
    let runs = |job: &Value| {
        let mut scripts = Vec::new();
        scripts_of(job, &mut scripts);
        scripts.join("\n")
    };
    assert!(runs(test).contains("make test"));
    let localstack = &ci["jobs"]["localstack"];
    assert!(text(&localstack["env"]["AWS_ENDPOINT_URL"]).is_some_and(|u| u.contains(":4566")));
    let steps = format!("{:?}", localstack["steps"]);
    assert!(steps.contains("secrets.LOCALSTACK_AUTH_TOKEN"), "the token, when the repository has one");
    assert!(runs(localstack).contains("jobq-integration-tests"), "{}", runs(localstack));
}
