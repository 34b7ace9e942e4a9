//! A fault-injecting HTTP proxy between the product's AWS clients and the emulator.
//!
//! Clients built with [`crate::TestEnv::clients_via`] on [`FaultProxy::url`] send every request
//! here; the proxy forwards it to the emulator, except that a set fraction of DynamoDB and SQS
//! requests (chosen by a seeded RNG) get a [`Fault`] instead:
//!
//! - an HTTP 500 in the service's own error shape (nothing reached the emulator);
//! - the service's throttling error, as AWS sends it: DynamoDB (awsJson1_0)
//!   `ProvisionedThroughputExceededException`, SQS (awsJson1_0 with the query-compatible
//!   `x-amzn-query-error` header) `RequestThrottled`;
//! - a dropped connection before forwarding (nothing happened);
//! - a dropped connection *after* forwarding: the request took effect, its response is lost.
//!
//! Faults can also be scripted ([`FaultProxy::inject_next`]) for one exact request, or every
//! DynamoDB request throttled until switched off ([`FaultProxy::set_dynamodb_throttled`]), as in
//! a long throttling episode. Everything injected is counted, per service and kind and per
//! operation.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderValue, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the proxy does instead of (or after) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 500 in the service's error shape; the emulator never saw the request.
    ServerError,
    /// The service's throttling error (HTTP 400); the emulator never saw the request.
    Throttle,
    /// The connection closes before the request is forwarded: nothing happened.
    DropBefore,
    /// The request is forwarded and takes effect; then the connection closes: the response is lost.
    DropAfter,
}

impl Fault {
    pub const ALL: [Fault; 4] = [Fault::ServerError, Fault::Throttle, Fault::DropBefore, Fault::DropAfter];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ServerError => "server_error",
            Fault::Throttle => "throttle",
            Fault::DropBefore => "drop_before",
            Fault::DropAfter => "drop_after",
        }
    }
}

/// Which AWS service a request is for (from its `X-Amz-Target` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    DynamoDb,
    Sqs,
    /// S3 and anything else: always forwarded untouched.
    Other,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::DynamoDb => "DynamoDB",
            Service::Sqs => "SQS",
            Service::Other => "other",
        })
    }
}

/// The random part of the plan: `rate` of the DynamoDB and SQS requests get a fault, its kind
/// drawn evenly from `kinds`.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    pub rate: f64,
    pub seed: u64,
    pub kinds: Vec<Fault>,
}

impl FaultPlan {
    /// Every kind of fault, on `rate` of the requests.
    pub fn every_kind(rate: f64, seed: u64) -> Self {
        FaultPlan { rate, seed, kinds: Fault::ALL.to_vec() }
    }

    /// No random faults (scripted ones only).
    pub fn none() -> Self {
        FaultPlan { rate: 0.0, seed: 0, kinds: Fault::ALL.to_vec() }
    }
}

/// What the proxy injected so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// Per service and kind.
    pub by_kind: BTreeMap<(Service, Fault), u64>,
    /// Per `Service:Operation:kind`, e.g. `DynamoDB:UpdateItem:drop_after`.
    pub by_operation: BTreeMap<String, u64>,
    /// Requests that reached the emulator (drop-after ones included).
    pub forwarded: u64,
    /// Requests forwarded, per `Service:Operation` (e.g. `DynamoDb:UpdateItem`).
    pub forwarded_by_operation: BTreeMap<String, u64>,
}

impl Injected {
    pub fn count(&self, service: Service, fault: Fault) -> u64 {
        self.by_kind.get(&(service, fault)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "forwarded {}", self.forwarded)?;
        for ((service, fault), n) in &self.by_kind {
            write!(f, ", {service} {} {n}", fault.as_str())?;
        }
        Ok(())
    }
}

/// A scripted fault: after `skip` requests for `operation` (`Service:Operation`) pass untouched,
/// the next one gets `fault`.
#[derive(Debug, Clone)]
struct Scripted {
    operation: String,
    skip: usize,
    fault: Fault,
}

#[derive(Debug)]
struct State {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    rng: Mutex<fastrand::Rng>,
    /// The fault rate's f64 bits, so it can change while requests flow.
    rate: AtomicU64,
    kinds: Vec<Fault>,
    /// Every DynamoDB request is throttled while this is set, scripted faults or not.
    dynamodb_throttled: AtomicBool,
    scripted: Mutex<VecDeque<Scripted>>,
    injected: Mutex<Injected>,
}

/// The connection is closed instead of answering (hyper drops it when the service fails).
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

/// A running proxy on 127.0.0.1; it stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    url: String,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listen on a free port and forward to `upstream` (e.g. `http://127.0.0.1:4566`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = upstream.trim_end_matches('/');
        let upstream = upstream.strip_prefix("http://").unwrap_or(upstream).to_owned();
        let state = Arc::new(State {
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
            rng: Mutex::new(fastrand::Rng::with_seed(plan.seed)),
            rate: AtomicU64::new(plan.rate.to_bits()),
            kinds: if plan.kinds.is_empty() { Fault::ALL.to_vec() } else { plan.kinds },
            dynamodb_throttled: AtomicBool::new(false),
            scripted: Mutex::default(),
            injected: Mutex::default(),
        });
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    // An error here is a dropped connection (ours or the client's): nothing to do.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, state, accept }
    }

    /// The endpoint to give the clients.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Change the random fault rate (0 turns random faults off).
    pub fn set_rate(&self, rate: f64) {
        self.state.rate.store(rate.to_bits(), Ordering::SeqCst);
    }

    /// Throttle every DynamoDB request from now until this is called with `false`.
    pub fn set_dynamodb_throttled(&self, on: bool) {
        self.state.dynamodb_throttled.store(on, Ordering::SeqCst);
    }

    /// The next request for `operation` (`Service:Operation`, e.g. `DynamoDB:UpdateItem`) gets
    /// `fault`, whatever the random plan says. Scripted faults apply in the order given.
    pub fn inject_next(&self, operation: &str, fault: Fault) {
        self.inject_after(operation, 0, fault);
    }

    /// Let `skip` requests for `operation` through untouched, then give the next one `fault`.
    pub fn inject_after(&self, operation: &str, skip: usize, fault: Fault) {
        let mut scripted = self.state.scripted.lock().expect("lock");
        scripted.push_back(Scripted { operation: operation.to_owned(), skip, fault });
    }

    /// Scripted faults not yet applied.
    pub fn scripted_left(&self) -> usize {
        self.state.scripted.lock().expect("lock").len()
    }

    pub fn injected(&self) -> Injected {
        self.state.injected.lock().expect("lock").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// `(service, operation)` from the `X-Amz-Target` header of an awsJson request.
fn target(request: &Request<Incoming>) -> (Service, String) {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    match target.split_once('.') {
        Some((prefix, operation)) if prefix.starts_with("DynamoDB_") => (Service::DynamoDb, operation.into()),
        Some(("AmazonSQS", operation)) => (Service::Sqs, operation.into()),
        _ => (Service::Other, String::new()),
    }
}

impl State {
    fn choose(&self, service: Service, operation: &str) -> Option<Fault> {
        if service == Service::Other {
            return None;
        }
        if service == Service::DynamoDb && self.dynamodb_throttled.load(Ordering::SeqCst) {
            return Some(Fault::Throttle);
        }
        let key = format!("{service}:{operation}");
        {
            let mut scripted = self.scripted.lock().expect("lock");
            if let Some(i) = scripted.iter().position(|s| s.operation == key) {
                if scripted[i].skip > 0 {
                    scripted[i].skip -= 1;
                    return None;
                }
                return scripted.remove(i).map(|s| s.fault);
            }
        }
        let rate = f64::from_bits(self.rate.load(Ordering::SeqCst));
        let mut rng = self.rng.lock().expect("lock");
        (rng.f64() < rate).then(|| self.kinds[rng.usize(..self.kinds.len())])
    }

    fn count(&self, service: Service, operation: &str, fault: Fault) {
        let mut injected = self.injected.lock().expect("lock");
        *injected.by_kind.entry((service, fault)).or_default() += 1;
        *injected.by_operation.entry(format!("{service}:{operation}:{}", fault.as_str())).or_default() += 1;
    }

    async fn forward(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut upstream =
            Request::builder().method(parts.method).uri(format!("http://{}{path}", self.upstream));
        for (name, value) in &parts.headers {
            if name != HOST && name != CONNECTION {
                upstream = upstream.header(name, value);
            }
        }
        let upstream = upstream.header(HOST, &self.upstream).body(Full::new(body)).map_err(|_| Dropped)?;
        let response = match self.client.request(upstream).await {
            Ok(response) => response,
            Err(err) => {
                return Ok(plain(StatusCode::BAD_GATEWAY, format!("fault proxy: upstream failed: {err}")));
            }
        };
        let (mut parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        parts.headers.remove(TRANSFER_ENCODING);
        parts.headers.remove(CONNECTION);
        self.injected.lock().expect("lock").forwarded += 1;
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (service, operation) = target(&request);
    let Some(fault) = state.choose(service, &operation) else {
        let response = state.forward(request).await;
        if response.is_ok() {
            let mut injected = state.injected.lock().expect("lock");
            *injected.forwarded_by_operation.entry(format!("{service}:{operation}")).or_default() += 1;
        }
        return response;
    };
    state.count(service, &operation, fault);
    match fault {
        Fault::ServerError | Fault::Throttle => {
            // Read the request as the service would have, then answer with the error.
            let _ = request.into_body().collect().await;
            Ok(error_response(service, fault))
        }
        Fault::DropBefore => {
            let _ = request.into_body().collect().await;
            Err(Dropped)
        }
        Fault::DropAfter => {
            state.forward(request).await?;
            Err(Dropped)
        }
    }
}

/// The error each service's awsJson1_0 protocol sends (SQS adds its query-compatible code header).
pub fn error_response(service: Service, fault: Fault) -> Response<Full<Bytes>> {
    let (status, kind, query_code, message) = match (service, fault) {
        (Service::Sqs, Fault::Throttle) => (
            StatusCode::BAD_REQUEST,
            "com.amazonaws.sqs#RequestThrottled",
            "RequestThrottled;Sender",
            "Rate exceeded",
        ),
        (Service::Sqs, _) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.sqs#InternalError",
            "InternalError;Receiver",
            "We encountered an internal error. Please try again.",
        ),
        (_, Fault::Throttle) => (
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        (_, _) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "",
            "Internal server error",
        ),
    };
    let body = serde_json::json!({ "__type": kind, "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("fault-proxy"));
    if !query_code.is_empty() {
        headers.insert("x-amzn-query-error", HeaderValue::from_static(query_code));
    }
    response
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}
