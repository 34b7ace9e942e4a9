//! A minimal Lambda Runtime API (the interface a `provided.al2023` function's bootstrap talks
//! to), so the release function binaries can be started as Lambda starts them:
//!
//! - `GET  /2018-06-01/runtime/invocation/next`: the next event, with the `Lambda-Runtime-*`
//!   headers; held open while there is none (as Lambda freezes an idle environment);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`;
//! - `POST /2018-06-01/runtime/init/error`.
//!
//! It records when the function first asked for an event (its init is over) and every answer.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::figure::{BenchError, Result};

/// How the function answered an invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    /// `Ok(response body)` or `Err(error body)`; an init error has the request id `init`.
    pub body: std::result::Result<Vec<u8>, Vec<u8>>,
    pub at: Instant,
}

struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    first_next: OnceLock<Instant>,
    answers: mpsc::UnboundedSender<Answer>,
    function_arn: String,
    timeout: Duration,
}

/// A Runtime API server for one function process.
#[derive(Debug)]
pub struct RuntimeApi {
    pub address: SocketAddr,
    events: mpsc::UnboundedSender<Vec<u8>>,
    answers: mpsc::UnboundedReceiver<Answer>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("function_arn", &self.function_arn).finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Listen on 127.0.0.1 (a free port) for the function `name` with the given timeout.
    pub async fn start(name: &str, timeout: Duration) -> Result<RuntimeApi> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events_rx),
            first_next: OnceLock::new(),
            answers: answers_tx,
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
            timeout,
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(BenchError::io("runtime API: listening"))?;
        let address = listener.local_addr().map_err(BenchError::io("runtime API: address"))?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(RuntimeApi { address, events: events_tx, answers: answers_rx, shared, server })
    }

    /// Queue an event for the next `GET .../next`.
    pub fn invoke(&self, event: &serde_json::Value) -> Result<()> {
        self.events
            .send(event.to_string().into_bytes())
            .map_err(|_| BenchError::Setup("runtime API: no longer serving".into()))
    }

    /// When the function first asked for an event.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.first_next.get().copied()
    }

    /// The next answer (response, invocation error or init error), waiting up to `timeout`.
    pub async fn answer(&mut self, timeout: Duration) -> Result<Answer> {
        match tokio::time::timeout(timeout, self.answers.recv()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(BenchError::Setup("runtime API: stopped".into())),
            Err(_) => {
                Err(BenchError::Timeout { what: "the function's answer".into(), seconds: timeout.as_secs() })
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_next.set(Instant::now());
    let event = shared.events.lock().await.recv().await;
    let Some(event) = event else {
        return StatusCode::GONE.into_response();
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let deadline = chrono::Utc::now() + shared.timeout;
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16],
    );
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", request_id);
    set("lambda-runtime-deadline-ms", deadline.timestamp_millis().to_string());
    set("lambda-runtime-invoked-function-arn", shared.function_arn.clone());
    set("lambda-runtime-trace-id", trace);
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, event).into_response()
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = shared.answers.send(Answer { request_id: id, body: Ok(body.to_vec()), at: Instant::now() });
    StatusCode::ACCEPTED
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let _ = shared.answers.send(Answer { request_id: id, body: Err(body.to_vec()), at: Instant::now() });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let answer = Answer { request_id: "init".into(), body: Err(body.to_vec()), at: Instant::now() };
    let _ = shared.answers.send(answer);
    StatusCode::ACCEPTED
}

/// A function process started as Lambda starts it: a clean environment with the Lambda
/// variables, AWS region and credentials, the endpoint, and `env` (its `JOBQ_*` settings).
#[derive(Debug)]
pub struct FunctionProcess {
    pub child: Child,
    pub spawned_at: Instant,
    log: crate::figure::StderrTail,
}

impl FunctionProcess {
    pub fn spawn(
        binary: &std::path::Path,
        name: &str,
        api: &RuntimeApi,
        env: &[(String, String)],
    ) -> Result<Self> {
        let mut command = Command::new(binary);
        command.env_clear();
        for var in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Ok(value) = std::env::var(var) {
                command.env(var, value);
            }
        }
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn().map_err(BenchError::io(format!("starting {}", binary.display())))?;
        let log = crate::figure::keep_stderr_tail(&mut child, 20);
        Ok(FunctionProcess { child, spawned_at, log })
    }

    /// The process's last log lines (stderr).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Peak and current resident memory in KiB (`VmHWM`, `VmRSS` of /proc/PID/status).
    pub fn memory_kib(&self) -> Result<(u64, u64)> {
        let pid = self.child.id().ok_or_else(|| BenchError::Setup("the function has exited".into()))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(BenchError::io(format!("reading /proc/{pid}/status")))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .ok_or_else(|| BenchError::unexpected("/proc status", format!("no {name}")))
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
