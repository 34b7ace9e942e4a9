//! Jobs whose parts outgrow a DynamoDB item, through the real router, service and worker on the
//! in-memory ports: large payloads and results go to the bucket and come back as if inline; a
//! result that cannot be stored fails its job at once, saying why; without a bucket, a payload too
//! large for a record is refused at enqueue; small fields are bounded; progress and lease writes
//! ask for nothing back.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use jobq::api::ApiSettings;
use jobq::context::JobContext;
use jobq::domain::progress::ProgressUpdate;
use jobq::memory::{MemoryBlobs, MemoryTable};
use jobq::ports::table::{
    BatchGot, Cond, IndexQuery, Item, QueryPage, Returns, Table, TableError, TransactUpdate, Update,
};
use jobq::ports::{Attr, Clock, ManualClock};
use jobq::service::JobService;
use jobq::store::{INLINE_MAX, JobStore, RunOutcome};
use jobq::task::{JobError, Registry, Task, TaskOutput};
use jobq::worker::{Worker, WorkerSettings, drain};
use jobq::{Job, JobStatus, NewJob, Ports};
use serde_json::{Value, json};
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
    let service = JobService::from_ports(&ports, &aws.config, types);
    let api = jobq::api::router(service.clone(), ApiSettings::default());
    let worker = Worker::from_ports(&ports, registry, WorkerSettings::default());
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

#[tokio::test(start_paused = true)]
async fn a_200_kib_payload_and_its_result_round_trip_through_the_api_and_the_worker() {
    let s = stack(true);
    let payload = text_of(200 * KIB);
    let (status, created) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": payload}))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", created["error"]);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(s.drain().await, 1);

    let (status, job) = s.call("GET", &format!("/jobs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "completed", "{}", job["error"]);
    assert!(job["payload"] == payload, "the payload reads back whole ({} bytes)", json_len(&job["payload"]));
    assert!(job["result"] == payload, "the result reads back whole ({} bytes)", json_len(&job["result"]));
    assert!(job["completed_at"].is_string());
    let keys = s.bucket_keys();
    assert_eq!(keys.len(), 2, "the payload and the result, each in the bucket: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&format!("jobq-data/{id}/"))), "{keys:?}");

    let (status, page) = s.call("GET", "/jobs?type=echo", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &page["jobs"][0];
    assert!(listed["payload"] == payload && listed["result"] == payload, "listings read them back too");
}

/// An object whose write then lost its condition is named by no job: it is deleted at once, not
/// left to the bucket's expiry. A create under a taken idempotency key, a finish by a run that no
/// longer owns its job.
#[tokio::test(start_paused = true)]
async fn objects_of_writes_that_lost_their_condition_are_deleted() {
    let s = stack(true);
    let body = json!({"type": "echo", "payload": text_of(100 * KIB), "idempotency_key": "big-1"});
    let (status, first) = s.call("POST", "/jobs", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", first["error"]);
    let (_, again) = s.call("POST", "/jobs", Some(&body)).await;
    assert_eq!(again["id"], first["id"], "the same job");
    assert_eq!(s.bucket_keys().len(), 1, "only the first create's payload: {:?}", s.bucket_keys());

    let store = &s.ports.store;
    let id = first["id"].as_str().expect("id");
    let job = store.get(id, true).await.expect("get").expect("the job");
    let now = s.clock.now();
    let run = store.claim(id, job.generation, now, now + Duration::seconds(60)).await.expect("claim");
    let result = RunOutcome::Completed { result: Some(text_of(100 * KIB)) };
    store.finish(&run, result.clone(), None, now).await.expect("finish");
    assert_eq!(s.bucket_keys().len(), 2, "the payload and the result");
    // The same run again, as a delivery whose outcome was already written by another would.
    store.finish(&run, result, None, now).await.expect_err("no longer the run's job");
    assert_eq!(s.bucket_keys().len(), 2, "the refused finish's result is gone: {:?}", s.bucket_keys());
}

#[tokio::test(start_paused = true)]
async fn small_jobs_make_no_bucket_request() {
    let s = stack(true);
    let (status, _) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": {"a": 1}}))).await;
    assert_eq!(status, StatusCode::CREATED);
    s.drain().await;
    let (_, page) = s.call("GET", "/jobs", None).await;
    assert_eq!(page["jobs"][0]["result"], json!({"a": 1}));
    let blobs = s.blobs.as_ref().expect("bucket");
    assert!(blobs.requests().is_empty(), "{:?}", blobs.requests());
}

#[tokio::test(start_paused = true)]
async fn without_a_bucket_a_payload_too_large_for_a_record_is_refused_with_413_naming_the_limit() {
    let s = stack(false);
    let payload = text_of(INLINE_MAX + 1);
    let (status, answer) = s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": payload}))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["field"], "payload");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&INLINE_MAX.to_string()), "names the limit: {message}");
    let (status, _) = s.call("GET", "/jobs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.ports.store.count(JobStatus::Queued, None).await.expect("count"), 0, "nothing stored");

    let (status, _) =
        s.call("POST", "/jobs", Some(&json!({"type": "echo", "payload": text_of(INLINE_MAX)}))).await;
    assert_eq!(status, StatusCode::CREATED, "up to the limit is accepted");
}

/// A pipeline of `steps` `echo` steps after the first, each with a payload of `bytes`.
fn pipeline(steps: usize, bytes: usize) -> Vec<NewJob> {
    let step = NewJob { job_type: "echo".into(), payload: text_of(bytes), ..NewJob::default() };
    vec![step; steps]
}

/// A job whose payload (20 KiB) and pipeline (300 KB) are far larger than the item's budget: its
/// claim, progress and lease writes cost a few write units each, not one per KB of its parts.
#[tokio::test(start_paused = true)]
async fn a_job_with_large_parts_costs_a_few_write_units_per_common_write() {
    let s = stack(true);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: text_of(20 * KIB),
        next: pipeline(10, 30_000),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec.clone()).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    s.table.reset_write_units();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let claim = s.table.write_units().charged.table;
    let update = ProgressUpdate { percent: 40, step: Some("a".into()), message: Some("m".repeat(100)) };
    store.progress(&run, &update).await.expect("progress");
    store.renew_lease(&run, now + Duration::seconds(120)).await.expect("lease");
    let units = s.table.write_units().charged.table;
    assert!(claim <= 3, "the claim cost {claim} units");
    assert!(units - claim <= 6, "a progress write and a heartbeat cost {} units", units - claim);

    // Read back whole, and the pipeline goes on from the bucket.
    let shown = s.service.get(&job.id).await.expect("get").expect("exists");
    assert!(shown.next == spec.next && shown.payload == spec.payload, "read back whole");
    store
        .finish(&run, RunOutcome::Completed { result: Some(text_of(20 * KIB)) }, None, now)
        .await
        .expect("finish");
    let redelivered = jobq::Envelope::new(&job.id, "echo", job.tier, 0);
    s.ports.queues.send(&redelivered, 0).await.expect("send");
    s.drain().await;
    let (_, page) = s.call("GET", "/jobs?type=echo&limit=50", None).await;
    let jobs = page["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 11, "every step of the pipeline ran, each carrying the rest");
    assert!(jobs.iter().all(|j| j["status"] == "completed"), "{page}");
}

/// A `partial` outcome with large error and result texts, of a job whose payload and pipeline
/// filled what the API accepts (350,000 bytes of spec, its payload at the most the item held):
/// stored, not refused for DynamoDB's 400 KB, and read back.
#[tokio::test(start_paused = true)]
async fn a_partial_outcome_of_a_job_with_every_part_large_is_stored() {
    let s = stack(true);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: text_of(INLINE_MAX),
        next: pipeline(10, 31_600),
        ..NewJob::default()
    };
    assert!(json_len(&serde_json::to_value(&spec).expect("json")) < 350_000, "what the API accepts");
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let pending =
        ProgressUpdate { percent: 90, step: Some("s".repeat(300)), message: Some("m".repeat(5000)) };
    let details = text_of(jobq::store::bounds::ERROR_DETAILS_MAX);
    let error = jobq::model::JobFailure { message: "e".repeat(300_000), details: Some(details.clone()) };
    let outcome = RunOutcome::Partial { result: Some(text_of(INLINE_MAX)), error };
    let done = store.finish(&run, outcome, Some(&pending), now).await.expect("stored");
    assert_eq!(done.status, JobStatus::Partial);
    let shown = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!(shown.result, Some(text_of(INLINE_MAX)));
    let error = shown.error.expect("error");
    assert!(error.message.ends_with("[truncated from 300000 bytes]"), "bounded: {}", error.message.len());
    assert_eq!(error.details, Some(details));
}

/// A retry of a job whose last life ended `partial` with a result in the bucket: the item names
/// that result no more, so the object is deleted, not left until the bucket's expiry.
#[tokio::test(start_paused = true)]
async fn a_retry_deletes_the_result_of_the_life_it_ends() {
    let s = stack(true);
    let spec = NewJob { job_type: "echo".into(), payload: json!({"a": 1}), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let store = &s.ports.store;
    let now = s.clock.now();
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    let error = jobq::model::JobFailure { message: "half".into(), details: None };
    let outcome = RunOutcome::Partial { result: Some(text_of(100 * KIB)), error };
    let partial = store.finish(&run, outcome, None, now).await.expect("partial");
    assert_eq!(s.bucket_keys().len(), 1, "its result");
    s.drain().await;

    let retried = s.service.retry(&job.id, None).await.expect("retry");
    assert_eq!((retried.status, retried.result), (JobStatus::Queued, None));
    assert_eq!(s.bucket_keys(), Vec::<String>::new(), "the last life's result is gone");
    // A read from before the retry (a lagging listing) names the deleted object: it shows the job
    // as it is now instead of failing.
    let shown = store.resolve(partial).await.expect("resolved");
    assert_eq!((shown.status, shown.result), (JobStatus::Queued, None));
    assert_eq!(s.drain().await, 1);
    let done = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((done.status, done.result), (JobStatus::Completed, Some(json!({"a": 1}))));
}

/// Enqueues an `inflate` job making a result of `bytes`, runs it once, and returns it.
async fn inflated(s: &Stack, bytes: usize) -> Job {
    let spec = NewJob { job_type: "inflate".into(), payload: json!(bytes), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    assert_eq!(s.drain().await, 1);
    s.service.get(&job.id).await.expect("get").expect("exists")
}

#[tokio::test(start_paused = true)]
async fn a_result_that_cannot_be_stored_fails_the_job_at_once_saying_why() {
    // No bucket: a result over what the record holds.
    let s = stack(false);
    let job = inflated(&s, 450 * KIB).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("result could not be stored") && message.contains("no bucket"), "{message}");
    assert_eq!(job.result, None);
    assert_eq!(s.drain().await, 0, "no retry is pending");

    // A bucket that refuses (as with a missing permission).
    let s = stack(true);
    s.blobs.as_ref().expect("bucket").set_refusing(true);
    let job = inflated(&s, 450 * KIB).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("the bucket refused it"), "{message}");

    // Over the bucket's limit.
    let s = stack(true);
    let job = inflated(&s, jobq::store::SPILL_MAX + 1).await;
    assert_eq!(job.status, JobStatus::Failed);
    let message = job.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains(&format!("the limit is {}", jobq::store::SPILL_MAX)), "{message}");
    assert!(s.bucket_keys().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_bucket_that_does_not_answer_leaves_the_result_to_a_later_delivery() {
    let s = stack(true);
    let blobs = s.blobs.clone().expect("bucket");
    blobs.set_unavailable(true);
    let spec = NewJob { job_type: "inflate".into(), payload: json!(100 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.drain().await;
    let during = s.ports.store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!(during.status, JobStatus::Processing, "not failed for a transient outage");
    blobs.set_unavailable(false);
    for _ in 0..12 {
        s.clock.advance(Duration::seconds(10));
        s.drain().await;
    }
    let job = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    assert_eq!(json_len(job.result.as_ref().expect("result")), 100 * KIB + 2);
}

/// The status and attempts of job `id`, as stored.
async fn stored(s: &Stack, id: &str) -> (JobStatus, u32) {
    let job = s.ports.store.get(id, true).await.expect("get").expect("exists");
    (job.status, job.attempts)
}

/// A job with a payload in the bucket and one attempt: the bucket does not answer its first
/// deliveries (every resend of each read throttled) for two minutes. No attempt is spent on them:
/// the job completes on its one attempt once the bucket answers.
#[tokio::test(start_paused = true)]
async fn a_throttled_read_of_a_large_payload_spends_no_attempt() {
    let s = stack(true);
    let blobs = s.blobs.clone().expect("bucket");
    let payload = text_of(100 * KIB);
    let spec = NewJob {
        job_type: "echo".into(),
        payload: payload.clone(),
        max_attempts: Some(1),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    blobs.set_unavailable(true);
    for _ in 0..4 {
        s.drain().await;
        assert_eq!(stored(&s, &job.id).await, (JobStatus::Processing, 1), "waits, on its attempt");
        s.clock.advance(Duration::seconds(30));
    }
    let reads = blobs.requests().get("GetObject").copied().unwrap_or(0);
    assert!(reads >= 6, "read on two deliveries or more: {reads}");
    blobs.set_unavailable(false);
    for _ in 0..12 {
        s.drain().await;
        s.clock.advance(Duration::seconds(10));
    }
    let done = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "{:?}", done.error);
    assert!(done.result == Some(payload), "its result is its payload");
    assert_eq!(s.drain().await, 0, "no copy left");
}

/// A payload the bucket refuses (gone, or access denied) fails its job at once, saying why:
/// another attempt would meet the same refusal.
#[tokio::test(start_paused = true)]
async fn a_refused_read_of_a_large_payload_fails_the_job_at_once_saying_why() {
    let s = stack(true);
    let spec = NewJob { job_type: "echo".into(), payload: text_of(100 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.blobs.as_ref().expect("bucket").set_refusing(true);
    assert_eq!(s.drain().await, 1);
    let failed = s.ports.store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let message = failed.error.as_ref().map(|e| e.message.as_str()).unwrap_or_default();
    assert!(message.contains("payload could not be read") && message.contains("refused"), "{message}");
    s.clock.advance(Duration::minutes(10));
    assert_eq!(s.drain().await, 0, "no retry is pending");
}

#[tokio::test(start_paused = true)]
async fn long_progress_and_error_texts_are_truncated_not_fatal_to_the_write() {
    let s = stack(false);
    let spec = NewJob { job_type: "chatty".into(), payload: json!(450 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.drain().await;
    let job = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1), "recorded at once");
    let error = job.error.expect("error");
    assert!(error.message.len() <= jobq::store::bounds::ERROR_MESSAGE_MAX, "{}", error.message.len());
    assert!(error.message.ends_with(&format!("[truncated from {} bytes]", 450 * KIB)));
    let message = job.message.unwrap_or_default();
    assert!(message.len() <= jobq::store::bounds::MESSAGE_MAX, "{}", message.len());
    assert!(job.current_step.unwrap_or_default().len() <= jobq::store::bounds::STEP_MAX);
}

#[tokio::test]
async fn the_memory_table_refuses_an_oversize_write_whole() {
    let table = MemoryTable::default();
    let key = "job#big";
    let item: Item = [
        ("pk", Attr::s(key)),
        ("status", Attr::s("processing")),
        ("payload", Attr::s("p".repeat(200 * KIB))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    table.put(item.clone(), None).await.expect("fits");
    let update = Update::new(vec![
        jobq::ports::table::Action::Set("status".into(), Attr::s("completed")),
        jobq::ports::table::Action::Set("completed_at".into(), Attr::s("2026-01-01T00:00:00.000Z")),
        jobq::ports::table::Action::Set("result".into(), Attr::s("r".repeat(200 * KIB + 1))),
    ]);
    let err = table.update(key, &update, None).await.expect_err("over 400 KB");
    assert!(matches!(err, TableError::Rejected { .. }), "{err}");
    let after = table.get(key, true).await.expect("get").expect("still there");
    assert!(after == item, "nothing of the refused update was applied");

    let mut oversize = item.clone();
    oversize.insert("pk".into(), Attr::s("job#bigger"));
    oversize.insert("result".into(), Attr::s("r".repeat(201 * KIB)));
    assert!(matches!(table.put(oversize, None).await, Err(TableError::Rejected { .. })));
    assert_eq!(table.get("job#bigger", true).await.expect("get"), None);
}

/// The table, recording what each UpdateItem asked to get back.
#[derive(Debug, Clone, Default)]
struct Spy {
    inner: MemoryTable,
    returns: Arc<Mutex<Vec<Returns>>>,
}

#[async_trait::async_trait]
impl Table for Spy {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.inner.put(item, condition).await
    }
    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        self.inner.get(key, consistent).await
    }
    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        self.returns.lock().expect("lock").push(update.returns);
        self.inner.update(key, update, cond).await
    }
    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.inner.delete(key, condition).await
    }
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.inner.batch_put(items).await
    }
    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.inner.query(query).await
    }
    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.inner.transact_update(updates).await
    }
}

#[tokio::test(start_paused = true)]
async fn progress_and_lease_writes_ask_for_nothing_back_and_still_know_their_own_write() {
    let spy = Spy::default();
    let store = JobStore::over(Arc::new(spy.clone()), Duration::days(7));
    let now = Utc::now();
    let job =
        Job::new(NewJob { job_type: "echo".into(), payload: text_of(30 * KIB), ..NewJob::default() }, now);
    store.create(&job).await.expect("create");
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    spy.returns.lock().expect("lock").clear();

    let update = ProgressUpdate { percent: 40, step: Some("a".into()), message: None };
    store.progress(&run, &update).await.expect("progress");
    store.renew_lease(&run, now + Duration::seconds(120)).await.expect("lease");
    assert_eq!(*spy.returns.lock().expect("lock"), [Returns::Nothing, Returns::Nothing]);

    // A progress write whose answer was lost is sent again and recognised as ours by its token.
    spy.inner.lose_next_responses(1);
    store.progress(&run, &ProgressUpdate { percent: 60, ..update }).await.expect("ours, not a refusal");
    let finished =
        store.finish(&run, RunOutcome::Completed { result: None }, None, now).await.expect("finish");
    assert_eq!((finished.status, finished.progress), (JobStatus::Completed, 100));
}

#[tokio::test(start_paused = true)]
async fn the_stores_own_objects_in_the_bucket_become_no_jobs() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use jobq::ingest::{IngestHandler, IngestRules};
    let s = stack(true);
    // A rule that takes every upload, as the local host's default does.
    let rules = IngestRules::parse("rules", r#"[{"bucket": "b", "type": "echo"}]"#).expect("rules");
    let handler = IngestHandler::with_dead_letters(s.service.clone(), rules, None);
    let record = |key: &str| {
        let object = json!({"key": key, "size": 3, "eTag": "e1", "sequencer": "0A"});
        json!({"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
               "s3": {"bucket": {"name": "b"}, "object": object}})
    };
    let body = json!({"Records": [record("jobq-data/j1/payload-t.json"), record("inbox/a.pdf")]});
    let mut message = SqsMessage::default();
    message.message_id = Some("m1".into());
    message.body = Some(body.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    let response = handler.handle(event).await;
    assert!(response.batch_item_failures.is_empty());
    let (_, page) = s.call("GET", "/jobs", None).await;
    let keys: Vec<&str> =
        page["jobs"].as_array().into_iter().flatten().filter_map(|j| j["payload"]["key"].as_str()).collect();
    assert_eq!(keys, ["inbox/a.pdf"], "only the upload");
}

#[tokio::test(start_paused = true)]
async fn a_page_of_jobs_always_fits_a_lambda_response_and_its_cursor_reaches_the_rest() {
    let s = stack(true);
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..8 {
        // 1 MiB payloads, kept in the bucket: eight of them would make an 8 MiB page.
        let spec = NewJob { job_type: "noop".into(), payload: text_of(1024 * KIB), ..NewJob::default() };
        ids.insert(s.service.enqueue(spec).await.expect("enqueue").0.id);
        s.clock.advance(chrono::Duration::milliseconds(5));
    }
    let (mut seen, mut cursor, mut pages) = (std::collections::BTreeSet::new(), None::<String>, 0);
    loop {
        let uri = match &cursor {
            Some(c) => format!("/jobs?limit=8&cursor={c}"),
            None => "/jobs?limit=8".to_owned(),
        };
        let (status, page) = s.call("GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(json_len(&page) < 6_000_000, "page {pages} is {} bytes", json_len(&page));
        pages += 1;
        for job in page["jobs"].as_array().expect("jobs") {
            assert_eq!(json_len(&job["payload"]), 1024 * KIB, "payloads come whole");
            assert!(seen.insert(job["id"].as_str().expect("id").to_owned()), "listed twice");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every job listed once");
    assert!(pages >= 2, "split into pages that fit");
}
