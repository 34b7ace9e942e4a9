//! This crate's job types through the local stack (`jobq_cli::local`) given this crate's
//! registry: the API accepts them and the worker runs them; a type no registry holds is refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jobq_cli::local::{self, LocalSettings};
use jobq_integration_tests::{free_port, unique_prefix};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The local stack in this process, with the example registry; it stops when `stop` is sent.
struct Stack {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    running: tokio::task::JoinHandle<Result<(), local::LocalError>>,
}

impl Stack {
    async fn start() -> Stack {
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
            "AWS_ENDPOINT_URL is not set. Run `make test` (it starts an emulator), or `make emulator` and export AWS_ENDPOINT_URL=http://127.0.0.1:4566"
        );
        let port = free_port().to_string();
        let vars = HashMap::from([
            ("JOBQ_PORT", port.clone()),
            ("JOBQ_PREFIX", unique_prefix()),
            ("JOBQ_LOCAL_POLL_WAIT_SECONDS", "1".to_owned()),
            ("JOBQ_SHUTDOWN_GRACE_SECONDS", "1".to_owned()),
        ]);
        let settings = LocalSettings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let running = tokio::spawn(local::run(jobq_example_worker::registry(), settings, shutdown));
        let stack = Stack { url: format!("http://127.0.0.1:{port}"), stop: Some(stop), running };
        let started = Instant::now();
        loop {
            if let Ok(response) = reqwest::get(format!("{}/health", stack.url)).await
                && response.status().is_success()
            {
                return stack;
            }
            assert!(!stack.running.is_finished(), "the local stack stopped at start");
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the local stack did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        jobq_integration_tests::post_json(&format!("{}{path}", self.url), body).await
    }

    async fn get(&self, path: &str) -> Value {
        jobq_integration_tests::get_json(&format!("{}{path}", self.url)).await
    }

    async fn enqueue(&self, job_type: &str, payload: Value) -> String {
        let (status, job) = self.post("/jobs", json!({ "type": job_type, "payload": payload })).await;
        assert_eq!(status, 201, "{job_type} is accepted: {job}");
        job["id"].as_str().expect("id").to_owned()
    }

    /// The job once it has reached a terminal status.
    async fn finished(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let job = self.get(&format!("/jobs/{id}")).await;
            if matches!(job["status"].as_str(), Some("completed" | "partial" | "failed" | "cancelled")) {
                return job;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "not finished after 60 s: {job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = tokio::time::timeout(Duration::from_secs(30), &mut self.running).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "the local stack stops cleanly: {stopped:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_types_run_through_the_local_stack_and_unknown_types_are_refused() {
    let stack = Stack::start().await;
    let text = "the quick brown fox\njumps over\n\nthe  lazy dog";
    let counted = stack.enqueue("word_count", json!({ "text": text })).await;
    let thumbnail = stack.enqueue("thumbnail_size", json!({ "width": 4000, "height": 3000 })).await;
    let empty = stack.enqueue("thumbnail_size", json!({ "width": 0, "height": 3000 })).await;

    let (status, refused) = stack.post("/jobs", json!({ "type": "transcode", "payload": {} })).await;
    assert!((400..500).contains(&status), "an unknown type is the client's error: {status} {refused}");
    assert_eq!(refused["error"]["field"], "type", "{refused}");

    let job = stack.finished(&counted).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], json!({ "words": 9, "lines": 4 }), "{job}");
    assert_eq!(job["progress"], 100, "{job}");
    assert_eq!(job["attempts"], 1, "{job}");

    let job = stack.finished(&thumbnail).await;
    assert_eq!(
        (&job["status"], &job["result"]),
        (&json!("completed"), &json!({ "width": 256, "height": 192 }))
    );

    let job = stack.finished(&empty).await;
    assert_eq!(job["status"], "failed", "an empty image is fatal: {job}");
    assert_eq!(job["attempts"], 1, "a fatal error is not retried: {job}");
    assert!(job["error"]["message"].as_str().is_some_and(|m| m.contains("above 0")), "{job}");

    stack.stop().await;
}

/// A payload that does not fit this crate's types is refused at the door, naming the field, on
/// `POST /jobs` and the batch route; and `/openapi.json` holds each type's payload schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_checked_against_the_example_types_and_documented() {
    let stack = Stack::start().await;
    let (status, refused) = stack
        .post("/jobs", json!({ "type": "thumbnail_size", "payload": { "width": "wide", "height": 3 } }))
        .await;
    assert_eq!((status, &refused["error"]["field"]), (422, &json!("payload.width")), "{refused}");
    let (status, refused) =
        stack.post("/jobs", json!({ "type": "thumbnail_size", "payload": { "width": 3 } })).await;
    assert_eq!((status, &refused["error"]["field"]), (422, &json!("payload.height")), "{refused}");
    let jobs = json!([{ "type": "word_count", "payload": { "text": "a b" } }, { "type": "word_count", "payload": { "text": 7 } }]);
    let (status, refused) = stack.post("/jobs/batch", json!({ "jobs": jobs })).await;
    assert_eq!((status, &refused["error"]["field"]), (422, &json!("jobs[1].payload.text")), "{refused}");
    assert_eq!(stack.get("/jobs?type=word_count").await["jobs"], json!([]), "nothing of the refused batch");
    stack.enqueue("thumbnail_size", json!({ "width": 30, "height": 20, "max": 10 })).await;

    let schemas = stack.get("/openapi.json").await["components"]["schemas"].clone();
    assert_eq!(schemas["Payload.thumbnail_size"], json!({ "$ref": "#/components/schemas/Input.Image" }));
    assert_eq!(schemas["Input.Image"]["required"], json!(["width", "height"]), "{schemas}");
    assert_eq!(schemas["Payload.word_count"], json!({ "$ref": "#/components/schemas/Input.Text" }));
    assert_eq!(schemas["Input.Text"]["properties"]["text"]["type"], "string", "{schemas}");
    assert!(schemas.get("Payload.sleep").is_some(), "the built-in types too: {schemas}");
    stack.stop().await;
}
