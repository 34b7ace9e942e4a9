//! What the deploy roles of `infra/github-oidc.yaml` may do: every name the template derives
//! for a stage is inside them, nothing can lift the permissions boundary or get around it, every
//! function's logs are writable, and only the role GitHub assumes calls the API.

use jobq_integration_tests::yaml::{load, resources as resources_of, text};
use serde_norway::Value;

use super::{ARN, AT, file_name, glob, job_running, readme_deploy_section, strings, workflow_files};

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

/// `"${{ ... }}"` in `expr` replaced by `value`.
fn with_expression(expr: &str, value: &str) -> String {
    let start = expr.find("${{").unwrap_or_else(|| panic!("no expression in {expr}"));
    let end = expr[start..].find("}}").expect("closing }}") + start + 2;
    format!("{}{value}{}", &expr[..start], &expr[end..])
}

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
