//! The deploy path, offline: the GitHub workflows against the roles of `infra/github-oidc.yaml`
//! and the SAM template. No AWS account is reachable from the tests, so each check reads the
//! files and asserts what a first deploy would otherwise find out one denial at a time: stack and
//! resource names inside what the roles allow, and (below) pinned actions, ordering and the
//! permissions boundary.

use serde_norway::Value;

/// A YAML file of the repository, by its path from the repository root.
fn load(path: &str) -> Value {
    let path = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The string of a `!Sub "..."`, or a plain string.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Sub" => {
            t.value.as_str().map(str::to_owned)
        }
        _ => None,
    }
}

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

fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// The Allow statements of the inline policies of every role `github-oidc.yaml` creates.
fn role_statements(oidc: &Value) -> Vec<&Value> {
    resources_of(oidc, "AWS::IAM::Role")
        .into_iter()
        .flat_map(|(_, role)| role["Properties"]["Policies"].as_sequence().into_iter().flatten())
        .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten())
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .collect()
}

/// Whether some role of `github-oidc.yaml` may do `action` on `arn`, with the parameters in
/// `params` substituted into its resource patterns (conditions are not evaluated here).
fn granted(oidc: &Value, params: &[(&str, &str)], action: &str, arn: &str) -> bool {
    role_statements(oidc).iter().any(|s| {
        strings(&s["Action"]).iter().any(|a| glob(a, action))
            && strings(&s["Resource"]).iter().any(|r| {
                let pattern = params.iter().fold(r.clone(), |r, (k, v)| r.replace(&format!("${{{k}}}"), v));
                glob(&pattern, arn)
            })
    })
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

/// `"${{ ... }}"` in `expr` replaced by `value`.
fn with_expression(expr: &str, value: &str) -> String {
    let start = expr.find("${{").unwrap_or_else(|| panic!("no expression in {expr}"));
    let end = expr[start..].find("}}").expect("closing }}") + start + 2;
    format!("{}{value}{}", &expr[..start], &expr[end..])
}

const ARN: &str = "arn:${AWS::Partition}";
const AT: &str = "${AWS::Region}:${AWS::AccountId}";

/// deploy.yml names its stack from the `stage` input and gives the stack the resource prefix
/// `<stack>-`; the one deploy role must cover the stack, its change sets and every name the
/// template derives from the prefix, for any stage (so a second stage needs no second role).
#[test]
fn one_deploy_role_covers_every_stage_the_workflow_deploys() {
    let oidc = load("infra/github-oidc.yaml");
    let template = load("infra/template.yaml");
    let deploy = load(".github/workflows/deploy.yml");
    assert!(oidc["Parameters"]["StackName"].is_null(), "a role per stack name cannot deploy a second stage");
    let stack_prefix = oidc["Parameters"]["StackNamePrefix"]["Default"].as_str().expect("StackNamePrefix");
    let params = [("StackNamePrefix", stack_prefix)];

    let (_, job, run) = job_running(&deploy, "sam deploy");
    let stack_expr = job["env"]["STACK"].as_str().expect("the deploy job's STACK");
    assert!(stack_expr.contains("inputs.stage"), "{stack_expr}");
    assert!(run.contains("--stack-name \"$STACK\""), "{run}");
    let prefix_expr =
        run.split("Prefix=").nth(1).expect("a Prefix override").split(['"', ' ']).next().unwrap_or("");

    let artifacts = resources_of(&oidc, "AWS::S3::Bucket");
    assert_eq!(artifacts.len(), 1, "the artifact bucket is created with the role");
    let artifacts = text(&artifacts[0].1["Properties"]["BucketName"]).expect("bucket name");
    let artifacts = artifacts.replace("${StackNamePrefix}", stack_prefix);

    for stage in ["prod", "staging"] {
        let stack = with_expression(stack_expr, stage);
        assert!(stack.starts_with(stack_prefix), "{stack} outside {stack_prefix}*");
        let prefix = prefix_expr.replace("${STACK}", &stack);
        assert_eq!(prefix, format!("{stack}-"), "each stack's resources are named after it");
        let mut needed = vec![
            (
                "cloudformation:CreateChangeSet".to_owned(),
                format!("{ARN}:cloudformation:{AT}:stack/{stack}/0"),
            ),
            (
                "cloudformation:ExecuteChangeSet".to_owned(),
                format!("{ARN}:cloudformation:{AT}:stack/{stack}/0"),
            ),
            ("s3:PutObject".to_owned(), format!("{ARN}:s3:::{artifacts}/{stack}/0")),
            ("lambda:CreateFunction".to_owned(), format!("{ARN}:lambda:{AT}:function:{stack}-ApiFunction-0")),
            (
                "iam:CreateRole".to_owned(),
                format!("{ARN}:iam::${{AWS::AccountId}}:role/{stack}-ApiFunctionRole-0"),
            ),
        ];
        let named = |kind: &str, key: &str| -> Vec<String> {
            resources_of(&template, kind)
                .iter()
                .map(|(_, r)| text(&r["Properties"][key]).expect("a name").replace("${Prefix}", &prefix))
                .collect()
        };
        for table in named("AWS::DynamoDB::Table", "TableName") {
            needed.push(("dynamodb:CreateTable".into(), format!("{ARN}:dynamodb:{AT}:table/{table}")));
        }
        for queue in named("AWS::SQS::Queue", "QueueName") {
            needed.push(("sqs:CreateQueue".into(), format!("{ARN}:sqs:{AT}:{queue}")));
        }
        for bucket in named("AWS::S3::Bucket", "BucketName") {
            needed.push(("s3:CreateBucket".into(), format!("{ARN}:s3:::{bucket}")));
        }
        for (action, arn) in &needed {
            assert!(granted(&oidc, &params, action, arn), "no role may {action} on {arn}");
        }
    }
}

#[test]
fn the_wildcard_match_is_iams() {
    assert!(glob("arn:x:stack/jobq-*/*", "arn:x:stack/jobq-prod/1"));
    assert!(!glob("arn:x:stack/jobq/*", "arn:x:stack/jobq-prod/1"));
    assert!(glob("sqs:*", "sqs:CreateQueue"));
    assert!(!glob("sqs:Get*", "sqs:CreateQueue"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("abc", "abcd"));
}
