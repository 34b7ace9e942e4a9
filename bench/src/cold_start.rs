//! Cold start of each function, served by the deployment's one release binary (`jobq-lambda`,
//! told which function it is by `JOBQ_FUNCTION` as the template tells it), under the Runtime API: from spawning the
//! process to its first `GET .../invocation/next` (init: runtime, config, clients), and to its
//! answer to a first, realistic event (first event: init plus the first handler run, which opens
//! the first connections). Each function is started several times; medians are reported.

use std::time::Duration;

use chrono::Utc;
use jobq::{Job, JobStatus, NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::{Value, json};

use crate::figure::{BenchError, Result, binary_dir, emit, median, ms, round};
use crate::lambda_runtime::{FunctionProcess, RuntimeApi};

pub const RUNS: usize = 5;
pub const TARGET_INIT_MS: f64 = 30.0;
pub const FUNCTIONS: [&str; 5] = ["api", "worker", "dlq", "ingest", "scheduler"];
/// The one binary every function of the deployment runs.
pub const BINARY: &str = "jobq-lambda";

pub async fn run() {
    let env = TestEnv::new().await;
    let mut all_met = true;
    let mut rows = serde_json::Map::new();
    for function in FUNCTIONS {
        let row = match measure(&env, function).await {
            Ok(row) => row,
            Err(err) => json!({"error": err.to_string()}),
        };
        all_met &= row["init_ms"]["median"].as_f64().is_some_and(|m| m < TARGET_INIT_MS);
        rows.insert(function.to_owned(), row);
    }
    emit(&json!({
        "figure": "cold_start",
        "binary": BINARY,
        "runs_per_function": RUNS,
        "functions": rows,
        "unit": "ms from spawn (init: to the first GET /next; first_event: to the first response)",
        "target": format!("init median < {TARGET_INIT_MS} ms for every function"),
        "met": all_met,
    }));
}

/// The settings a function needs, as its Lambda environment holds them.
pub fn function_env(env: &TestEnv, function: &str) -> Vec<(String, String)> {
    let mut vars = env.config.to_env();
    vars.push((jobq::runtime::FUNCTION_VAR.into(), function.into()));
    if function == "ingest" {
        vars.push(("JOBQ_INGEST_RULES".into(), json!([{"prefix": "bench/", "type": "noop"}]).to_string()));
        vars.push(("JOBQ_INGEST_DLQ_URL".into(), env.provisioned.ingest_dlq.clone()));
    }
    vars
}

async fn measure(env: &TestEnv, function: &str) -> Result<Value> {
    let name = format!("jobq-{function}");
    let binary = binary_dir()?.join(BINARY);
    let vars = function_env(env, function);
    let (mut init, mut first) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (event, expect) = first_event(env, function).await?;
        let mut api = RuntimeApi::start(&name, Duration::from_secs(60)).await?;
        api.invoke(&event)?;
        let process = FunctionProcess::spawn(&binary, &name, &api, &vars)?;
        let spawned_at = process.spawned_at;
        let answer = api.answer(Duration::from_secs(30)).await;
        let log = process.log();
        process.stop().await;
        let fail = |reason: String| BenchError::unexpected(&name, format!("{reason}\nlog:\n{log}"));
        let answer = answer.map_err(|e| fail(e.to_string()))?;
        let body = answer.body.clone().map_err(|e| fail(String::from_utf8_lossy(&e).into_owned()))?;
        let body: Value = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        expect.verify(env, &body).await.map_err(|e| fail(e.to_string()))?;
        let first_next =
            api.first_next().ok_or_else(|| fail("answered without asking for an event".into()))?;
        init.push(ms(first_next - spawned_at));
        first.push(ms(answer.at - spawned_at));
    }
    let summary = |v: &[f64]| {
        json!({
            "median": median(v).map(round),
            "min": round(v.iter().copied().fold(f64::INFINITY, f64::min)),
            "max": round(v.iter().copied().fold(0.0, f64::max)),
        })
    };
    Ok(json!({"init_ms": summary(&init), "first_event_ms": summary(&first)}))
}

/// What a function's answer must show.
enum Expect {
    /// API Gateway response with this status.
    Http(u16),
    /// Partial batch response with no failures, and the job in this status afterwards.
    Batch(Option<(String, JobStatus)>),
    /// Any JSON (the scheduler's run summary).
    Summary,
}

impl Expect {
    async fn verify(&self, env: &TestEnv, body: &Value) -> Result<()> {
        let ok = match self {
            Expect::Http(status) => body["statusCode"].as_u64() == Some(u64::from(*status)),
            Expect::Batch(job) => {
                let no_failures = body["batchItemFailures"].as_array().is_some_and(Vec::is_empty);
                let job_ok = match job {
                    None => true,
                    Some((id, status)) => env.job(id).await.status == *status,
                };
                no_failures && job_ok
            }
            Expect::Summary => body.is_object(),
        };
        if ok { Ok(()) } else { Err(BenchError::unexpected("the first event's answer", body)) }
    }
}

/// A new `noop` job's record (created, not sent: the event carries its envelope).
async fn new_job(env: &TestEnv) -> Result<Job> {
    let job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, Utc::now());
    env.store().create(&job).await.map_err(|e| BenchError::unexpected("creating a job", e))?;
    Ok(job)
}

/// An SQS record as Lambda's event source mapping delivers it.
pub fn sqs_record(body: &str, arn: &str, attributes: Value) -> Value {
    let now = Utc::now().timestamp_millis().to_string();
    json!({
        "messageId": uuid::Uuid::new_v4().to_string(),
        "receiptHandle": format!("bench-{}", uuid::Uuid::new_v4().simple()),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "AROAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": attributes,
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    })
}

async fn first_event(env: &TestEnv, function: &str) -> Result<(Value, Expect)> {
    let tier = PriorityTier::Normal;
    let now = Utc::now();
    Ok(match function {
        "api" => (
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/health",
                "rawQueryString": "",
                "headers": {"accept": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com", "user-agent": "jobq-bench"},
                "requestContext": {
                    "accountId": "000000000000",
                    "apiId": "bench",
                    "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                    "domainPrefix": "bench",
                    "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "jobq-bench"},
                    "requestId": uuid::Uuid::new_v4().to_string(),
                    "routeKey": "$default",
                    "stage": "$default",
                    "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                    "timeEpoch": now.timestamp_millis(),
                },
                "isBase64Encoded": false,
            }),
            Expect::Http(200),
        ),
        "worker" => {
            let job = new_job(env).await?;
            let body = jobq::Envelope::new(&job.id, &job.job_type, tier, 0).encode();
            let record = sqs_record(&body, &env.arn(tier).await, json!({}));
            (json!({"Records": [record]}), Expect::Batch(Some((job.id, JobStatus::Completed))))
        }
        "dlq" => {
            let job = new_job(env).await?;
            let body = jobq::Envelope::new(&job.id, &job.job_type, tier, 0).encode();
            let arn = env.dlqs().arn(tier).await.map_err(|e| BenchError::unexpected("DLQ arn", e))?;
            let reason = json!({"stringValue": "attempts_exhausted", "stringListValues": [], "binaryListValues": [], "dataType": "String"});
            let record = sqs_record(&body, &arn, json!({ jobq::queue::REASON_ATTRIBUTE: reason }));
            // A dead letter of a job that never ran leaves it queued for the lost-message walk
            // (Lambda throttles return messages unrun): the handler reads the record and decides.
            (json!({"Records": [record]}), Expect::Batch(Some((job.id, JobStatus::Queued))))
        }
        "ingest" => {
            let key = format!("bench/{}.pdf", uuid::Uuid::new_v4().simple());
            let notification = json!({"Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": jobq::domain::model::format_time(now),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "jobq-ingest",
                    "bucket": {"name": env.provisioned.bucket, "arn": format!("arn:aws:s3:::{}", env.provisioned.bucket)},
                    "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0065A1B2C3D4E5F6"},
                },
            }]});
            let ingest = jobq::queue::TierQueues::new(
                env.clients.sqs.clone(),
                jobq::PerTier::from_fn(|_| env.provisioned.ingest_queue.clone()),
            );
            let arn = ingest.arn(tier).await.map_err(|e| BenchError::unexpected("ingest queue arn", e))?;
            let record = sqs_record(&notification.to_string(), &arn, json!({}));
            (json!({"Records": [record]}), Expect::Batch(None))
        }
        _ => (
            json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "000000000000",
                "time": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:000000000000:rule/jobq-scheduler"],
                "detail": {},
            }),
            Expect::Summary,
        ),
    })
}
