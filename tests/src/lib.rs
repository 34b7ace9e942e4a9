//! Fixtures for tests against a real AWS emulator (moto_server locally, LocalStack in CI).
//!
//! Each [`TestEnv`] provisions its own table, queues and bucket under a unique prefix, so tests
//! run in parallel without seeing each other's jobs or messages.

pub mod conformance;
pub mod fault_proxy;
pub mod yaml;

use aws_config::{BehaviorVersion, Region};
use jobq::adapters::aws::Clients;
use jobq::adapters::aws::provision::{Provisioned, provision};
use jobq::adapters::aws::requests::RequestCounter;
use jobq::domain::task::Registry;
use jobq::handlers::worker::{Polled, Worker, WorkerSettings, poll_once};
use jobq::queue::TierQueues;
use jobq::resources::ResourceNames;
use jobq::store::DynamoJobStore;
use jobq::{Config, Envelope, Job, NewJob, PriorityTier};

const HOW_TO_RUN: &str = "Integration tests need an AWS emulator. Run `make test` (it installs and starts \
moto_server on 127.0.0.1:4566), or start one yourself (`make emulator`, or LocalStack) and export \
AWS_ENDPOINT_URL=http://127.0.0.1:4566";

#[derive(Debug)]
pub struct TestEnv {
    pub clients: Clients,
    pub names: ResourceNames,
    pub provisioned: Provisioned,
    pub config: Config,
    /// Counts every AWS request the clients above make.
    pub requests: RequestCounter,
    sdk: aws_config::SdkConfig,
    arns: std::sync::Mutex<std::collections::HashMap<PriorityTier, String>>,
    /// The change stream as counted so far (read with clients of its own, so the request counter
    /// above sees only what the code under test asks).
    counted: tokio::sync::Mutex<Option<(jobq::adapters::aws::DynamoStreamFeed, Option<String>)>>,
}

impl TestEnv {
    /// Provision a fresh, isolated set of resources. Panics with instructions when there is no
    /// emulator: these tests never pass by skipping.
    pub async fn new() -> TestEnv {
        let (sdk, endpoint) = emulator_sdk().await;
        let requests = RequestCounter::default();
        let clients = Clients::counted(&sdk, &requests);
        let names = ResourceNames::new(unique_prefix());
        let provisioned = provision(&clients, &names).await.unwrap_or_else(|e| {
            panic!("cannot provision on the emulator at {endpoint}: {e:#?}\n{HOW_TO_RUN}")
        });
        let config = provisioned.config();
        TestEnv {
            clients,
            names,
            provisioned,
            config,
            requests,
            sdk,
            arns: Default::default(),
            counted: Default::default(),
        }
    }

    /// What the counter function does in AWS: count the table's change stream up to now.
    pub async fn count_changes(&self) {
        let mut counted = self.counted.lock().await;
        let (feed, after) = counted.get_or_insert_with(|| {
            (jobq::adapters::aws::DynamoStreamFeed::new(&Clients::new(&self.sdk), &self.config.table), None)
        });
        let engine = jobq::handlers::counter::CounterEngine::new(
            DynamoJobStore::new(Clients::new(&self.sdk).dynamodb, &self.config.table, self.config.retention),
            jobq::ports::clock::system(),
        );
        *after = jobq::handlers::counter::drain(&engine, feed, after.clone())
            .await
            .expect("count the change stream");
    }

    pub fn store(&self) -> DynamoJobStore {
        DynamoJobStore::new(self.clients.dynamodb.clone(), &self.config.table, self.config.retention)
    }

    pub fn queues(&self) -> TierQueues {
        TierQueues::new(self.clients.sqs.clone(), self.config.queues.clone())
    }

    pub fn dlqs(&self) -> TierQueues {
        TierQueues::new(self.clients.sqs.clone(), self.config.dlqs.clone())
    }

    /// Create the job and send its envelope, as the API does.
    pub async fn enqueue(&self, spec: NewJob) -> Job {
        let now = chrono::Utc::now();
        let job = self.store().create(&Job::new(spec, now)).await.expect("create job").into_job();
        let envelope = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
        self.queues().send(&envelope, job.delay_seconds(now)).await.expect("send envelope");
        job
    }

    /// Shorten the tier queues' visibility timeout (crash and heartbeat tests).
    pub async fn set_visibility(&self, seconds: u32) {
        for (_, url) in self.config.queues.iter() {
            self.clients
                .sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, seconds.to_string())
                .send()
                .await
                .expect("set visibility");
        }
    }

    pub fn worker(&self, registry: Registry, settings: WorkerSettings) -> Worker {
        jobq::Ports::aws(&self.clients, &self.config).worker(registry, settings)
    }

    /// A worker on clients of its own, so its AWS requests are counted apart from the test's.
    pub fn counted_worker(&self, registry: Registry, settings: WorkerSettings) -> (Worker, RequestCounter) {
        let (clients, counter) = self.counted_clients();
        (jobq::Ports::aws(&clients, &self.config).worker(registry, settings), counter)
    }

    /// Clients with a request counter of their own.
    pub fn counted_clients(&self) -> (Clients, RequestCounter) {
        let counter = RequestCounter::default();
        (Clients::counted(&self.sdk, &counter), counter)
    }

    /// Clients of their own whose requests go to `endpoint` instead (a fault proxy in front of the
    /// emulator), with a request counter of their own.
    pub fn clients_via(&self, endpoint: &str) -> (Clients, RequestCounter) {
        self.clients_to(endpoint, self.sdk.clone())
    }

    /// As [`TestEnv::clients_via`], with the SDK making at most `max_attempts` tries per request.
    pub fn clients_via_with_attempts(&self, endpoint: &str, max_attempts: u32) -> (Clients, RequestCounter) {
        let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(max_attempts);
        self.clients_to(endpoint, self.sdk.to_builder().retry_config(retry).build())
    }

    /// Set on each service's config: `AWS_ENDPOINT_URL` in the environment would win over the
    /// shared config's endpoint.
    fn clients_to(&self, endpoint: &str, sdk: aws_config::SdkConfig) -> (Clients, RequestCounter) {
        let counter = RequestCounter::default();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .interceptor(counter.clone())
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .interceptor(counter.clone())
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .interceptor(counter.clone())
            .build();
        let streams = aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .interceptor(counter.clone())
            .build();
        let clients = Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            s3: aws_sdk_s3::Client::from_conf(s3),
            streams: aws_sdk_dynamodbstreams::Client::from_conf(streams),
        };
        (clients, counter)
    }

    /// The emulator's endpoint (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        self.sdk.endpoint_url().unwrap_or_default().to_owned()
    }

    pub async fn arn(&self, tier: PriorityTier) -> String {
        if let Some(arn) = self.arns.lock().expect("lock").get(&tier) {
            return arn.clone();
        }
        let arn = self.queues().arn(tier).await.expect("queue arn");
        self.arns.lock().expect("lock").insert(tier, arn.clone());
        arn
    }

    /// One event-source-mapping round on `tier`: receive up to 10, run the batch, delete successes.
    pub async fn poll(&self, worker: &Worker, tier: PriorityTier, wait_seconds: i32) -> Polled {
        let arn = self.arn(tier).await;
        poll_once(&self.queues(), tier, &arn, 10, wait_seconds, |event| worker.handle(event, None))
            .await
            .expect("poll")
    }

    /// Poll every tier (most urgent first) until `done` holds or `timeout` passes.
    pub async fn run_until<F, Fut>(&self, worker: &Worker, timeout: std::time::Duration, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = std::time::Instant::now();
        loop {
            if done().await {
                return;
            }
            assert!(start.elapsed() < timeout, "not done within {timeout:?}");
            let mut received = 0;
            for tier in PriorityTier::ALL {
                received += self.poll(worker, tier, 0).await.received;
            }
            if received == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    /// The API router over this environment's resources, with the built-in job types.
    pub fn api(&self, settings: jobq::api::ApiSettings) -> axum::Router {
        let types = jobq::domain::task::Registry::with_builtins().job_types();
        jobq::api::router(
            jobq::Ports::aws(&self.clients, &self.config).service(&self.config, types),
            settings,
        )
    }

    /// One job by id (consistent read).
    pub async fn job(&self, id: &str) -> Job {
        self.store().get(id, true).await.expect("get").expect("job exists")
    }

    /// Fetch jobs by id (consistent reads).
    pub async fn jobs(&self, ids: &[String]) -> Vec<Job> {
        let store = self.store();
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            jobs.push(store.get(id, true).await.expect("get").expect("job exists"));
        }
        jobs
    }

    /// Worker settings fit for tests: fast retries and pause rechecks, and a run's lease as short
    /// as the visibility (as on the local host), so an interrupted run is back as soon.
    pub fn fast_settings(visibility_seconds: u64) -> WorkerSettings {
        WorkerSettings {
            progress_interval: std::time::Duration::from_millis(200),
            visibility_timeout: std::time::Duration::from_secs(visibility_seconds),
            lease: std::time::Duration::from_secs(visibility_seconds.clamp(3, 900)),
            retry: jobq::domain::task::RetryPolicy {
                base: std::time::Duration::from_millis(200),
                factor: 2.0,
                cap: std::time::Duration::from_secs(2),
            },
            pause_cache: std::time::Duration::ZERO,
            pause_recheck: std::time::Duration::from_secs(1),
            transient_delay: std::time::Duration::from_secs(1),
            resume_grace: std::time::Duration::from_secs(1),
            ..WorkerSettings::default()
        }
    }
}

/// The SDK configuration for the emulator at `AWS_ENDPOINT_URL`, and that endpoint. Panics with
/// instructions when there is none: these tests never pass by skipping.
pub async fn emulator_sdk() -> (aws_config::SdkConfig, String) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set. {HOW_TO_RUN}"));
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
        loader = loader.region(Region::new("us-east-1"));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "jobq-tests",
        ));
    }
    (loader.load().await, endpoint)
}

/// Lowercase letters and digits only: valid in table, queue and bucket names alike.
pub fn unique_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}-", &id[..12])
}

/// POST a JSON body to a running host: the status and the JSON answer (Null when none).
pub async fn post_json(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().post(url).json(&body).send().await.expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// GET a JSON answer from a running host.
pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.expect("GET").json().await.expect("JSON")
}

/// A port on 127.0.0.1 that nothing listens on now (for a local host under test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Send one request through a router; the status and the JSON body (Null when empty).
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (axum::http::StatusCode, serde_json::Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    call_raw(router, method, path, Some("application/json"), bytes, None).await
}

pub async fn call_raw(
    router: &axum::Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    token: Option<&str>,
) -> (axum::http::StatusCode, serde_json::Value) {
    let (status, _, bytes) = call_bytes(router, method, path, content_type, body, token).await;
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{method} {path}: body is not JSON: {bytes:?}"))
    };
    (status, json)
}

/// One request through the router, answered as status, `content-type` and raw body (for the
/// routes that serve HTML or text).
pub async fn call_bytes(
    router: &axum::Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    token: Option<&str>,
) -> (axum::http::StatusCode, String, Vec<u8>) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(axum::body::Body::from(body)).expect("request");
    let response = router.clone().oneshot(request).await.expect("router never fails");
    let status = response.status();
    let served_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    (status, served_type, bytes.to_vec())
}
