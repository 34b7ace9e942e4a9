//! The deploy path, offline: the GitHub workflows against the roles of `infra/github-oidc.yaml`
//! and the SAM template. No AWS account is reachable from the tests, so each check reads the
//! files and asserts what a first deploy would otherwise find out one denial at a time: stack and
//! resource names inside what the roles allow, and (below) pinned actions, ordering and the
//! permissions boundary.

use serde_norway::Value;

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

use jobq_integration_tests::yaml::{load, resources as resources_of, text};

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
    let stack_expr = job["env"]["STACK"].as_str().or(deploy["env"]["STACK"].as_str()).expect("STACK");
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

fn step_uses(step: &Value, action: &str) -> bool {
    step["uses"].as_str().is_some_and(|u| u.starts_with(&format!("{action}@")))
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

/// Actions that give a role permissions: allowed only with the boundary on the role.
const GRANTING: [&str; 4] =
    ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"];
/// Actions that would lift the boundary or give permissions around it: never allowed.
const FORBIDDEN: [&str; 14] = [
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:CreateUser",
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:AddUserToGroup",
    "iam:CreateLoginProfile",
    "iam:UpdateRole",
    "sts:AssumeRole",
];

/// The role ARNs `github-oidc.yaml` itself creates, as the stack named `stack` would name them.
fn own_role_arns(oidc: &Value, stack: &str) -> Vec<String> {
    resources_of(oidc, "AWS::IAM::Role")
        .into_iter()
        .map(|(name, role)| {
            let path = role["Properties"]["Path"].as_str().unwrap_or("/");
            format!("{ARN}:iam::${{AWS::AccountId}}:role{path}{stack}-{name}-0")
        })
        .collect()
}

/// `Condition.StringEquals[key]` of a statement, as written (a `!Ref`/`!GetAtt` as `Ref X`).
fn condition(statement: &Value, key: &str) -> Option<String> {
    match &statement["Condition"]["StringEquals"][key] {
        Value::Tagged(t) => {
            Some(format!("{} {}", t.tag.to_string().trim_start_matches('!'), t.value.as_str()?))
        }
        other => other.as_str().map(str::to_owned),
    }
}

/// Neither the GitHub role nor the CloudFormation execution role can create a role, give a role
/// permissions or pass a role, unless that role carries the permissions boundary; the boundary
/// grants no IAM; and the one role passed without it (the execution role) goes to CloudFormation
/// only, which the GitHub role must use. Every role the jobq template creates has the boundary.
#[test]
fn no_deploy_role_can_create_attach_to_or_pass_a_role_without_the_boundary() {
    let oidc = load("infra/github-oidc.yaml");
    let boundaries = resources_of(&oidc, "AWS::IAM::ManagedPolicy");
    assert_eq!(boundaries.len(), 1, "one permissions boundary");
    let boundary = format!("Ref {}", boundaries[0].0);
    let boundary_actions: Vec<String> = boundaries[0].1["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    assert!(
        boundary_actions.iter().all(|a| !a.starts_with("iam:") && !a.starts_with("sts:") && a != "*"),
        "{boundary_actions:?}"
    );

    let prefix = oidc["Parameters"]["StackNamePrefix"]["Default"].as_str().expect("StackNamePrefix");
    // Even when the OIDC stack itself is named with the prefix, its roles stay outside it.
    let own = own_role_arns(&oidc, &format!("{prefix}github"));
    let subst = |r: &str| r.replace("${StackNamePrefix}", prefix);
    let mut gated: Vec<String> = Vec::new();
    for (name, role) in resources_of(&oidc, "AWS::IAM::Role") {
        assert!(role["Properties"]["ManagedPolicyArns"].is_null(), "{name}: managed policies");
        for statement in role_statements_of(role) {
            let actions = strings(&statement["Action"]);
            let resources = strings(&statement["Resource"]);
            let allows = |action: &str| actions.iter().any(|a| glob(a, action));
            for action in FORBIDDEN {
                assert!(!allows(action), "{name} may {action}");
            }
            if GRANTING.iter().any(|a| allows(a)) {
                assert_eq!(
                    condition(statement, "iam:PermissionsBoundary").as_deref(),
                    Some(boundary.as_str()),
                    "{name}: {actions:?} without the boundary"
                );
                assert!(resources.iter().all(|r| r != "*"), "{name}: {actions:?} on any role");
                gated.extend(resources.iter().map(|r| subst(r)));
            }
        }
    }
    for (name, role) in resources_of(&oidc, "AWS::IAM::Role") {
        for statement in role_statements_of(role)
            .into_iter()
            .filter(|s| strings(&s["Action"]).iter().any(|a| glob(a, "iam:PassRole")))
        {
            let to = condition(statement, "iam:PassedToService")
                .unwrap_or_else(|| panic!("{name}: PassRole to any service"));
            if let Some(target) = get_att(&statement["Resource"]) {
                assert_eq!(to, "cloudformation.amazonaws.com", "{name} passes {target} to {to}");
                continue;
            }
            for resource in strings(&statement["Resource"]).iter().map(|r| subst(r)) {
                assert!(gated.contains(&resource), "{name} passes {resource}, which may lack the boundary");
                for arn in &own {
                    assert!(!glob(&resource, arn), "{name} may pass {arn}, a deploy role");
                }
            }
        }
    }
    the_github_role_only_drives_cloudformation(&oidc);
    every_role_of_the_template_has_the_boundary();
}

fn role_statements_of(role: &Value) -> Vec<&Value> {
    role["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten())
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .collect()
}

/// `X` of `!GetAtt X.Arn`.
fn get_att(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "GetAtt" => {
            t.value.as_str().and_then(|s| s.strip_suffix(".Arn")).map(str::to_owned)
        }
        _ => None,
    }
}

/// The role GitHub assumes creates nothing itself: change sets only with the execution role,
/// the artifacts, the stack's outputs and the API.
fn the_github_role_only_drives_cloudformation(oidc: &Value) {
    let roles = resources_of(oidc, "AWS::IAM::Role");
    let github: Vec<&Value> = roles
        .iter()
        .filter(|(_, r)| {
            format!("{:?}", r["Properties"]["AssumeRolePolicyDocument"]).contains("AssumeRoleWithWebIdentity")
        })
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(github.len(), 1);
    let executor = roles
        .iter()
        .find(|(_, r)| {
            format!("{:?}", r["Properties"]["AssumeRolePolicyDocument"])
                .contains("cloudformation.amazonaws.com")
        })
        .map(|(n, _)| n.clone())
        .expect("a CloudFormation execution role");
    for statement in role_statements_of(github[0]) {
        for action in strings(&statement["Action"]) {
            let service = action.split(':').next().unwrap_or_default();
            assert!(
                ["cloudformation", "s3", "execute-api"].contains(&service) || action == "iam:PassRole",
                "the GitHub role may {action}"
            );
            if action == "cloudformation:CreateChangeSet"
                && strings(&statement["Resource"]).iter().any(|r| r.contains(":stack/"))
            {
                assert_eq!(
                    condition(statement, "cloudformation:RoleArn"),
                    Some(format!("GetAtt {executor}.Arn"))
                );
            }
        }
        if strings(&statement["Action"]).iter().any(|a| a.starts_with("s3:")) {
            for r in strings(&statement["Resource"]) {
                assert!(r.contains("artifacts-"), "the GitHub role reaches {r}");
            }
        }
    }
    let deploy = load(".github/workflows/deploy.yml");
    let (_, _, run) = job_running(&deploy, "sam deploy");
    assert!(run.contains("--role-arn"), "sam deploy without the execution role: {run}");
    assert!(run.contains("PermissionsBoundaryArn="), "{run}");
}

fn every_role_of_the_template_has_the_boundary() {
    let template = load("infra/template.yaml");
    let global = &template["Globals"]["Function"]["PermissionsBoundary"];
    for (name, function) in resources_of(&template, "AWS::Serverless::Function") {
        let own = &function["Properties"]["PermissionsBoundary"];
        let boundary = if own.is_null() { global } else { own };
        assert_eq!(format!("{boundary:?}"), format!("{:?}", ref_to("PermissionsBoundaryArn")), "{name}");
        assert!(function["Properties"]["Role"].is_null(), "{name}: a role of its own making");
    }
    for (name, role) in resources_of(&template, "AWS::IAM::Role") {
        assert_eq!(
            format!("{:?}", role["Properties"]["PermissionsBoundary"]),
            format!("{:?}", ref_to("PermissionsBoundaryArn")),
            "{name}"
        );
    }
    assert!(
        template["Parameters"]["PermissionsBoundaryArn"]["Default"].is_null(),
        "no deploy without a boundary"
    );
}

fn ref_to(name: &str) -> Value {
    serde_norway::from_str(&format!("!Ref {name}")).expect("a Ref")
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

/// Every function logs to a log group of the stack's with a retention, named so that the
/// execution role may create it and the boundary lets the function write to it.
#[test]
fn every_function_logs_to_a_group_with_a_retention() {
    let template = load("infra/template.yaml");
    let oidc = load("infra/github-oidc.yaml");
    let prefix = oidc["Parameters"]["StackNamePrefix"]["Default"].as_str().expect("StackNamePrefix");
    let stack = format!("{prefix}prod");
    let boundary: Vec<&Value> =
        resources_of(&oidc, "AWS::IAM::ManagedPolicy")[0].1["Properties"]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("statements")
            .iter()
            .collect();
    let functions = resources_of(&template, "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (name, function) in functions {
        let group = match &function["Properties"]["LoggingConfig"]["LogGroup"] {
            Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Ref" => {
                t.value.as_str().expect("a name")
            }
            other => panic!("{name}: no log group of the stack's: {other:?}"),
        };
        let group = &template["Resources"][group];
        assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{name}");
        assert!(!group["Properties"]["RetentionInDays"].is_null(), "{name}: kept forever");
        let log_name =
            text(&group["Properties"]["LogGroupName"]).expect("named").replace("${AWS::StackName}", &stack);
        let arn = format!("{ARN}:logs:{AT}:log-group:{log_name}");
        assert!(granted(&oidc, &[("StackNamePrefix", prefix)], "logs:CreateLogGroup", &arn), "{arn}");
        let writable = boundary.iter().any(|s| {
            strings(&s["Action"]).iter().any(|a| a == "logs:PutLogEvents")
                && strings(&s["Resource"])
                    .iter()
                    .any(|r| glob(&r.replace("${StackNamePrefix}", prefix), &arn))
        });
        assert!(writable, "the boundary keeps {name} from {arn}");
    }
}

/// The deploy section of the README, where a first deploy's steps are.
fn readme_deploy_section() -> String {
    let readme =
        std::fs::read_to_string(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR"))).expect("README");
    let start = readme.find("## Deploying to AWS").expect("a deploy section");
    readme[start..].to_owned()
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

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
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

/// The API is called with the deploy role by exactly the callers the README names (the
/// deploy's smoke test, `jobq-example.yml` and `jobq-executor.yml`: the workflows that sign for
/// `execute-api` or read the API's URL), and only the role GitHub assumes may call it.
#[test]
fn execute_api_is_granted_to_exactly_the_callers_the_readme_names() {
    let deploy = readme_deploy_section();
    let mut callers: Vec<String> = workflow_files()
        .into_iter()
        .filter(|(path, _)| path.contains("/workflows/"))
        .filter(|(_, text)| text.contains("execute-api") || text.contains("vars.JOBQ_API_URL"))
        .map(|(path, _)| file_name(&path))
        .collect();
    callers.sort();
    assert_eq!(callers, ["deploy.yml", "jobq-example.yml", "jobq-executor.yml"]);
    for example in ["jobq-example.yml", "jobq-executor.yml"] {
        assert!(deploy.contains(&format!("`{example}`")), "the README names {example} as a caller");
    }
    assert!(deploy.contains("smoke-test") || deploy.contains("smoke test"), "the deploy's smoke test");
    assert!(deploy.contains("execute-api:Invoke"), "the README says the deploy role may call the API");

    let oidc = load("infra/github-oidc.yaml");
    let invokers: Vec<String> = resources_of(&oidc, "AWS::IAM::Role")
        .into_iter()
        .filter(|(_, role)| {
            role_statements_of(role)
                .iter()
                .any(|s| strings(&s["Action"]).iter().any(|a| a == "execute-api:Invoke"))
        })
        .map(|(name, role)| {
            let trust = format!("{:?}", role["Properties"]["AssumeRolePolicyDocument"]);
            assert!(
                trust.contains("AssumeRoleWithWebIdentity"),
                "{name} calls the API but GitHub does not assume it"
            );
            name
        })
        .collect();
    assert_eq!(invokers, ["DeployRole"], "only the role GitHub assumes calls the API");
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
