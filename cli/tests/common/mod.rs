//! A local host (`jobq-local`) as a child process, on its own port and resource prefix.

#![allow(dead_code)] // each test file uses a part

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use jobq_integration_tests::{free_port, unique_prefix};
use serde_json::Value;

pub struct LocalHost {
    child: Option<Child>,
    pub url: String,
    pub prefix: String,
}

pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!("AWS_ENDPOINT_URL is not set. Run `make test` (it starts moto_server), or start an emulator and export AWS_ENDPOINT_URL")
    })
}

impl LocalHost {
    /// Start `jobq-local` and wait until `/health` answers.
    pub async fn start(prefix: &str) -> LocalHost {
        Self::start_with(prefix, &[]).await
    }

    /// Start `jobq-local` with extra environment variables (e.g. `JOBQ_API_TOKEN`).
    pub async fn start_with(prefix: &str, extra_env: &[(&str, &str)]) -> LocalHost {
        let endpoint = endpoint();
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobq-local"));
        command
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()))
            .env(
                "AWS_SECRET_ACCESS_KEY",
                std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
            )
            .env("AWS_REGION", std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()))
            .env("JOBQ_PREFIX", prefix)
            .env("JOBQ_PORT", port.to_string())
            .env("JOBQ_LOCAL_POLL_WAIT_SECONDS", "1")
            .env("JOBQ_SHUTDOWN_GRACE_SECONDS", "1")
            .env("JOBQ_LOCAL_VISIBILITY_SECONDS", "2")
            .env("JOBQ_PROGRESS_INTERVAL_MS", "200")
            .env("JOBQ_RETRY_BASE_MS", "200")
            .env("RUST_LOG", "warn")
            .env_remove("JOBQ_API_TOKEN")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn().expect("start jobq-local");
        let mut host = LocalHost {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            prefix: prefix.to_owned(),
        };
        let started = Instant::now();
        loop {
            if let Ok(response) = reqwest::get(format!("{}/health", host.url)).await
                && response.status().is_success()
            {
                return host;
            }
            if let Some(status) = host.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("jobq-local exited at start: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "jobq-local did not answer within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, as a service manager (or Ctrl-C) would stop it; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`, as a crash or the OOM killer would: no shutdown, no grace period, batches cut
    /// off wherever they were. Returns once the process is gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Child::kill is SIGKILL on Unix.
            child.kill().expect("kill -9 jobq-local");
            let status = child.wait().expect("reap jobq-local");
            assert!(!status.success(), "killed, not exited: {status}");
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        jobq_integration_tests::post_json(&format!("{}{path}", self.url), body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        jobq_integration_tests::get_json(&format!("{}{path}", self.url)).await
    }
}

/// The job table of the local host on `prefix`, read directly (the API may be down).
pub async fn store(prefix: &str) -> jobq::store::DynamoJobStore {
    let clients = jobq::adapters::aws::Clients::from_env().await;
    jobq::store::DynamoJobStore::new(
        clients.dynamodb.clone(),
        jobq::resources::ResourceNames::new(prefix).table(),
        chrono::Duration::days(1),
    )
}

impl Drop for LocalHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
