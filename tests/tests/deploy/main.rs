//! The deploy path, offline: the GitHub workflows against the roles of `infra/github-oidc.yaml`
//! and the SAM template. No AWS account is reachable from the tests, so each check reads the
//! files and asserts what a first deploy would otherwise find out one denial at a time: stack and
//! resource names inside what the roles allow and the permissions boundary (`roles`), pinned
//! actions and ordering (`workflows`). Here: the readers both use.

mod roles;
mod workflows;

use serde_norway::Value;

use jobq_integration_tests::yaml::text;

/// A string or a list of strings (`!Sub` included), as a list.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().filter_map(text).collect(),
        one => text(one).into_iter().collect(),
    }
}

/// IAM's wildcard match: `*` any run of characters (`/` and `:` included), `?` one character.
fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(at) = star {
            pi = at + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The job of `workflow` with a step whose `run` contains `needle`, and that step's text.
fn job_running<'a>(workflow: &'a Value, needle: &str) -> (String, &'a Value, String) {
    for (name, job) in workflow["jobs"].as_mapping().expect("jobs") {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            if let Some(run) = step["run"].as_str().filter(|r| r.contains(needle)) {
                return (name.as_str().unwrap_or_default().to_owned(), job, run.to_owned());
            }
        }
    }
    panic!("no step runs {needle}")
}

const ARN: &str = "arn:${AWS::Partition}";

const AT: &str = "${AWS::Region}:${AWS::AccountId}";

#[test]
fn the_wildcard_match_is_iams() {
    assert!(glob("arn:x:stack/jobq-*/*", "arn:x:stack/jobq-prod/1"));
    assert!(!glob("arn:x:stack/jobq/*", "arn:x:stack/jobq-prod/1"));
    assert!(glob("sqs:*", "sqs:CreateQueue"));
    assert!(!glob("sqs:Get*", "sqs:CreateQueue"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("abc", "abcd"));
}

/// Every workflow and action of `.github/`, with its path and text.
fn workflow_files() -> Vec<(String, String)> {
    let root = format!("{}/../.github", env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<String> = Vec::new();
    for dir in ["workflows", "actions"] {
        let mut stack = vec![format!("{root}/{dir}")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")).flatten() {
                let path = entry.path().display().to_string();
                if entry.path().is_dir() {
                    stack.push(path);
                } else if path.ends_with(".yml") || path.ends_with(".yaml") {
                    paths.push(path);
                }
            }
        }
    }
    assert!(paths.len() >= 5, "{paths:?}");
    paths.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).expect("readable"))).collect()
}

/// Every string value of `key` anywhere in a YAML document (`uses`: steps and reusable-workflow
/// jobs; `run`: scripts).
fn values_of(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                match (k.as_str(), v.as_str()) {
                    (Some(k), Some(value)) if k == key => out.push(value.to_owned()),
                    _ => values_of(v, key, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| values_of(v, key, out)),
        _ => {}
    }
}

fn step_uses(step: &Value, action: &str) -> bool {
    step["uses"].as_str().is_some_and(|u| u.starts_with(&format!("{action}@")))
}

/// The deploy section of the README, where a first deploy's steps are.
fn readme_deploy_section() -> String {
    let readme =
        std::fs::read_to_string(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR"))).expect("README");
    let start = readme.find("## Deploying to AWS").expect("a deploy section");
    readme[start..].to_owned()
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}
