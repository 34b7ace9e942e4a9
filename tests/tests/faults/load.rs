//! The load test: with a tenth of all DynamoDB and SQS calls failing, every accepted job ends in
//! exactly one terminal status, run and counted once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures::StreamExt;
use jobq::api::ApiSettings;
use jobq::domain::caller::ANONYMOUS_OWNER;
use jobq::domain::model::job_id_for_owner_key;
use jobq::domain::task::Registry;
use jobq::handlers::dlq::DeadLetterHandler;
use jobq::handlers::worker::{WorkerSettings, sqs_event};
use jobq::ports::clock;
use jobq::queue::TierQueues;
use jobq::store::DynamoJobStore;
use jobq::{Envelope, JobStatus, PriorityTier};
use jobq_integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy, Service};
use jobq_integration_tests::{TestEnv, call};
use serde_json::{Value, json};

use super::{poll_loop, types};

/// Jobs in the load test (`JOBQ_FAULT_JOBS`, default 1,000: about 90 s against moto).
fn job_count() -> usize {
    std::env::var("JOBQ_FAULT_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

const FAULT_RATE: f64 = 0.10;

const VISIBILITY_SECONDS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `echo`: completes; its result is its payload.
    Echo,
    /// `fail` with `times: 1`: fails its first attempt, completes on the second.
    Flaky,
    /// `fail`, not retryable: fails at once, to its tier's DLQ.
    Fatal,
}

fn kind_of(i: usize) -> Kind {
    match i % 20 {
        19 => Kind::Fatal,
        3 | 13 => Kind::Flaky,
        _ => Kind::Echo,
    }
}

fn body_of(i: usize) -> Value {
    let (job_type, payload) = match kind_of(i) {
        Kind::Echo => ("echo", json!({"i": i})),
        Kind::Flaky => ("fail", json!({"times": 1, "message": "flaky"})),
        Kind::Fatal => ("fail", json!({"retryable": false, "message": "bad input"})),
    };
    json!({"type": job_type, "payload": payload, "priority": i % 11, "max_attempts": 3,
           "idempotency_key": format!("fault-{i}")})
}

/// The visible messages still in the tier queues and DLQs (past the proxy), with their job's
/// status and what a dead-letter handler without faults makes of the dead ones.
async fn leftovers(env: &TestEnv) -> String {
    let handler = DeadLetterHandler::new(env.store(), env.queues(), clock::system());
    let mut lines = Vec::new();
    for tier in PriorityTier::ALL {
        for (name, queue) in [("queue", env.queues()), ("dlq", env.dlqs())] {
            let got = queue.receive(tier, 10, 0, Some(30)).await.expect("receive");
            let arn = queue.arn(tier).await.expect("arn");
            for message in &got {
                let status = match Envelope::decode(&message.body) {
                    Ok(e) => format!("{:?}", env.store().get(&e.id, true).await.map(|j| j.map(|j| j.status))),
                    Err(err) => err.to_string(),
                };
                let outcome = if name == "dlq" {
                    format!(
                        "{:?}",
                        handler
                            .record(&sqs_event(std::slice::from_ref(message), &arn, "local").records[0])
                            .await
                    )
                } else {
                    String::new()
                };
                lines.push(format!(
                    "{tier} {name}: {} received {} times, attributes {:?}, job {status} {outcome}",
                    message.body, message.receive_count, message.attributes
                ));
            }
        }
    }
    lines.join("\n")
}

#[allow(clippy::too_many_lines, reason = "an end-to-end scenario reads best as one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_tenth_of_aws_calls_failing_every_job_ends_once() {
    let started = Instant::now();
    let jobs = job_count();
    let seed = std::env::var("JOBQ_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(9);
    let env = Arc::new(TestEnv::new().await);
    env.set_visibility(VISIBILITY_SECONDS).await;
    // The DLQs too: a dead letter whose receive response the proxy drops is invisible for the
    // queue's visibility timeout (5,400 s as provisioned) before it is delivered again.
    for (_, url) in env.config.dlqs.iter() {
        env.clients
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                VISIBILITY_SECONDS.to_string(),
            )
            .send()
            .await
            .expect("set DLQ visibility");
    }
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::every_kind(FAULT_RATE, seed)).await;

    // Workers and dead-letter handlers on the product's clients, with the SDK's default retries.
    let (clients, _) = env.clients_via(proxy.url());
    let settings = WorkerSettings {
        pause_cache: Duration::from_secs(5),
        ..TestEnv::fast_settings(u64::from(VISIBILITY_SECONDS))
    };
    let worker =
        Arc::new(jobq::Ports::aws(&clients, &env.config).worker(Registry::with_builtins(), settings));
    let store = DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention);
    let queues = TierQueues::new(clients.sqs.clone(), env.config.queues.clone());
    let dead_letters = Arc::new(DeadLetterHandler::new(store, queues.clone(), clock::system()));
    let dlqs = TierQueues::new(clients.sqs.clone(), env.config.dlqs.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut pollers = tokio::task::JoinSet::new();
    for tier in PriorityTier::ALL {
        let arn = env.arn(tier).await;
        for _ in 0..2 {
            let worker = worker.clone();
            let handler = move |event| {
                let worker = worker.clone();
                async move { worker.handle(event, None).await }
            };
            pollers.spawn(poll_loop(queues.clone(), tier, arn.clone(), stopped.clone(), handler));
        }
        let dlq_arn = env.dlqs().arn(tier).await.expect("dlq arn");
        let handler = dead_letters.clone();
        let handle = move |event| {
            let handler = handler.clone();
            async move { handler.handle(event).await }
        };
        pollers.spawn(poll_loop(dlqs.clone(), tier, dlq_arn, stopped.clone(), handle));
    }

    // The API with the SDK's retries off, so a tenth of its AWS calls fail up to the client (503),
    // which tries again with the same idempotency key until the job is accepted.
    let (api_clients, _) = env.clients_via_with_attempts(proxy.url(), 1);
    let api = jobq::api::router(
        jobq::Ports::aws(&api_clients, &env.config).service(&env.config, types()),
        ApiSettings::default(),
    );
    let accepted: Vec<(usize, String, u32)> = futures::stream::iter(0..jobs)
        .map(|i| {
            let api = api.clone();
            async move {
                let mut errors = 0;
                loop {
                    let (status, body) = call(&api, "POST", "/jobs", Some(body_of(i))).await;
                    match status {
                        StatusCode::CREATED | StatusCode::OK => {
                            return (i, body["id"].as_str().unwrap_or_default().to_owned(), errors);
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            assert_eq!(body["error"]["code"], "unavailable", "{body}");
                            errors += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => panic!("job {i}: {other} {body}"),
                    }
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let enqueued_in = started.elapsed();

    // Until every job is terminal and every queue and DLQ is empty (read past the proxy). A
    // terminal job stays terminal, so only the others are read again.
    let ids: Vec<String> = accepted.iter().map(|(_, id, _)| id.clone()).collect();
    let direct = env.store();
    let deadline = Instant::now() + Duration::from_secs(60 + jobs as u64 / 2);
    let mut open = ids.clone();
    let mut last_report = Instant::now();
    let mut all_ended: Option<Instant> = None;
    loop {
        let records = direct.batch_get(&open).await.expect("read jobs");
        let done: std::collections::HashSet<&str> =
            records.iter().filter(|j| j.status.is_terminal()).map(|j| j.id.as_str()).collect();
        open.retain(|id| !done.contains(id.as_str()));
        let mut waiting = BTreeMap::new();
        if open.is_empty() {
            for tier in PriorityTier::ALL {
                let (q, d) = (
                    env.queues().depth(tier).await.expect("depth"),
                    env.dlqs().depth(tier).await.expect("dlq"),
                );
                for (name, n) in [
                    ("queue", q.visible + q.in_flight + q.delayed),
                    ("dlq", d.visible + d.in_flight + d.delayed),
                ] {
                    if n > 0 {
                        waiting.insert(format!("{tier} {name}"), n);
                    }
                }
            }
            if waiting.is_empty() {
                break;
            }
            // Every job ended: what is left should go within a visibility timeout or two.
            let since = *all_ended.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(90) {
                panic!("messages left 90 s after every job ended: {}", leftovers(&env).await);
            }
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "faults: {:.0} s: {} jobs open, waiting {waiting:?}",
                started.elapsed().as_secs_f64(),
                open.len()
            );
            last_report = Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{} jobs not terminal ({:?}), messages left {waiting:?}; {}",
            open.len(),
            open.iter().take(5).collect::<Vec<_>>(),
            proxy.injected()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = stop.send(true);
    while pollers.join_next().await.is_some() {}
    let injected = proxy.injected();

    // The proxy injected every kind of fault into both services.
    for service in [Service::DynamoDb, Service::Sqs] {
        for fault in Fault::ALL {
            assert!(injected.count(service, fault) > 0, "no {service} {fault:?} injected: {injected}");
        }
    }

    // Every enqueue, failed or not, gave the job its key names, and only that one.
    let enqueue_errors: u32 = accepted.iter().map(|(_, _, e)| e).sum();
    let retried_enqueues = accepted.iter().filter(|(_, _, e)| *e > 0).count();
    assert!(retried_enqueues > 0, "no enqueue failed up to the client: {injected}");
    for (i, id, _) in &accepted {
        let key = format!("fault-{i}");
        assert_eq!(*id, job_id_for_owner_key(ANONYMOUS_OWNER, &key), "job {i}");
    }
    let mut table: BTreeMap<JobStatus, u64> = BTreeMap::new();
    for status in JobStatus::ALL {
        table.insert(status, direct.count(status, None).await.expect("count"));
    }
    assert_eq!(table.values().sum::<u64>(), jobs as u64, "exactly one job per key: {table:?}");

    // Each job ended as its kind says, once; attempts only as many as runs needed.
    let records = direct.batch_get(&ids).await.expect("read jobs");
    let by_id: BTreeMap<&str, &jobq::Job> = records.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut attempts: BTreeMap<u32, usize> = BTreeMap::new();
    let (mut completed, mut failed) = (BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new());
    let mut extra_attempts = 0u64;
    for (i, id, _) in &accepted {
        let job = by_id.get(id.as_str()).unwrap_or_else(|| panic!("job {i} lost"));
        *attempts.entry(job.attempts).or_default() += 1;
        match kind_of(*i) {
            Kind::Echo => {
                assert_eq!(job.status, JobStatus::Completed, "{job:?}");
                assert_eq!(job.result, Some(json!({"i": i})), "{job:?}");
                extra_attempts += u64::from(job.attempts.saturating_sub(1));
            }
            Kind::Flaky => {
                assert_eq!(job.status, JobStatus::Completed, "{job:?}");
                assert_eq!(job.result, Some(json!({"succeeded_on_attempt": job.attempts})), "{job:?}");
                extra_attempts += u64::from(job.attempts.saturating_sub(2));
            }
            Kind::Fatal => {
                assert_eq!(job.status, JobStatus::Failed, "{job:?}");
                let reason = job.error.as_ref().and_then(|e| e.details.as_ref()).map(|d| d["reason"].clone());
                assert_eq!(reason, Some(json!("fatal_error")), "{job:?}");
                extra_attempts += u64::from(job.attempts.saturating_sub(1));
            }
        }
        assert!(job.attempts <= job.max_attempts, "{job:?}");
        let counter = if job.status == JobStatus::Completed { &mut completed } else { &mut failed };
        *counter.entry(job.job_type.as_str()).or_default() += 1;
    }

    // The counters agree with the table: each completion and failure counted exactly once.
    let flaky = (0..jobs).filter(|i| kind_of(*i) == Kind::Flaky).count() as u64;
    env.count_changes().await;
    for job_type in ["echo", "fail"] {
        let stats = direct.stats(job_type).await.expect("stats");
        let want =
            (completed.get(job_type).copied().unwrap_or(0), failed.get(job_type).copied().unwrap_or(0));
        assert_eq!((stats.completed, stats.failed), want, "{job_type}: {stats:?}");
        assert_eq!(stats.runs, stats.completed + stats.failed + stats.retried + stats.partial);
        if job_type == "fail" {
            // One retry per flaky job, but for runs whose outcome could not be recorded.
            assert!(stats.retried <= flaky && stats.retried + extra_attempts >= flaky, "{stats:?}");
        } else {
            assert_eq!(stats.retried, 0);
        }
    }
    println!(
        "faults: {jobs} jobs in {:.1} s (enqueued in {:.1} s); {enqueue_errors} enqueue errors over \
         {retried_enqueues} jobs, each retried with its key; attempts {attempts:?} ({extra_attempts} \
         beyond what the jobs needed); table {table:?}; injected: {injected}",
        started.elapsed().as_secs_f64(),
        enqueued_in.as_secs_f64(),
    );
}
