//! Faults between the product and AWS. A proxy ([`jobq_integration_tests::fault_proxy`]) sits
//! between the product's clients and the emulator and answers some requests with HTTP 500s and
//! throttling errors, or drops the connection before forwarding, or after (the request took
//! effect, its response is lost).
//!
//! First one test per fault the product must absorb (each failed before its fix), then the load
//! test: with a tenth of all DynamoDB and SQS calls failing, every accepted job ends in exactly
//! one terminal status, run and counted once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::http::StatusCode;
use futures::StreamExt;
use jobq::api::ApiSettings;
use jobq::dlq::{DeadLetterHandler, DeadLetterOutcome};
use jobq::queue::{NewMessage, REASON_ATTRIBUTE, TierQueues};
use jobq::service::{JobService, ServiceError};
use jobq::store::DynamoJobStore;
use jobq::task::Registry;
use jobq::worker::{Worker, WorkerSettings, deliver, poll_once, sqs_event};
use jobq::{Envelope, Job, JobStatus, NewJob, Priority, PriorityTier};
use jobq_integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy, Service};
use jobq_integration_tests::{TestEnv, call};
use serde_json::{Value, json};

fn spec(job_type: &str, payload: Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

fn types() -> Vec<String> {
    jobq::runtime::job_types(&jobq::task::Registry::with_builtins())
}

/// The product's clients, through a proxy that injects only what a test scripts.
async fn scripted(env: &TestEnv) -> (FaultProxy, jobq::aws::Clients) {
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::none()).await;
    let (clients, _) = env.clients_via(proxy.url());
    (proxy, clients)
}

#[tokio::test]
async fn the_proxy_answers_in_each_protocol_and_the_sdk_retries_what_it_injects() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let store = DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention);

    // A throttle and a 500: the SDK retries both and the third attempt goes through.
    proxy.inject_next("DynamoDB:GetItem", Fault::Throttle);
    proxy.inject_next("DynamoDB:GetItem", Fault::ServerError);
    assert_eq!(store.get("nothing", true).await.expect("retried past both faults"), None);

    // Throttled on every attempt: the SDK gives up with DynamoDB's modelled error.
    for _ in 0..3 {
        proxy.inject_next("DynamoDB:GetItem", Fault::Throttle);
    }
    let err = clients
        .dynamodb
        .get_item()
        .table_name(&env.config.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("job#x".into()))
        .send()
        .await
        .expect_err("throttled three times");
    assert!(
        err.as_service_error().is_some_and(|e| e.is_provisioned_throughput_exceeded_exception()),
        "{err:?}"
    );

    // SQS speaks JSON with the query-compatible code header: the SDK sees RequestThrottled.
    let url = env.config.queues.get(PriorityTier::Normal);
    for _ in 0..3 {
        proxy.inject_next("SQS:GetQueueAttributes", Fault::Throttle);
    }
    let err = clients.sqs.get_queue_attributes().queue_url(url).send().await.expect_err("throttled");
    assert!(err.as_service_error().is_some_and(|e| e.is_request_throttled()), "{err:?}");

    // Dropped before forwarding: nothing happened, and the SDK's retry sends the message once.
    let queues = TierQueues::new(clients.sqs.clone(), env.config.queues.clone());
    let envelope = Envelope::new("j1", "noop", PriorityTier::Normal, 0);
    proxy.inject_next("SQS:SendMessage", Fault::DropBefore);
    proxy.inject_next("SQS:SendMessage", Fault::ServerError);
    queues.send(&envelope, 0).await.expect("sent on the third attempt");
    assert_eq!(env.queues().depth(PriorityTier::Normal).await.expect("depth").visible, 1);
    // Dropped after forwarding: the message went out, and the SDK's retry sent it again.
    proxy.inject_next("SQS:SendMessage", Fault::DropAfter);
    queues.send(&envelope, 0).await.expect("sent");
    assert_eq!(env.queues().depth(PriorityTier::Normal).await.expect("depth").visible, 3);

    let injected = proxy.injected();
    assert_eq!(proxy.scripted_left(), 0);
    assert_eq!(
        (
            injected.count(Service::DynamoDb, Fault::Throttle),
            injected.count(Service::DynamoDb, Fault::ServerError)
        ),
        (4, 1)
    );
    assert_eq!(injected.count(Service::Sqs, Fault::Throttle), 3);
    assert_eq!(injected.count(Service::Sqs, Fault::ServerError), 1);
    assert_eq!(injected.count(Service::Sqs, Fault::DropBefore), 1);
    assert_eq!(injected.count(Service::Sqs, Fault::DropAfter), 1);
    assert_eq!(injected.by_operation.get("SQS:SendMessage:drop_after"), Some(&1));
}

#[tokio::test]
async fn a_claim_whose_response_is_lost_is_still_the_claimers_and_runs_once() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let worker = Worker::new(&clients, &env.config, Registry::with_builtins(), TestEnv::fast_settings(30));
    let job = env.enqueue(spec("echo", json!({"n": 1}))).await;
    // The worker's first UpdateItem is the claim: it takes effect, the response is lost, and the
    // SDK's retry finds the job processing under the lease it just took.
    proxy.inject_next("DynamoDB:UpdateItem", Fault::DropAfter);
    let polled = env.poll(&worker, job.tier, 1).await;
    assert_eq!(proxy.scripted_left(), 0);
    assert_eq!(polled.failed, 0, "not deferred as if another run held the job");
    let done = env.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "run once, on its first attempt");
    assert_eq!(done.result, Some(json!({"n": 1})));
}

#[tokio::test]
async fn a_finish_whose_response_is_lost_is_recorded_and_counted_once() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let worker = Worker::new(&clients, &env.config, Registry::with_builtins(), TestEnv::fast_settings(30));
    // Fails its first attempt: the finish records `retrying` and the retry goes out as a message.
    let job = env.enqueue(NewJob { max_attempts: Some(3), ..spec("fail", json!({"times": 1})) }).await;
    // UpdateItems of a run: claim, finish. The finish takes effect with its response lost, and
    // the SDK's two retries fail too: the store sends it again with the same token and finds it
    // done.
    proxy.inject_after("DynamoDB:UpdateItem", 1, Fault::DropAfter);
    proxy.inject_next("DynamoDB:UpdateItem", Fault::DropBefore);
    proxy.inject_next("DynamoDB:UpdateItem", Fault::DropBefore);
    let ids = [job.id.clone()];
    env.run_until(&worker, Duration::from_secs(20), || async {
        env.jobs(&ids).await.iter().all(|j| j.status.is_terminal())
    })
    .await;
    assert_eq!(proxy.scripted_left(), 0);
    let done = env.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2));
    assert_eq!(done.result, Some(json!({"succeeded_on_attempt": 2})));
    env.count_changes().await;
    let stats = env.store().stats("fail").await.expect("stats");
    assert_eq!((stats.retried, stats.completed, stats.runs), (1, 1, 2), "{stats:?}");
}

#[tokio::test]
async fn a_counting_transaction_whose_response_is_lost_counts_each_change_once() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let jobs: Vec<Job> =
        futures::future::join_all((0..3).map(|_| env.enqueue(spec("noop", Value::Null)))).await;
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    env.run_until(&worker, Duration::from_secs(20), || async {
        env.jobs(&ids).await.iter().all(|j| j.status.is_terminal())
    })
    .await;

    // The counter function's transaction takes effect with its answer lost (and the SDK's two
    // retries fail before reaching the table): the batch comes again from its first change.
    let store = DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention);
    let engine = jobq::counter::CounterEngine::new(store, jobq::ports::clock::system());
    let feed = jobq::aws::DynamoStreamFeed::new(&clients, &env.config.table);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropAfter);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropBefore);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropBefore);
    let stopped = jobq::counter::drain(&engine, &feed, None).await.expect_err("the answer was lost");
    assert_eq!(proxy.scripted_left(), 0);
    // Delivered again, cut differently (one change, then the rest): each counted once.
    let changes = jobq::ports::table::ChangeFeed::read(&feed, None, 1000).await.expect("read");
    assert_eq!(changes.first().map(|c| c.seq.clone()), Some(stopped.first_uncounted.clone()));
    engine.count(&changes[..1]).await.expect("count the first change again");
    engine.count(&changes).await.expect("count the whole batch again");
    let stats = env.store().stats("noop").await.expect("stats");
    assert_eq!((stats.completed, stats.runs), (3, 3), "each run counted once: {stats:?}");
    let all = env.store().counters(jobq::store::tally::ALL_COUNTER).await.expect("read").expect("counted");
    assert_eq!(all.statuses, std::collections::BTreeMap::from([(JobStatus::Completed, 3)]));
}

#[tokio::test]
async fn an_upload_whose_put_response_is_lost_is_still_enqueued_once_with_its_message() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let service = JobService::new(&clients, &env.config, types());
    proxy.inject_next("DynamoDB:PutItem", Fault::DropAfter);
    let job = NewJob { idempotency_key: Some("s3:bucket/in/a.pdf@e1".into()), ..spec("echo", json!({})) };
    let created = service.enqueue_once(job.clone()).await.expect("enqueued");
    let created = created.expect("new: the record the SDK's retry found is this call's own");
    assert_eq!(env.queues().depth(created.tier).await.expect("depth").visible, 1, "its message was sent");
    assert_eq!(service.enqueue_once(job).await.expect("repeat"), None, "a real repeat does nothing");
    assert_eq!(env.queues().depth(created.tier).await.expect("depth").visible, 1);
}

#[tokio::test]
async fn a_dead_letter_for_a_missing_record_leaves_a_later_job_with_that_id_alone() {
    let env = TestEnv::new().await;
    let (proxy, clients) = scripted(&env).await;
    let service = JobService::new(&clients, &env.config, types());
    let key = NewJob { idempotency_key: Some("order-1".into()), ..spec("echo", json!({"order": 1})) };
    let id = jobq::model::job_id_for_key("order-1");

    // The message goes out but its response is lost, and the SDK's two retries fail: the enqueue
    // fails, its record is rolled back, and the message stays.
    proxy.inject_next("SQS:SendMessage", Fault::DropAfter);
    proxy.inject_next("SQS:SendMessage", Fault::DropBefore);
    proxy.inject_next("SQS:SendMessage", Fault::DropBefore);
    let err = service.enqueue(key.clone()).await.expect_err("the send failed");
    assert!(matches!(err, ServiceError::Queue(_)), "{err}");
    assert_eq!(env.store().get(&id, true).await.expect("get"), None, "rolled back");

    // The stray message reaches a worker first: no record, so it is dead-lettered.
    let worker = env.worker(Registry::with_builtins(), TestEnv::fast_settings(30));
    let tier = PriorityTier::Normal;
    assert_eq!(env.poll(&worker, tier, 1).await.received, 1);
    let dead = env.dlqs().receive(tier, 10, 1, Some(30)).await.expect("dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attributes.get(REASON_ATTRIBUTE).map(String::as_str), Some("missing_job_record"));

    // The client retries with its key: a new job with the same id, and a message of its own.
    let (job, created) = service.enqueue(key).await.expect("retry");
    assert!(created && job.id == id);
    // The dead letter is about the record that was not there, not this job.
    let handler = DeadLetterHandler::new(env.store());
    let event = sqs_event(&dead, &env.dlqs().arn(tier).await.expect("arn"), "local");
    let outcome = handler.record(&event.records[0]).await.expect("record");
    assert!(matches!(outcome, DeadLetterOutcome::Unrecordable { .. }), "{outcome:?}");
    let ids = [id.clone()];
    env.run_until(&worker, Duration::from_secs(20), || async {
        env.jobs(&ids).await.iter().all(|j| j.status.is_terminal())
    })
    .await;
    let done = env.job(&id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

#[tokio::test]
async fn a_dead_letter_dynamodb_throttled_comes_back_in_seconds_and_fails_its_job() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::none()).await;
    let (clients, _) = env.clients_via_with_attempts(proxy.url(), 1);
    let store = DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention);
    let dlqs = TierQueues::new(clients.sqs.clone(), env.config.dlqs.clone());
    let handler = DeadLetterHandler::new(store).with_dead_letter_queues(dlqs);
    // Its message moved to the DLQ as the redrive policy moves one (no reason attribute), after
    // its run died: the run's lease ended long ago.
    let job = env.enqueue(spec("noop", Value::Null)).await;
    let tier = job.tier;
    let message = env.queues().receive(tier, 1, 1, None).await.expect("receive").remove(0);
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    let lease = long_ago + chrono::Duration::seconds(30);
    env.store().claim(&job.id, 0, long_ago, lease).await.expect("a run that died");
    let dlq = env.dlqs();
    dlq.port().send(dlq.url(tier), &NewMessage::new(message.body, 0)).await.expect("dead-letter");
    let arn = dlq.arn(tier).await.expect("dlq arn");

    proxy.set_dynamodb_throttled(true);
    let polled = poll_once(&dlq, tier, &arn, 10, 1, |event| handler.handle(event)).await.expect("poll");
    proxy.set_dynamodb_throttled(false);
    assert_eq!((polled.received, polled.failed), (1, 1), "not recorded while throttled");
    assert_eq!(env.job(&job.id).await.status, JobStatus::Processing);

    // Back within a minute (the DLQ's own visibility timeout is 5,400 s), and recorded then.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled = poll_once(&dlq, tier, &arn, 10, 5, |event| handler.handle(event)).await.expect("poll");
        if polled.received > 0 {
            assert_eq!(polled.failed, 0);
            break;
        }
        assert!(Instant::now() < deadline, "the dead letter did not come back");
    }
    assert_eq!(env.job(&job.id).await.status, JobStatus::Failed);
}

/// Longer than maxReceiveCount (5) times the worker's transient delay (10 s): the old path, which
/// handed a throttled delivery back with a 10 s visibility, walked every message to its DLQ
/// within a throttle this long, and the dead-letter function then failed jobs that never ran.
const LONG_THROTTLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_dynamodb_throttling_leaves_every_job_completed_on_its_first_attempt() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(&env.endpoint(), FaultPlan::none()).await;
    // One try per request: each throttled call reaches the worker at once (as when the SDK's
    // retry quota is spent), so a delivery comes round every transient delay.
    let (clients, _) = env.clients_via_with_attempts(proxy.url(), 1);
    let settings = WorkerSettings { transient_delay: Duration::from_secs(10), ..TestEnv::fast_settings(30) };
    let worker = Arc::new(Worker::new(&clients, &env.config, Registry::with_builtins(), settings));
    let priorities = [Priority::HIGH, Priority::NORMAL, Priority::LOW];
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(env.enqueue(NewJob { priority: priorities[i % 3], ..spec("noop", Value::Null) }).await.id);
    }

    proxy.set_dynamodb_throttled(true);
    let queues = TierQueues::new(clients.sqs.clone(), env.config.queues.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut pollers = tokio::task::JoinSet::new();
    for tier in PriorityTier::ALL {
        let worker = worker.clone();
        let handler = move |event| {
            let worker = worker.clone();
            async move { worker.handle(event, None).await }
        };
        pollers.spawn(poll_loop(queues.clone(), tier, env.arn(tier).await, stopped.clone(), handler));
    }
    // Read past the proxy until every job ended; a letter in a DLQ at any point is a message whose
    // redrive budget the throttle spent.
    let lift_at = Instant::now() + LONG_THROTTLE;
    let deadline = lift_at + Duration::from_secs(120);
    let direct = env.store();
    loop {
        let throttled = Instant::now() < lift_at;
        proxy.set_dynamodb_throttled(throttled);
        for tier in PriorityTier::ALL {
            let dead = env.dlqs().depth(tier).await.expect("dlq depth");
            assert_eq!(
                dead.visible + dead.in_flight + dead.delayed,
                0,
                "{tier}: dead-lettered while throttled"
            );
        }
        let jobs = direct.batch_get(&ids).await.expect("read jobs");
        if !throttled && jobs.iter().all(|j| j.status.is_terminal()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs not done: {:?}",
            jobs.iter().map(|j| j.status).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let _ = stop.send(true);
    while pollers.join_next().await.is_some() {}

    // Every tier's deliveries met the throttle: at their batch's pause-flag read (one per batch;
    // a batch whose flags cannot be read goes round again, judged afresh) or at their claims.
    let injected = proxy.injected().by_operation;
    let met = |operation: &str| injected.get(&format!("DynamoDB:{operation}:throttle")).copied().unwrap_or(0);
    assert!(met("GetItem") + met("UpdateItem") >= 3, "the deliveries met the throttle: {injected:?}");
    let jobs = direct.batch_get(&ids).await.expect("read jobs");
    assert_eq!(jobs.len(), ids.len());
    for job in jobs {
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{}: no attempt spent", job.id);
    }
    assert_eq!(direct.count(JobStatus::Failed, None).await.expect("count"), 0);
}

// ---------------------------------------------------------------------------------------------
// Load under faults.

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

/// One event source mapping: receive, run, delete what succeeded, until told to stop.
async fn poll_loop<H, Fut>(
    queue: TierQueues,
    tier: PriorityTier,
    arn: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    while !*stop.borrow() {
        let received = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            received = queue.receive(tier, 10, 1, None) => received,
        };
        match received {
            Ok(messages) => {
                // A failed delete is a redelivery later, which the worker drops.
                let _ = deliver(&queue, tier, &arn, &messages, &handler).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The visible messages still in the tier queues and DLQs (past the proxy), with their job's
/// status and what a dead-letter handler without faults makes of the dead ones.
async fn leftovers(env: &TestEnv) -> String {
    let handler = DeadLetterHandler::new(env.store());
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
    let worker = Arc::new(Worker::new(&clients, &env.config, Registry::with_builtins(), settings));
    let store = DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention);
    let dead_letters = Arc::new(DeadLetterHandler::new(store));
    let queues = TierQueues::new(clients.sqs.clone(), env.config.queues.clone());
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
    let api = jobq::api::router(JobService::new(&api_clients, &env.config, types()), ApiSettings::default());
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
        assert_eq!(*id, jobq::model::job_id_for_key(&format!("fault-{i}")), "job {i}");
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
