//! Real AWS SDK clients whose HTTP layer answers from memory: the worker's per-job CPU is
//! measured with everything real (request building, signing, serialisation, response parsing)
//! except the network and the service.
//!
//! [`NoopTable`] answers the DynamoDB requests of a `noop` run: the pause flags read, the claim,
//! and the finish. Its answers are job items encoded by the store itself:
//! at setup each job state goes through `DynamoJobStore::create`, whose PutItem is captured here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::Utc;
use jobq::handlers::worker::{Worker, WorkerSettings};
use jobq::store::{DynamoJobStore, keys};
use jobq::{Config, Envelope, Job, JobStatus, NewJob, PerTier, PriorityTier};
use serde_json::{Value, json};

use crate::figure::{BenchError, Result};

/// A request as kept while recording: its target and body.
pub type Recorded = (String, Vec<u8>);

/// A job's two answers: to its claim, and to its finish.
type Answers = (Vec<u8>, Vec<u8>);

/// An HTTP status and a JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply { status: 200, body: body.into() }
    }

    /// The error shape of the AWS JSON protocols.
    pub fn error(kind: &str, message: &str) -> Self {
        let body = json!({"__type": kind, "message": message}).to_string();
        Reply { status: 400, body: body.into_bytes() }
    }
}

/// Answers one request, given its `X-Amz-Target` (e.g. `DynamoDB_20120810.UpdateItem`) and body.
pub trait Respond: Send + Sync + std::fmt::Debug {
    fn respond(&self, target: &str, body: &[u8]) -> Reply;
}

/// An `HttpConnector` that hands every request to a [`Respond`].
#[derive(Debug, Clone)]
pub struct MemoryAws {
    responder: Arc<dyn Respond>,
    requests: Arc<AtomicU64>,
    recording: Arc<AtomicBool>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl MemoryAws {
    pub fn new(responder: Arc<dyn Respond>) -> Self {
        MemoryAws { responder, requests: Arc::default(), recording: Arc::default(), recorded: Arc::default() }
    }

    /// Keep (or stop keeping) a copy of every request's target and body.
    pub fn record(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// The requests kept while recording, as (target, body).
    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Answer a request without HTTP: what the connector adds to each request's cost.
    pub fn respond(&self, target: &str, body: &[u8]) -> Reply {
        self.responder.respond(target, body)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn http_client(&self) -> SharedHttpClient {
        let connector = SharedHttpConnector::new(self.clone());
        http_client_fn(move |_, _| connector.clone())
    }

    /// SDK settings as in Lambda (region, static credentials, default retries and timeouts), with
    /// this connector as the HTTP client. The endpoint is a name that is never resolved.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "bench", "bench", None, None, "memory",
            ))
            .endpoint_url("http://aws.memory.invalid")
            .http_client(self.http_client())
            .load()
            .await
    }
}

impl HttpConnector for MemoryAws {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        if self.recording.load(Ordering::Relaxed)
            && let Ok(mut recorded) = self.recorded.lock()
        {
            recorded.push((target.to_owned(), body.to_vec()));
        }
        let reply = self.responder.respond(target, body);
        let status = match StatusCode::try_from(reply.status) {
            Ok(status) => status,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::other(err.into(), None))),
        };
        let mut response = HttpResponse::new(status, SdkBody::from(reply.body));
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

/// The DynamoDB side of `noop` runs, from memory. Every delivery of a known job is claimed and
/// then completed, however often it comes (each benchmark iteration replays the same batch).
#[derive(Debug, Default)]
pub struct NoopTable {
    /// Job partition key -> (claim answer, finish answer).
    jobs: RwLock<HashMap<String, Answers>>,
    captured: Mutex<Vec<Value>>,
    pub claims: AtomicU64,
    pub finishes: AtomicU64,
    /// Updates of items that are no job (the worker should make none).
    pub other_updates: AtomicU64,
    pub reads: AtomicU64,
}

impl NoopTable {
    /// The item `job` is stored as, encoded by the store (its PutItem, captured).
    async fn encode(&self, store: &DynamoJobStore, job: &Job) -> Result<Value> {
        store.create(job).await.map_err(|e| BenchError::unexpected("capturing an item", e))?;
        let captured = self.captured.lock().map_err(|_| BenchError::Setup("poisoned lock".into()))?.pop();
        captured.ok_or_else(|| BenchError::Setup("the store's PutItem carried no item".into()))
    }

    fn insert(&self, pk: String, claim: &Value, finish: &Value) -> Result<()> {
        let answer = |item: &Value| json!({ "Attributes": item }).to_string().into_bytes();
        self.jobs
            .write()
            .map_err(|_| BenchError::Setup("poisoned lock".into()))?
            .insert(pk, (answer(claim), answer(finish)));
        Ok(())
    }
}

/// The partition key value of a request's `Key` (`"Key":{"pk":{"S":"..."}}`), without parsing
/// the whole body: this answer's own cost should stay out of the figure.
fn key_of(body: &str) -> Option<&str> {
    let key = &body[body.find("\"Key\":")?..];
    let value = &key[key.find("\"S\":\"")? + 5..];
    Some(&value[..value.find('"')?])
}

impl Respond for NoopTable {
    fn respond(&self, target: &str, body: &[u8]) -> Reply {
        // The worker hides each batch's messages for a first lease: one request per batch.
        if target == "AmazonSQS.ChangeMessageVisibilityBatch" {
            return Reply::ok(r#"{"Successful":[],"Failed":[]}"#);
        }
        let Some(operation) = target.strip_prefix("DynamoDB_20120810.") else {
            return Reply::error("UnknownOperationException", target);
        };
        let Ok(body) = std::str::from_utf8(body) else {
            return Reply::error("SerializationException", "body is not UTF-8");
        };
        match operation {
            "GetItem" => {
                self.reads.fetch_add(1, Ordering::Relaxed);
                Reply::ok("{}")
            }
            "PutItem" => {
                let item = serde_json::from_str::<Value>(body)
                    .ok()
                    .and_then(|mut v| v.get_mut("Item").map(Value::take));
                match (item, self.captured.lock()) {
                    (Some(item), Ok(mut captured)) => {
                        captured.push(item);
                        Reply::ok("{}")
                    }
                    _ => Reply::error("ValidationException", "PutItem without an Item"),
                }
            }
            "UpdateItem" => {
                let Some(pk) = key_of(body) else {
                    return Reply::error("ValidationException", "UpdateItem without a Key");
                };
                let Ok(jobs) = self.jobs.read() else {
                    return Reply::error("InternalServerError", "poisoned lock");
                };
                match jobs.get(pk) {
                    // The finish writes the terminal status; the claim only names the statuses it
                    // starts from.
                    Some((_, finish)) if body.contains("\"completed\"") => {
                        self.finishes.fetch_add(1, Ordering::Relaxed);
                        Reply::ok(finish.clone())
                    }
                    Some((claim, _)) => {
                        self.claims.fetch_add(1, Ordering::Relaxed);
                        Reply::ok(claim.clone())
                    }
                    None => {
                        self.other_updates.fetch_add(1, Ordering::Relaxed);
                        Reply::ok("{}")
                    }
                }
            }
            other => Reply::error("UnknownOperationException", other),
        }
    }
}

/// A worker on in-memory AWS, and the SQS event of `records` noop envelopes (as JSON, the way
/// Lambda hands it over).
#[derive(Debug)]
pub struct NoopBatch {
    pub worker: Worker,
    pub event_json: Vec<u8>,
    pub table: Arc<NoopTable>,
    pub aws: MemoryAws,
    pub records: usize,
}

impl NoopBatch {
    pub async fn new(records: usize) -> Result<NoopBatch> {
        let table = Arc::new(NoopTable::default());
        let aws = MemoryAws::new(table.clone());
        let clients = jobq::adapters::aws::Clients::new(&aws.sdk_config().await);
        let queue_url = |name: String| format!("http://aws.memory.invalid/000000000000/{name}");
        let config = Config {
            table: "bench-jobs".into(),
            queues: PerTier::from_fn(|t| queue_url(format!("bench-{t}"))),
            dlqs: PerTier::from_fn(|t| queue_url(format!("bench-{t}-dlq"))),
            ingest_queue: None,
            bucket: None,
            retention: chrono::Duration::days(jobq::config::DEFAULT_RETENTION_DAYS),
        };
        let store = DynamoJobStore::new(clients.dynamodb.clone(), &config.table, config.retention);
        let now = Utc::now();
        let tier = PriorityTier::Normal;
        let mut messages = Vec::with_capacity(records);
        for i in 0..records {
            let job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now);
            let mut claimed = job.clone();
            claimed.status = JobStatus::Processing;
            claimed.attempts = 1;
            claimed.started_at = Some(now);
            claimed.lease_until = Some(now + chrono::Duration::seconds(5400));
            let mut finished = claimed.clone();
            finished.status = JobStatus::Completed;
            finished.progress = 100;
            finished.completed_at = Some(now);
            finished.duration_ms = Some(0);
            finished.wait_ms = Some(0);
            finished.lease_until = None;
            let claim = table.encode(&store, &claimed).await?;
            let finish = table.encode(&store, &finished).await?;
            table.insert(keys::job_pk(&job.id), &claim, &finish)?;

            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m{i}"));
            message.receipt_handle = Some(format!("r{i}"));
            message.body = Some(Envelope::new(&job.id, "noop", tier, 0).encode());
            // As Lambda passes them: the send time lets cached pause flags serve the batch.
            let sent = (now - chrono::Duration::seconds(1)).timestamp_millis().to_string();
            message.attributes = HashMap::from([
                ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
                ("SentTimestamp".to_owned(), sent),
            ]);
            message.event_source = Some("aws:sqs".into());
            message.event_source_arn = Some(format!("arn:aws:sqs:us-east-1:000000000000:bench-{tier}"));
            message.aws_region = Some("us-east-1".into());
            messages.push(message);
        }
        let mut event = SqsEvent::default();
        event.records = messages;
        let event_json = serde_json::to_vec(&event).map_err(|e| BenchError::unexpected("event", e))?;
        let worker = jobq::Ports::aws(&clients, &config)
            .worker(jobq::domain::task::Registry::with_builtins(), WorkerSettings::default());
        Ok(NoopBatch { worker, event_json, table, aws, records })
    }

    /// One invocation as Lambda makes it: the event from JSON, the batch run, the response to
    /// JSON. Returns the response.
    pub async fn invoke(&self) -> Result<Vec<u8>> {
        let event: SqsEvent =
            serde_json::from_slice(&self.event_json).map_err(|e| BenchError::unexpected("event", e))?;
        let response = self.worker.handle(event, None).await;
        serde_json::to_vec(&response).map_err(|e| BenchError::unexpected("response", e))
    }

    /// One invocation, checked: every record acknowledged, each job claimed and finished once.
    pub async fn invoke_checked(&self) -> Result<()> {
        let before = (self.table.claims.load(Ordering::Relaxed), self.table.finishes.load(Ordering::Relaxed));
        let response: Value = serde_json::from_slice(&self.invoke().await?)
            .map_err(|e| BenchError::unexpected("response", e))?;
        let failures = response["batchItemFailures"].as_array().map(Vec::len).unwrap_or(usize::MAX);
        let claims = self.table.claims.load(Ordering::Relaxed) - before.0;
        let finishes = self.table.finishes.load(Ordering::Relaxed) - before.1;
        if failures != 0 || claims != self.records as u64 || finishes != self.records as u64 {
            return Err(BenchError::unexpected(
                "a noop batch from memory",
                format!(
                    "response {response}, {claims} claims and {finishes} finishes for {} records",
                    self.records
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_read_from_an_update_request() {
        let body = r#"{"TableName":"t","Key":{"pk":{"S":"JOB#abc"}},"UpdateExpression":"SET #a = :a"}"#;
        assert_eq!(key_of(body), Some("JOB#abc"));
        assert_eq!(key_of(r#"{"TableName":"t"}"#), None);
    }

    #[tokio::test]
    async fn a_noop_batch_runs_from_memory() {
        let batch = NoopBatch::new(10).await.expect("setup");
        batch.invoke_checked().await.expect("first batch");
        batch.invoke_checked().await.expect("the same batch again");
        assert_eq!(batch.table.other_updates.load(Ordering::Relaxed), 0, "no statistics write");
        assert_eq!(batch.table.reads.load(Ordering::Relaxed), 1, "pause flags are cached");
        // 20 setup puts, then per batch 10 claims, 10 finishes and one ChangeMessageVisibilityBatch;
        // 1 read.
        assert_eq!(batch.aws.requests(), 20 + 2 * 21 + 1);
    }
}
