//! Jobs whose parts outgrow a DynamoDB item, through the real router, service and worker on the
//! in-memory ports: large payloads and results go to the bucket and come back as if inline; a
//! result that cannot be stored fails its job at once, saying why; without a bucket, a payload too
//! large for a record is refused at enqueue; small fields are bounded; progress and lease writes
//! ask for nothing back.

mod bounds;
mod bucket_faults;
mod round_trips;

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::DateTime;
use jobq::Ports;
use jobq::adapters::memory::{MemoryBlobs, MemoryTable};
use jobq::api::ApiSettings;
use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::ManualClock;
use serde_json::Value;
use tower::ServiceExt;

const KIB: usize = 1024;

/// Its result is a string of `bytes` bytes, whatever its payload.
struct Inflate;

impl Task for Inflate {
    type Input = usize;

    fn job_type(&self) -> &'static str {
        "inflate"
    }

    async fn run(&self, _ctx: &JobContext, bytes: usize) -> Result<TaskOutput, JobError> {
        Ok(TaskOutput::Completed(Value::String("r".repeat(bytes))))
    }
}

/// Reports a progress message of `bytes` bytes, then fails with an error message as long.
struct Chatty;

impl Task for Chatty {
    type Input = usize;

    fn job_type(&self) -> &'static str {
        "chatty"
    }

    async fn run(&self, ctx: &JobContext, bytes: usize) -> Result<TaskOutput, JobError> {
        ctx.progress(50, Some(&"s".repeat(bytes)), Some(&"m".repeat(bytes))).await?;
        Err(JobError::fatal("e".repeat(bytes)))
    }
}

struct Stack {
    clock: ManualClock,
    ports: Ports,
    blobs: Option<MemoryBlobs>,
    service: JobService,
    api: axum::Router,
    worker: Worker,
    table: MemoryTable,
}

/// The stack; with a bucket for large parts when `bucket`.
fn stack(bucket: bool) -> Stack {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    let (mut ports, aws) = Ports::memory(Arc::new(clock.clone())).expect("memory ports");
    let blobs = bucket.then(MemoryBlobs::default);
    if let Some(blobs) = &blobs {
        ports = ports.with_blobs(Arc::new(blobs.clone()));
    }
    let mut registry = Registry::with_builtins();
    registry.register(Inflate).register(Chatty);
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let api = jobq::api::router(service.clone(), ApiSettings::default());
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { clock, ports, blobs, service, api, worker, table: aws.table }
}

impl Stack {
    async fn call(&self, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.map(Value::to_string).unwrap_or_default()))
            .expect("request");
        let response = self.api.clone().oneshot(request).await.expect("router never fails");
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    fn bucket_keys(&self) -> Vec<String> {
        self.blobs.as_ref().map(MemoryBlobs::keys).unwrap_or_default()
    }
}

/// A JSON string of `bytes` bytes (quotes included).
fn text_of(bytes: usize) -> Value {
    Value::String("p".repeat(bytes - 2))
}

fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map(|s| s.len()).unwrap_or(0)
}
