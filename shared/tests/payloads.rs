//! Typed payloads at the door, on the in-memory ports: every route that creates jobs (`POST
//! /jobs`, its pipeline steps, the batch route, schedules, S3 ingest) refuses a payload that does
//! not fit its type's input, naming the field, and writes nothing for it; and `/openapi.json`
//! holds each registered type's payload schema.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use chrono::DateTime;
use jobq::adapters::memory::QueueSettings;
use jobq::api::ApiSettings;
use jobq::config::ConfigError;
use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use jobq::handlers::ingest::{IngestHandler, IngestRules};
use jobq::handlers::scheduler::{SchedulerSettings, TickPart, check_recurring, parse_recurring};
use jobq::ports::ManualClock;
use jobq::queue::{MessageQueue, REASON_ATTRIBUTE, Receive};
use jobq::wiring::MemoryAws;
use jobq::{JobStatus, Ports};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A type whose payload must carry an object's key and size: the ingest rule fills both, but
/// S3 leaves the size out of some notifications.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Upload {
    #[allow(dead_code)]
    key: String,
    #[allow(dead_code)]
    size: u64,
}

struct Index;

impl Task for Index {
    type Input = Upload;

    fn job_type(&self) -> &'static str {
        "index"
    }

    async fn run(&self, _ctx: &JobContext, _input: Upload) -> Result<TaskOutput, JobError> {
        Ok(TaskOutput::completed(Value::Null))
    }
}

fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    registry.register(Index);
    registry
}

fn ports() -> (Ports, MemoryAws) {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    Ports::memory(Arc::new(clock)).expect("memory ports")
}

fn api(ports: &Ports, aws: &MemoryAws) -> axum::Router {
    jobq::api::router(ports.service(&aws.config, registry().job_types()), ApiSettings::default())
}

async fn send(api: &axum::Router, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = axum::http::Request::builder().method(method).uri(path);
    let request = request.header(header::CONTENT_TYPE, "application/json");
    let body = body.map_or_else(axum::body::Body::empty, |b| axum::body::Body::from(b.to_string()));
    let response = api.clone().oneshot(request.body(body).expect("request")).await.expect("router");
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

/// A 422 in the API's error shape naming `field`.
fn assert_refused(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(field) && message.contains("does not fit job type"), "{body}");
}

async fn queued(ports: &Ports) -> u64 {
    ports.store.count(JobStatus::Queued, None).await.expect("count")
}

#[tokio::test]
async fn post_jobs_refuses_a_payload_that_does_not_fit_naming_the_field() {
    let (ports, aws) = ports();
    let api = api(&ports, &aws);
    let cases = [
        (json!({"type": "sleep", "payload": {"seconds": "long"}}), "payload.seconds"),
        (json!({"type": "sleep", "payload": {"seconds": 1, "colour": "red"}}), "payload.colour"),
        (json!({"type": "sleep"}), "payload"),
        (json!({"type": "index", "payload": {"size": 3}}), "payload.key"),
        (json!({"type": "fail", "payload": {"until": "tomorrow"}}), "payload.until"),
        // A pipeline's step is checked with the job that carries it.
        (
            json!({"type": "noop", "next": [{"type": "index", "payload": {"key": "k", "size": -1}}]}),
            "next[0].payload.size",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = send(&api, Method::POST, "/jobs", Some(body)).await;
        assert_refused(status, &answer, field);
    }
    assert_eq!(queued(&ports).await, 0, "nothing written for a refused job");

    let good = json!({"type": "sleep", "payload": {"seconds": 0.5, "steps": 2},
                      "next": [{"type": "index", "payload": {"key": "k", "size": 3}}]});
    let (status, job) = send(&api, Method::POST, "/jobs", Some(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (status, job) =
        send(&api, Method::POST, "/jobs", Some(json!({"type": "echo", "payload": [1, "x"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "any JSON fits echo: {job}");
    assert_eq!(queued(&ports).await, 2);
}

#[tokio::test]
async fn a_batch_with_one_payload_that_does_not_fit_is_refused_whole_naming_it() {
    let (ports, aws) = ports();
    let api = api(&ports, &aws);
    let jobs = json!([{"type": "noop"}, {"type": "index", "payload": {"key": "k", "size": 1}},
                      {"type": "index", "payload": {"key": 7, "size": 1}}]);
    let (status, answer) = send(&api, Method::POST, "/jobs/batch", Some(json!({"jobs": jobs}))).await;
    assert_refused(status, &answer, "jobs[2].payload.key");
    let step = json!([{"type": "noop", "next": [{"type": "sleep", "payload": {"steps": "two"}}]}]);
    let (status, answer) = send(&api, Method::POST, "/jobs/batch", Some(json!({"jobs": step}))).await;
    assert_refused(status, &answer, "jobs[0].next[0].payload.steps");
    assert_eq!(queued(&ports).await, 0, "all or nothing: no job of a refused batch");

    let good = json!([{"type": "noop"}, {"type": "index", "payload": {"key": "k", "size": 1}}]);
    let (status, answer) = send(&api, Method::POST, "/jobs/batch", Some(json!({"jobs": good}))).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(queued(&ports).await, 2);
}

#[tokio::test]
async fn a_schedule_whose_payload_does_not_fit_fails_alone_naming_it_and_the_rest_runs() {
    let (ports, aws) = ports();
    let schedules = r#"[{"name": "reindex", "schedule": "rate(1 minute)", "type": "index", "payload": {"key": "k"}},
                        {"name": "beat", "schedule": "rate(1 minute)", "type": "noop"}]"#;
    let settings = || SchedulerSettings {
        recurring: parse_recurring(Some(schedules)).expect("schedules parse"),
        ..SchedulerSettings::from_lookup(|_| None).expect("settings")
    };
    let err = check_recurring(&settings().recurring, &registry().job_types()).expect_err("refused");
    let ConfigError::Invalid { var, value, reason } = &err else { panic!("{err}") };
    assert_eq!((var.as_str(), value.as_str()), ("JOBQ_SCHEDULES", "reindex"), "{err}");
    assert!(reason.contains("payload.size") && reason.contains("missing field `size`"), "{err}");
    // The scheduler starts all the same (its sweeps keep every other job moving); the schedule
    // fails at each due run, named, and the others are enqueued.
    let scheduler = ports.scheduler(&aws.config, registry().job_types(), settings()).expect("starts");
    let report =
        scheduler.tick(DateTime::from_timestamp(1_800_000_000, 0).expect("time")).await.expect("tick");
    assert_eq!(report.enqueued, 5, "the other schedule, for each of the 5 minutes caught up");
    assert_eq!(report.failures.len(), 5, "{report:?}");
    for failure in &report.failures {
        assert!(matches!(&failure.part, TickPart::Schedule { name, .. } if name == "reindex"), "{failure:?}");
        assert!(failure.error.contains("payload.size"), "{failure:?}");
    }

    // Fixed, every schedule enqueues.
    let fixed = schedules.replace(r#"{"key": "k"}"#, r#"{"key": "k", "size": 1}"#);
    let settings = SchedulerSettings {
        recurring: parse_recurring(Some(&fixed)).expect("schedules parse"),
        ..settings()
    };
    let scheduler = ports.scheduler(&aws.config, registry().job_types(), settings).expect("starts");
    let report =
        scheduler.tick(DateTime::from_timestamp(1_800_000_000, 0).expect("time")).await.expect("tick");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.enqueued, 5, "the fixed schedule; the other's runs are enqueued already");
}

#[test]
fn an_ingest_rule_whose_payloads_cannot_fit_stops_the_start_naming_it() {
    let types = registry().job_types();
    let fits = IngestRules::parse("T", r#"[{"prefix": "uploads/", "type": "index"}]"#).expect("rules");
    assert_eq!(fits.check_types(&types), Ok(()));
    let fixed_wrong =
        r#"[{"type": "echo"}, {"prefix": "uploads/", "type": "sleep", "payload": {"seconds": 1}}]"#;
    let err = IngestRules::parse("T", fixed_wrong).expect("rules").check_types(&types).expect_err("refused");
    // The object's own fields go into every payload, and `sleep` takes no `bucket`.
    assert!(err.to_string().contains("rules[1]: payload.bucket"), "{err}");
    let unknown = IngestRules::parse("T", r#"[{"type": "ocr"}]"#).expect("rules").check_types(&types);
    assert!(unknown.expect_err("refused").to_string().contains("unknown job type \"ocr\""));
}

/// An upload whose job would be refused goes to the ingest DLQ with why; the others of the
/// same notification become jobs, and the notification is done with.
#[tokio::test]
async fn an_upload_that_cannot_become_a_valid_job_is_dead_lettered_with_its_reason() {
    let (ports, aws) = ports();
    let dlq = aws.queues.create_queue("ingest-dlq", QueueSettings::new(30)).expect("dlq");
    let port: Arc<dyn MessageQueue> = aws.queues.clone();
    let service = ports.service(&aws.config, registry().job_types());
    let rules = IngestRules::parse("T", r#"[{"prefix": "uploads/", "type": "index"}]"#).expect("rules");
    let handler = IngestHandler::new(service, rules, Some((port.clone(), dlq.clone())));
    let record = |key: &str, size: Option<u64>| {
        json!({"eventName": "ObjectCreated:Put", "eventTime": "2026-12-07T03:00:00.000Z",
               "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": size, "eTag": "e", "sequencer": "0A"}}})
    };
    let body =
        json!({"Records": [record("uploads/a.pdf", Some(3)), record("uploads/b.pdf", None)]}).to_string();
    let message = jobq::queue::Received {
        message_id: "m1".into(),
        receipt_handle: "r1".into(),
        body: body.clone(),
        receive_count: 1,
        attributes: Default::default(),
        sent_at: None,
    };
    let response = handler
        .handle(jobq::handlers::worker::sqs_event(&[message], "arn:aws:sqs:us-east-1:0:ingest", "memory"))
        .await;
    assert!(response.batch_item_failures.is_empty(), "done with: dead-lettered, not retried");
    assert_eq!(queued(&ports).await, 1, "the upload that fits became its job");
    let letters = port.receive(&dlq, &Receive::new(10, 0, None)).await.expect("receive");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].body, body, "the whole notification is kept");
    let reason = letters[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str).unwrap_or_default();
    assert!(reason.starts_with("invalid_job: s3://b/uploads/b.pdf: payload.size"), "{reason}");
    assert!(!reason.contains("a.pdf"), "{reason}");
}

#[tokio::test]
async fn the_document_holds_each_registered_type_s_payload_schema() {
    let (ports, aws) = ports();
    let (status, doc) = send(&api(&ports, &aws), Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    for job_type in ["echo", "fail", "noop", "sleep", "index"] {
        assert!(
            schemas[format!("Payload.{job_type}")].is_object()
                || schemas[format!("Payload.{job_type}")] == json!(true),
            "{job_type}"
        );
    }
    assert_eq!(schemas["Payload.index"], json!({"$ref": "#/components/schemas/Input.Upload"}));
    assert_eq!(schemas["Input.Upload"]["required"], json!(["key", "size"]));
    assert_eq!(schemas["Payload.sleep"], json!({"$ref": "#/components/schemas/Input.SleepInput"}));
    assert_eq!(schemas["Input.SleepInput"]["additionalProperties"], json!(false));
    // A job spec is one of the types, each with its own payload; required where null does not fit.
    let variants = schemas["NewJob"]["oneOf"].as_array().expect("oneOf");
    let index = variants.iter().find(|v| v["properties"]["type"]["const"] == "index").expect("index");
    assert_eq!(index["properties"]["payload"]["$ref"], "#/components/schemas/Payload.index");
    assert_eq!(index["required"], json!(["type", "payload"]));
    let echo = variants.iter().find(|v| v["properties"]["type"]["const"] == "echo").expect("echo");
    assert_eq!(echo["required"], json!(["type"]));
    assert_eq!(schemas["NewStep"]["oneOf"].as_array().map(Vec::len), Some(5));
    // Every reference points at a schema the document has.
    let text = doc.to_string();
    for target in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &target[..target.find('"').expect("end")];
        assert!(schemas.get(name).is_some(), "{name} is referred to but not defined");
    }
}
