//! `jobq-client`: the jobq HTTP API with the library's own types.
//!
//! ```no_run
//! # async fn f() -> Result<(), jobq_client::ClientError> {
//! use jobq::domain::builtin::{Sleep, SleepInput};
//! use jobq_client::{Auth, Client};
//!
//! let client = Client::new("http://127.0.0.1:8080", Auth::None);
//! let job = client.enqueue(&Sleep, &SleepInput { seconds: 2.0, steps: 4 }).await?;
//! let done = client.watch(&job.id, |job| println!("{}%", job.progress)).await?;
//! println!("{} {}", done.id, done.status);
//! # Ok(()) }
//! ```
//!
//! A call is sent again (see [`Retries`]) only when it cannot act twice: reads, and enqueues with
//! an idempotency key.

mod auth;
mod error;
mod retry;

use std::time::Duration;

use jobq::domain::caller::Caller;
use jobq::domain::task::Task;
use jobq::handlers::service::{BatchSummary, RetryAllReport, Stats};
use jobq::store::{PauseFlags, PauseScope};
use jobq::{Job, JobStatus, NewJob, Priority};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use auth::{Auth, Signer};
pub use error::ClientError;
pub use retry::{Answer, Retries, wait_before_next};

/// A page of `GET /jobs`: newest first, and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
}

/// A job spec with a delay: it runs `delay_seconds` after the API took it (the API's clock,
/// not the caller's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelayedJob<'a> {
    #[serde(flatten)]
    pub spec: &'a NewJob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u64>,
}

/// Which jobs `list` asks for; all of them when left at the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub batch_id: Option<String>,
    /// One owner's jobs (a submitter's own, whatever it asks).
    pub owner: Option<String>,
    pub group: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl ListFilter {
    /// The query string (`?limit=...`), values percent-encoded.
    pub fn query(&self) -> String {
        let mut query = Vec::new();
        let pairs = [
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("type", self.job_type.clone()),
            ("batch_id", self.batch_id.clone()),
            ("owner", self.owner.clone()),
            ("group", self.group.clone()),
            ("limit", self.limit.map(|l| l.to_string())),
            ("cursor", self.cursor.clone()),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                query.push(format!("{name}={}", encode(&value)));
            }
        }
        if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) }
    }
}

/// A client of one jobq API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    retries: Retries,
    watch_every: Duration,
}

impl Client {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:8080`), with default retries.
    pub fn new(base: &str, auth: Auth) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            auth,
            retries: Retries::default(),
            watch_every: Duration::from_millis(500),
        }
    }

    pub fn with_retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }

    /// How often [`Client::watch`] reads the job.
    pub fn with_watch_interval(mut self, every: Duration) -> Self {
        self.watch_every = every;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// A job of `task`'s type with `input` as its payload.
    pub async fn enqueue<T>(&self, task: &T, input: &T::Input) -> Result<Job, ClientError>
    where
        T: Task,
        T::Input: serde::Serialize,
    {
        let spec = NewJob {
            job_type: task.job_type().to_owned(),
            payload: serde_json::to_value(input)?,
            ..NewJob::default()
        };
        self.enqueue_job(&spec).await
    }

    /// A job as the API takes it (priority, delay, idempotency key, next steps...). With an
    /// idempotency key, a call that met no answer is sent again: the key makes it one job.
    pub async fn enqueue_job(&self, spec: &NewJob) -> Result<Job, ClientError> {
        let body = serde_json::to_vec(spec)?;
        self.call(Method::POST, "/jobs", body, spec.idempotency_key.is_some()).await
    }

    /// [`Client::enqueue_job`], due `delay_seconds` after the API takes it.
    pub async fn enqueue_delayed(
        &self,
        spec: &NewJob,
        delay_seconds: Option<u64>,
    ) -> Result<Job, ClientError> {
        let body = serde_json::to_vec(&DelayedJob { spec, delay_seconds })?;
        self.call(Method::POST, "/jobs", body, spec.idempotency_key.is_some()).await
    }

    /// A job spec as JSON (the API's whole `NewJob`, `delay_seconds` included), answered as the
    /// job; sent again after no answer only when it carries an idempotency key.
    pub async fn enqueue_json(&self, spec: &serde_json::Value) -> Result<Job, ClientError> {
        let keyed = spec.get("idempotency_key").is_some_and(|k| !k.is_null());
        self.call(Method::POST, "/jobs", serde_json::to_vec(spec)?, keyed).await
    }

    pub async fn get(&self, id: &str) -> Result<Job, ClientError> {
        self.call(Method::GET, &format!("/jobs/{}", encode(id)), Vec::new(), true).await
    }

    pub async fn list(&self, filter: &ListFilter) -> Result<JobPage, ClientError> {
        self.call(Method::GET, &format!("/jobs{}", filter.query()), Vec::new(), true).await
    }

    pub async fn cancel(&self, id: &str) -> Result<Job, ClientError> {
        self.call(Method::POST, &format!("/jobs/{}/cancel", encode(id)), Vec::new(), false).await
    }

    /// Run a failed, partial or cancelled job again (a new generation), at `priority` if given.
    pub async fn retry(&self, id: &str, priority: Option<Priority>) -> Result<Job, ClientError> {
        #[derive(Serialize)]
        struct Body {
            priority: Priority,
        }
        let body = priority.map(|priority| serde_json::to_vec(&Body { priority })).transpose()?;
        let path = format!("/jobs/{}/retry", encode(id));
        self.call(Method::POST, &path, body.unwrap_or_default(), false).await
    }

    /// Run the failed jobs (of `job_type`) again, as many as one request takes.
    pub async fn retry_failed(&self, job_type: Option<&str>) -> Result<RetryAllReport, ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            status: JobStatus,
            #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
            job_type: Option<&'a str>,
        }
        let body = serde_json::to_vec(&Body { status: JobStatus::Failed, job_type })?;
        self.call(Method::POST, "/jobs/retry", body, false).await
    }

    /// Job counts by status, per-type outcomes and timings, queue depths and pauses (of one
    /// type's jobs, if given).
    pub async fn stats(&self, job_type: Option<&str>) -> Result<Stats, ClientError> {
        let query = job_type.map(|t| format!("?type={}", encode(t))).unwrap_or_default();
        self.call(Method::GET, &format!("/stats{query}"), Vec::new(), true).await
    }

    /// A batch's counts by status and its progress.
    pub async fn batch(&self, id: &str) -> Result<BatchSummary, ClientError> {
        self.call(Method::GET, &format!("/batches/{}", encode(id)), Vec::new(), true).await
    }

    /// Who the API takes this client for: its owner name and role.
    pub async fn me(&self) -> Result<Caller, ClientError> {
        self.call(Method::GET, "/me", Vec::new(), true).await
    }

    /// What is paused now.
    pub async fn pause_flags(&self) -> Result<PauseFlags, ClientError> {
        self.call(Method::GET, "/pause", Vec::new(), true).await
    }

    /// Stop starting jobs in `scope` (running ones finish); what is paused after.
    pub async fn pause(&self, scope: &PauseScope) -> Result<PauseFlags, ClientError> {
        self.set_paused("/pause", scope).await
    }

    /// Start jobs in `scope` again; what is still paused after.
    pub async fn resume(&self, scope: &PauseScope) -> Result<PauseFlags, ClientError> {
        self.set_paused("/resume", scope).await
    }

    async fn set_paused(&self, path: &str, scope: &PauseScope) -> Result<PauseFlags, ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            scope: &'a PauseScope,
        }
        // Setting a flag twice leaves it as once: safe to send again.
        self.call(Method::POST, path, serde_json::to_vec(&Body { scope })?, true).await
    }

    /// Read the job until it ends (completed, partial, failed or cancelled), calling `changed`
    /// with each new state; the job as it ended.
    pub async fn watch(&self, id: &str, mut changed: impl FnMut(&Job)) -> Result<Job, ClientError> {
        let mut last: Option<Job> = None;
        loop {
            let job = self.get(id).await?;
            if last.as_ref() != Some(&job) {
                changed(&job);
            }
            if job.status.is_terminal() {
                return Ok(job);
            }
            last = Some(job);
            tokio::time::sleep(self.watch_every).await;
        }
    }

    /// Any route, its answer read as `R`. Only a GET is sent again.
    pub async fn send<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<R, ClientError> {
        let bytes = body.map(serde_json::to_vec).transpose()?.unwrap_or_default();
        let repeatable = method == Method::GET;
        self.call(method, path, bytes, repeatable).await
    }

    /// [`Client::send`] with the answer as JSON.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(method, path, body).await
    }

    /// One request with this client's credentials, answered as it came (the dashboard proxy);
    /// `path` includes any query string. A body is JSON, as the API takes nothing else.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in self.auth.headers(method.as_str(), &url, &body).await? {
            request = request.header(name, value);
        }
        request
            .body(body)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })
    }

    /// `request`, tried again while [`wait_before_next`] says so, its JSON answer read as `R`.
    async fn call<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        repeatable: bool,
    ) -> Result<R, ClientError> {
        let mut tried = 0;
        loop {
            tried += 1;
            let (answer, outcome) = match self.request(method.clone(), path, body.clone()).await {
                Ok(response) => {
                    let code = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    (Answer::Status { code, retry_after }, self.read(path, response).await)
                }
                Err(err) => (Answer::Nothing, Err(err)),
            };
            match (outcome, wait_before_next(&self.retries, repeatable, tried, answer)) {
                (Ok(value), _) => return Ok(value),
                (Err(_), Some(wait)) => tokio::time::sleep(wait).await,
                (Err(err), None) => return Err(err),
            }
        }
    }

    /// A 2xx answer's JSON as `R`, or the API's error.
    async fn read<R: DeserializeOwned>(
        &self,
        path: &str,
        response: reqwest::Response,
    ) -> Result<R, ClientError> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        if !status.is_success() {
            return Err(ClientError::from_answer(status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Unexpected { path: path.to_owned(), reason: e.to_string() })
    }
}

/// A query value or path segment, percent-encoded: everything but RFC 3986's unreserved
/// characters.
pub fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("type:a b/c"), "type%3Aa%20b%2Fc");
        assert_eq!(encode("é-x_y.z~"), "%C3%A9-x_y.z~", "UTF-8 bytes; unreserved characters kept");
    }

    #[test]
    fn a_filter_is_its_query_string() {
        assert_eq!(ListFilter::default().query(), "");
        let filter = ListFilter {
            status: Some(JobStatus::Failed),
            job_type: Some("thumb nail".into()),
            limit: Some(20),
            ..ListFilter::default()
        };
        assert_eq!(filter.query(), "?status=failed&type=thumb%20nail&limit=20");
    }
}
