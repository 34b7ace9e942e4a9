//! The SAM template against the code: names, table keys and indexes, queue settings and the
//! environment the functions read must agree, or deployed resources would differ from tested ones.
//! Also the GitHub OIDC trust policy: one repository, no wildcards.

use std::collections::{BTreeMap, BTreeSet};

use jobq::resources::{self, ResourceNames};
use jobq::store::keys::{INDEXES, PK, TTL_ATTRIBUTE};
use serde_norway::Value;

use jobq_integration_tests::yaml::{self, reference, text};

fn load(name: &str) -> Value {
    yaml::load(&format!("infra/{name}"))
}

/// `X` of `!GetAtt X.Arn`.
fn get_att_arn(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "GetAtt" => {
            t.value.as_str().and_then(|s| s.strip_suffix(".Arn")).map(str::to_owned)
        }
        _ => None,
    }
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v:?}"))
}

/// The properties of a template's resources of type `kind`, by logical name.
fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    yaml::resources(template, kind).into_iter().map(|(name, r)| (name, &r["Properties"])).collect()
}

/// The names the code derives, with the template's `${Prefix}` as the prefix.
fn names() -> ResourceNames {
    ResourceNames::new("${Prefix}")
}

#[test]
fn the_table_matches_the_store_key_design() {
    let template = load("template.yaml");
    let tables = resources_of(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let table = tables[0].1;
    assert_eq!(text(&table["TableName"]), Some(names().table()));
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some(PK));
    assert_eq!(table["KeySchema"].as_sequence().map(Vec::len), Some(1), "no sort key");
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(TTL_ATTRIBUTE));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));

    let defined: BTreeMap<String, String> = table["AttributeDefinitions"]
        .as_sequence()
        .expect("attributes")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or_default().into(),
                a["AttributeType"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let mut expected: BTreeMap<String, String> = BTreeMap::from([(PK.to_owned(), "S".to_owned())]);
    for index in INDEXES {
        expected.insert(index.pk.into(), "S".into());
        expected.insert(index.sk.into(), "S".into());
    }
    assert_eq!(defined, expected);

    let gsis = table["GlobalSecondaryIndexes"].as_sequence().expect("indexes");
    assert_eq!(gsis.len(), INDEXES.len());
    for index in INDEXES {
        let gsi = gsis
            .iter()
            .find(|g| g["IndexName"].as_str() == Some(index.name))
            .unwrap_or_else(|| panic!("{}", index.name));
        assert_eq!(gsi["KeySchema"][0]["AttributeName"].as_str(), Some(index.pk));
        assert_eq!(gsi["KeySchema"][1]["AttributeName"].as_str(), Some(index.sk));
        let projection = &gsi["Projection"];
        if index.projected.is_empty() {
            assert_eq!(projection["ProjectionType"].as_str(), Some("KEYS_ONLY"), "{}", index.name);
        } else {
            assert_eq!(projection["ProjectionType"].as_str(), Some("INCLUDE"), "{}", index.name);
            let attrs: Vec<&str> = projection["NonKeyAttributes"]
                .as_sequence()
                .expect("attrs")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(attrs, index.projected, "{}", index.name);
        }
    }
}

#[test]
fn the_queues_match_the_provisioned_ones() {
    let template = load("template.yaml");
    let queues = resources_of(&template, "AWS::SQS::Queue");
    let by_logical: BTreeMap<&str, &Value> = queues.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let specs = names().queue_specs();
    assert_eq!(queues.len(), specs.len(), "no queue missing, none extra");
    for spec in specs {
        let (_, queue) = queues
            .iter()
            .find(|(_, q)| text(&q["QueueName"]).as_deref() == Some(spec.name.as_str()))
            .unwrap_or_else(|| panic!("no queue named {}", spec.name));
        assert_eq!(number(&queue["VisibilityTimeout"]), u64::from(spec.visibility_timeout), "{}", spec.name);
        assert_eq!(number(&queue["MessageRetentionPeriod"]), u64::from(spec.retention), "{}", spec.name);
        assert_eq!(queue["SqsManagedSseEnabled"].as_bool(), Some(true), "{} encrypted", spec.name);
        match &spec.redrive {
            None => assert!(queue["RedrivePolicy"].is_null(), "{} has no DLQ", spec.name),
            Some((dlq, count)) => {
                let policy = &queue["RedrivePolicy"];
                assert_eq!(number(&policy["maxReceiveCount"]), u64::from(*count), "{}", spec.name);
                let target = get_att_arn(&policy["deadLetterTargetArn"]).expect("GetAtt DLQ.Arn");
                assert_eq!(
                    text(&by_logical[target.as_str()]["QueueName"]).as_deref(),
                    Some(dlq.as_str()),
                    "{}",
                    spec.name
                );
            }
        }
    }
}

#[test]
fn functions_consume_with_partial_batch_responses_and_fit_the_visibility_timeout() {
    let template = load("template.yaml");
    let queues = resources_of(&template, "AWS::SQS::Queue");
    let visibility: BTreeMap<&str, u64> =
        queues.iter().map(|(k, q)| (k.as_str(), number(&q["VisibilityTimeout"]))).collect();
    let global_timeout = number(&template["Globals"]["Function"]["Timeout"]);
    let functions = resources_of(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 6);
    let mut consumed = BTreeSet::new();
    for (name, function) in &functions {
        let timeout =
            if function["Timeout"].is_null() { global_timeout } else { number(&function["Timeout"]) };
        for (_, event) in function["Events"].as_mapping().into_iter().flatten() {
            if event["Type"].as_str() != Some("SQS") {
                continue;
            }
            let queue = get_att_arn(&event["Properties"]["Queue"]).expect("queue");
            assert!(
                visibility[queue.as_str()] >= 6 * timeout,
                "{name}: {queue} visibility < 6 x {timeout} s"
            );
            let types: Vec<&str> = event["Properties"]["FunctionResponseTypes"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(types, ["ReportBatchItemFailures"], "{name} on {queue}");
            consumed.insert(queue);
        }
    }
    // Every queue has a consumer but the ingest DLQ: poison notifications wait there for an
    // operator (its alarm fires), since no job exists to record them on.
    let unconsumed: Vec<&str> =
        queues.iter().map(|(k, _)| k.as_str()).filter(|k| !consumed.contains(*k)).collect();
    assert_eq!(unconsumed, ["IngestDeadLetterQueue"]);
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.iter().any(|(_, a)| format!("{:?}", a["Dimensions"]).contains("IngestDeadLetterQueue")));
    let worker = functions.iter().find(|(n, _)| n == "WorkerFunction").expect("worker").1;
    assert_eq!(number(&worker["Timeout"]), u64::from(resources::WORKER_FUNCTION_TIMEOUT_SECONDS));
    let defaults: Vec<u64> = ["HighConcurrency", "NormalConcurrency", "LowConcurrency"]
        .iter()
        .map(|p| number(&template["Parameters"][*p]["Default"]))
        .collect();
    assert!(defaults[0] > defaults[1] && defaults[1] > defaults[2], "high > normal > low: {defaults:?}");
}

/// The counter function reads the table's stream with both images, per shard (a tumbling window
/// is what makes each event name its shard, which the checkpoint is kept per), from the first
/// change it reports not counted, and only job items.
#[test]
fn the_counter_reads_the_table_stream_by_shard_from_its_first_uncounted_change() {
    let template = load("template.yaml");
    let table = &resources_of(&template, "AWS::DynamoDB::Table")[0].1;
    assert_eq!(text(&table["StreamSpecification"]["StreamViewType"]).as_deref(), Some("NEW_AND_OLD_IMAGES"));
    let functions = resources_of(&template, "AWS::Serverless::Function");
    let counter = &functions.iter().find(|(n, _)| n == "CounterFunction").expect("counter function").1;
    let serves = &counter["Environment"]["Variables"][jobq::runtime::FUNCTION_VAR];
    assert_eq!(text(serves).as_deref(), Some(jobq::runtime::LambdaFunction::Counter.name()));
    let events: Vec<&Value> = counter["Events"].as_mapping().into_iter().flatten().map(|(_, e)| e).collect();
    assert_eq!(events.len(), 1);
    let properties = &events[0]["Properties"];
    assert_eq!(text(&events[0]["Type"]).as_deref(), Some("DynamoDB"));
    assert!(number(&properties["TumblingWindowInSeconds"]) >= 1, "events name their shard");
    assert_eq!(properties["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
    assert!(
        properties["BisectBatchOnFunctionError"].is_null(),
        "a split batch would not start at a reported change"
    );
    let pattern = properties["FilterCriteria"]["Filters"][0]["Pattern"].as_str().expect("a filter");
    assert!(pattern.contains("\"prefix\": \"job#\""), "{pattern}");
    assert_eq!(allowed(counter, "dynamodb:UpdateItem"), BTreeSet::from(["JobsTable".to_owned()]));
    assert_eq!(allowed(counter, "dynamodb:GetItem"), BTreeSet::from(["JobsTable".to_owned()]));
}

/// The resources (`!GetAtt X.Arn`) on which a function's own policy allows `action`.
fn allowed(function: &Value, action: &str) -> BTreeSet<String> {
    let statements = function["Policies"].as_sequence().into_iter().flatten();
    statements
        .flat_map(|policy| policy["Statement"].as_sequence().into_iter().flatten())
        .filter(|s| {
            s["Effect"].as_str() == Some("Allow")
                && (s["Action"].as_str() == Some(action)
                    || s["Action"]
                        .as_sequence()
                        .is_some_and(|a| a.iter().any(|a| a.as_str() == Some(action))))
        })
        .flat_map(|s| match &s["Resource"] {
            Value::Sequence(resources) => resources.iter().filter_map(get_att_arn).collect(),
            one => get_att_arn(one).into_iter().collect::<Vec<_>>(),
        })
        .collect()
}

#[test]
fn the_dead_letter_function_may_bring_back_each_letter_it_consumes_early() {
    let template = load("template.yaml");
    let functions = resources_of(&template, "AWS::Serverless::Function");
    let dlq = functions.iter().find(|(n, _)| n == "DeadLetterFunction").expect("dlq function").1;
    let consumed: BTreeSet<String> = dlq["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(_, event)| get_att_arn(&event["Properties"]["Queue"]))
        .collect();
    assert_eq!(consumed.len(), 3, "{consumed:?}");
    assert_eq!(allowed(dlq, "sqs:ChangeMessageVisibility"), consumed);
    let worker = functions.iter().find(|(n, _)| n == "WorkerFunction").expect("worker function").1;
    let tiers: BTreeSet<String> = worker["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(_, event)| get_att_arn(&event["Properties"]["Queue"]))
        .collect();
    assert_eq!(allowed(dlq, "sqs:SendMessage"), tiers, "a completed job's letter goes back to its tier");
}

/// A function that creates jobs may take back one whose message it could not send.
#[test]
fn every_function_that_creates_jobs_may_take_one_back() {
    let template = load("template.yaml");
    for (name, function) in resources_of(&template, "AWS::Serverless::Function") {
        if !allowed(function, "dynamodb:PutItem").is_empty() {
            assert_eq!(
                allowed(function, "dynamodb:DeleteItem"),
                allowed(function, "dynamodb:PutItem"),
                "{name} creates jobs and must be able to take one back"
            );
        }
    }
}

/// Only uploads notify the ingest queue, not the store's own objects; those expire, no sooner than
/// a job that names one may still exist (the longest delay, then the retention).
#[test]
fn only_uploads_notify_ingest_and_the_stores_objects_expire() {
    let template = load("template.yaml");
    let buckets = resources_of(&template, "AWS::S3::Bucket");
    let bucket = buckets[0].1;
    let queues = bucket["NotificationConfiguration"]["QueueConfigurations"].as_sequence().expect("queues");
    assert_eq!(queues.len(), 1);
    let rules = queues[0]["Filter"]["S3Key"]["Rules"].as_sequence().expect("a key filter");
    let filter: Vec<(Option<&str>, Option<&str>)> =
        rules.iter().map(|r| (r["Name"].as_str(), r["Value"].as_str())).collect();
    assert_eq!(filter, [(Some("prefix"), Some(jobq::handlers::ingest::UPLOADS_PREFIX))]);
    assert!(!jobq::store::BLOB_PREFIX.starts_with(jobq::handlers::ingest::UPLOADS_PREFIX));
    assert!(!jobq::handlers::ingest::UPLOADS_PREFIX.starts_with(jobq::store::BLOB_PREFIX));

    let rules = bucket["LifecycleConfiguration"]["Rules"].as_sequence().expect("lifecycle rules");
    let expiring: Vec<&Value> = rules
        .iter()
        .filter(|r| {
            r["Status"].as_str() == Some("Enabled") && r["Prefix"].as_str() == Some(jobq::store::BLOB_PREFIX)
        })
        .collect();
    assert_eq!(expiring.len(), 1, "{rules:?}");
    let parameter = match &expiring[0]["ExpirationInDays"] {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Ref" => t.value.as_str(),
        _ => None,
    };
    let days = number(&template["Parameters"][parameter.expect("a parameter")]["Default"]);
    assert_eq!(days, u64::from(jobq::store::SPILL_EXPIRATION_DAYS));
    let retention = number(&template["Parameters"]["RetentionDays"]["Default"]);
    let longest_delay = jobq::api::input::MAX_DELAY_SECONDS as u64 / 86_400;
    assert!(days > longest_delay + retention, "{days} days");
}

/// A notification AWS failed (throttled) is sent back to the ingest queue with a delay, or brought
/// back early: minutes, not the queue's 90-minute visibility.
#[test]
fn the_ingest_function_may_send_back_and_bring_back_the_notifications_it_consumes() {
    let template = load("template.yaml");
    let functions = resources_of(&template, "AWS::Serverless::Function");
    let ingest = functions.iter().find(|(n, _)| n == "IngestFunction").expect("ingest function").1;
    let consumed: BTreeSet<String> = ingest["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(_, event)| get_att_arn(&event["Properties"]["Queue"]))
        .collect();
    assert_eq!(consumed, BTreeSet::from(["IngestQueue".to_owned()]));
    assert_eq!(allowed(ingest, "sqs:ChangeMessageVisibility"), consumed);
    assert!(allowed(ingest, "sqs:SendMessage").contains("IngestQueue"));
}

#[test]
fn the_functions_get_every_variable_the_config_needs() {
    let template = load("template.yaml");
    let vars = template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().expect("variables");
    let names: BTreeSet<String> = vars.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    let config = jobq::Config::from_lookup(|k| {
        names.contains(k).then(|| if k == "JOBQ_RETENTION_DAYS" { "7".into() } else { "https://x/q".into() })
    });
    assert!(config.is_ok(), "{config:?}");
    assert_eq!(
        number(&vars[&Value::from("JOBQ_VISIBILITY_TIMEOUT_SECONDS")]),
        u64::from(resources::QUEUE_VISIBILITY_TIMEOUT_SECONDS)
    );
    let buckets = resources_of(&template, "AWS::S3::Bucket");
    assert!(text(&buckets[0].1["BucketName"]).is_some_and(|b| b.starts_with(&names_bucket())));
}

/// Each function's S3 actions, with the resource (as written) each is allowed on.
fn s3_grants(function: &Value) -> BTreeSet<(String, String)> {
    let statements = function["Policies"].as_sequence().into_iter().flatten();
    statements
        .flat_map(|policy| policy["Statement"].as_sequence().into_iter().flatten())
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .flat_map(|s| {
            let actions: Vec<String> = match &s["Action"] {
                Value::Sequence(a) => a.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                one => one.as_str().map(str::to_owned).into_iter().collect(),
            };
            let resource = text(&s["Resource"])
                .or_else(|| get_att_arn(&s["Resource"]).map(|r| format!("{r}.Arn")))
                .unwrap_or_else(|| format!("{:?}", s["Resource"]));
            actions.into_iter().filter(|a| a.starts_with("s3:")).map(move |a| (a, resource.clone()))
        })
        .collect()
}

#[test]
fn only_the_api_worker_and_counter_reach_the_stores_objects_under_its_prefix() {
    let template = load("template.yaml");
    let objects = format!("${{UploadsBucket.Arn}}/{}*", jobq::store::BLOB_PREFIX);
    let grant = |action: &str, resource: &str| (action.to_owned(), resource.to_owned());
    for (name, function) in resources_of(&template, "AWS::Serverless::Function") {
        let expected: BTreeSet<(String, String)> = match name.as_str() {
            "ApiFunction" => [
                grant("s3:ListBucket", "UploadsBucket.Arn"),
                grant("s3:GetObject", &objects),
                grant("s3:PutObject", &objects),
                grant("s3:DeleteObject", &objects),
            ]
            .into(),
            "WorkerFunction" => [
                grant("s3:GetObject", &objects),
                grant("s3:PutObject", &objects),
                grant("s3:DeleteObject", &objects),
            ]
            .into(),
            // It deletes the objects of jobs the stream shows removed by TTL.
            "CounterFunction" => [grant("s3:DeleteObject", &objects)].into(),
            _ => BTreeSet::new(),
        };
        assert_eq!(s3_grants(function), expected, "{name}");
    }
}

fn names_bucket() -> String {
    names().bucket()
}

#[test]
fn the_deploy_role_trusts_one_repository_and_nothing_wider() {
    let template = load("github-oidc.yaml");
    let roles = resources_of(&template, "AWS::IAM::Role");
    // The deploy role (GitHub's) and the CloudFormation execution role it passes, which only
    // CloudFormation may assume.
    assert_eq!(roles.len(), 2);
    let trusts =
        |role: &Value| format!("{:?}", role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]);
    let (github, execution): (Vec<_>, Vec<_>) =
        roles.iter().partition(|(_, r)| trusts(r).contains("Federated"));
    assert_eq!(execution.len(), 1);
    let principal = &execution[0].1["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(principal.as_sequence().map(Vec::len), Some(1));
    assert_eq!(principal[0]["Principal"]["Service"].as_str(), Some("cloudformation.amazonaws.com"));
    let statements = github[0].1["AssumeRolePolicyDocument"]["Statement"].as_sequence().expect("statements");
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["Action"].as_str(), Some("sts:AssumeRoleWithWebIdentity"));
    let conditions = statement["Condition"].as_mapping().expect("conditions");
    let operators: Vec<&str> = conditions.keys().filter_map(Value::as_str).collect();
    assert_eq!(operators, ["StringEquals"], "no StringLike: wildcards would match other repositories");
    let equals = &statement["Condition"]["StringEquals"];
    assert_eq!(equals["token.actions.githubusercontent.com:aud"].as_str(), Some("sts.amazonaws.com"));
    let subjects: Vec<String> = equals["token.actions.githubusercontent.com:sub"]
        .as_sequence()
        .expect("sub list")
        .iter()
        .map(|s| text(s).expect("sub string"))
        .collect();
    assert_eq!(subjects.len(), 2);
    for subject in &subjects {
        assert!(subject.starts_with("repo:${GitHubOwner}/${GitHubRepository}:"), "{subject}");
        assert!(!subject.contains('*'), "{subject}");
    }
    assert!(subjects.iter().any(|s| s.ends_with(":ref:refs/heads/main")));
    assert!(subjects.iter().any(|s| s.ends_with(":environment:${DeployEnvironment}")));
    for parameter in ["GitHubOwner", "GitHubRepository", "DeployEnvironment"] {
        let pattern = template["Parameters"][parameter]["AllowedPattern"].as_str().expect("pattern");
        assert!(!pattern.contains('*') || pattern.ends_with("]+$"), "{parameter} admits no wildcard");
        assert!(!pattern.contains("\\*"), "{parameter}");
    }
}

/// Every metric an alarm watches, as `namespace/metric`, with the resources its dimensions name.
fn watched(alarm: &Value) -> Vec<(String, Vec<String>)> {
    let mut stats: Vec<&Value> = vec![alarm];
    for query in alarm["Metrics"].as_sequence().into_iter().flatten() {
        stats.push(&query["MetricStat"]["Metric"]);
    }
    stats
        .into_iter()
        .filter(|m| !m["MetricName"].is_null())
        .map(|m| {
            let namespace = text(&m["Namespace"]).unwrap_or_default();
            let dimensions = m["Dimensions"].as_sequence().into_iter().flatten();
            // `!Ref X`, `!GetAtt X.Attribute` or a plain value: X, or the value.
            let named = dimensions
                .filter_map(|d| match &d["Value"] {
                    Value::Tagged(t) => t.value.as_str().and_then(|s| s.split('.').next()).map(str::to_owned),
                    other => other.as_str().map(str::to_owned),
                })
                .collect();
            (format!("{namespace}/{}", text(&m["MetricName"]).unwrap_or_default()), named)
        })
        .collect()
}

/// Alarms that can fire: job failures and failed parts of scheduler runs from this stack's EMF
/// namespace (which every function writes to, one per stack), dead letters by the DLQs' receives (the dead-letter function
/// empties them within seconds, so their depth would hardly ever show one), throttling of the
/// table and of every function, and the API's 5xx. Every function logs at the stack's level.
#[test]
fn alarms_watch_what_fails_and_each_stack_has_its_own_metrics() {
    let template = load("template.yaml");
    let vars = &template["Globals"]["Function"]["Environment"]["Variables"];
    let namespace = text(&vars["JOBQ_METRICS_NAMESPACE"]).expect("JOBQ_METRICS_NAMESPACE");
    assert!(namespace.contains("${AWS::StackName}"), "one namespace per stack: {namespace}");
    assert_eq!(jobq::metrics::namespace_from(Some("jobq/jobq-prod")), "jobq/jobq-prod", "a valid namespace");

    let alarms: Vec<(String, Vec<String>)> =
        resources_of(&template, "AWS::CloudWatch::Alarm").into_iter().flat_map(|(_, a)| watched(a)).collect();
    let watches = |metric: &str, resource: &str| {
        alarms
            .iter()
            .any(|(m, named)| m == metric && (resource.is_empty() || named.iter().any(|n| n == resource)))
    };
    assert!(watches(&format!("{namespace}/JobsFailed"), ""), "job failures: {alarms:?}");
    let scheduler_failures = format!("{namespace}/{}", jobq::handlers::scheduler::FAILURES_METRIC);
    assert!(watches(&scheduler_failures, ""), "failed parts of scheduler runs: {alarms:?}");
    for dlq in ["HighDeadLetterQueue", "NormalDeadLetterQueue", "LowDeadLetterQueue"] {
        assert!(watches("AWS/SQS/NumberOfMessagesReceived", dlq), "{dlq} letters: {alarms:?}");
        assert!(!watches("AWS/SQS/ApproximateNumberOfMessagesVisible", dlq), "{dlq}: depth hardly fires");
    }
    assert!(watches("AWS/DynamoDB/ReadThrottleEvents", "JobsTable"));
    assert!(watches("AWS/DynamoDB/WriteThrottleEvents", "JobsTable"));
    assert!(watches("AWS/ApiGateway/5xx", "HttpApi"));
    for (function, properties) in resources_of(&template, "AWS::Serverless::Function") {
        assert!(watches("AWS/Lambda/Throttles", &function), "{function} throttles");
        assert!(watches("AWS/Lambda/Errors", &function), "{function} errors");
        let logging = &properties["LoggingConfig"];
        assert_eq!(reference(&logging["ApplicationLogLevel"]).as_deref(), Some("LogLevel"), "{function}");
        assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{function}: levels need JSON logs");
        assert!(reference(&logging["LogGroup"]).is_some(), "{function}: its log group, with a retention");
    }
    assert_eq!(jobq::telemetry::lambda_directives(None, Some("DEBUG")).as_deref(), Some("debug"));
}
