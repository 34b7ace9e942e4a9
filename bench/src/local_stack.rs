//! The local stack (`jobq-local`, the release binary next to this one) on a free port under a
//! prefix of its own, so each figure starts with empty queues and an empty table.

use std::process::Stdio;
use std::time::{Duration, Instant};

use jobq::Job;
use jobq::resources::ResourceNames;
use jobq::store::DynamoJobStore;
use tokio::process::{Child, Command};

use crate::figure::{BenchError, Result, binary_dir, free_port};

#[derive(Debug)]
pub struct LocalStack {
    pub url: String,
    pub names: ResourceNames,
    pub http: reqwest::Client,
    pub store: DynamoJobStore,
    child: Child,
    log: crate::figure::StderrTail,
}

impl LocalStack {
    /// Start `jobq-local` and wait until `GET /health` answers 200. `concurrency` is
    /// `JOBQ_LOCAL_CONCURRENCY` (pollers for high,normal,low); `None` keeps the default.
    pub async fn start(concurrency: Option<&str>) -> Result<LocalStack> {
        let port = free_port()?;
        let prefix = format!("b{}-", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let binary = binary_dir()?.join("jobq-local");
        let mut command = Command::new(&binary);
        command
            .env("JOBQ_PORT", port.to_string())
            .env("JOBQ_PREFIX", &prefix)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(concurrency) = concurrency {
            command.env("JOBQ_LOCAL_CONCURRENCY", concurrency);
        }
        let mut child = command.spawn().map_err(BenchError::io(format!("starting {}", binary.display())))?;
        let log = crate::figure::keep_stderr_tail(&mut child, 40);
        let clients = jobq::adapters::aws::Clients::from_env().await;
        let names = ResourceNames::new(prefix);
        let store = DynamoJobStore::new(
            clients.dynamodb.clone(),
            names.table(),
            chrono::Duration::days(jobq::config::DEFAULT_RETENTION_DAYS),
        );
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(BenchError::http("HTTP client"))?;
        let mut stack =
            LocalStack { url: format!("http://127.0.0.1:{port}"), names, http, store, child, log };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = stack.child.try_wait() {
                return Err(stack.failure(&format!("jobq-local exited at start ({status})")));
            }
            let health = stack.http.get(format!("{}/health", stack.url)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(stack);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(stack.failure("jobq-local did not answer /health within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An error that carries the stack's last log lines.
    pub fn failure(&self, what: &str) -> BenchError {
        let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
        BenchError::unexpected(what, format!("jobq-local log:\n{log}"))
    }

    /// POST a JSON body; the status must be a success. Returns the JSON answer.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .map_err(BenchError::http(format!("POST {path}")))?;
        let status = response.status();
        let answer: serde_json::Value =
            response.json().await.map_err(BenchError::http(format!("POST {path}: body")))?;
        if !status.is_success() {
            return Err(BenchError::unexpected(format!("POST {path}"), format!("{status}: {answer}")));
        }
        Ok(answer)
    }

    /// Completed runs of `job_type` so far (the type's counters, kept from the change stream: one read).
    pub async fn completed(&self, job_type: &str) -> Result<u64> {
        let stats =
            self.store.stats(job_type).await.map_err(|e| BenchError::unexpected("reading stats", e))?;
        Ok(stats.completed)
    }

    /// Wait until `count` runs of `job_type` completed, polling every 100 ms.
    pub async fn wait_completed(&self, job_type: &str, count: u64, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        while self.completed(job_type).await? < count {
            if started.elapsed() > timeout {
                let done = self.completed(job_type).await?;
                return Err(self.failure(&format!(
                    "{done} of {count} {job_type} jobs completed within {} s",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The job records (consistent reads, in batches).
    pub async fn jobs(&self, ids: &[String]) -> Result<Vec<Job>> {
        let mut jobs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let found =
                self.store.batch_get(chunk).await.map_err(|e| BenchError::unexpected("reading jobs", e))?;
            jobs.extend(found);
        }
        if jobs.len() != ids.len() {
            return Err(BenchError::unexpected(
                "reading jobs",
                format!("{} of {} found", jobs.len(), ids.len()),
            ));
        }
        Ok(jobs)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The ids in an answer to `POST /jobs` (a job) or `POST /jobs/batch` (`{"jobs": [...]}`).
pub fn job_ids(answer: &serde_json::Value) -> Vec<String> {
    let one = |job: &serde_json::Value| job["id"].as_str().map(str::to_owned);
    match answer["jobs"].as_array() {
        Some(jobs) => jobs.iter().filter_map(one).collect(),
        None => one(answer).into_iter().collect(),
    }
}
