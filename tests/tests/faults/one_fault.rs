//! One test per fault the product must absorb, each of which failed before its fix: a lost
//! response (the request took effect), a throttled or failing call, a minute of throttling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jobq::domain::task::Registry;
use jobq::handlers::dlq::{DeadLetterHandler, DeadLetterOutcome};
use jobq::handlers::service::ServiceError;
use jobq::handlers::worker::{WorkerSettings, poll_once, sqs_event};
use jobq::ports::clock;
use jobq::queue::{NewMessage, REASON_ATTRIBUTE, TierQueues};
use jobq::store::DynamoJobStore;
use jobq::{Envelope, Job, JobStatus, NewJob, Priority, PriorityTier};
use jobq_integration_tests::TestEnv;
use jobq_integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy, Service};
use serde_json::{Value, json};

use super::{poll_loop, scripted, spec, types};

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
    let worker =
        jobq::Ports::aws(&clients, &env.config).worker(Registry::with_builtins(), TestEnv::fast_settings(30));
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
    let worker =
        jobq::Ports::aws(&clients, &env.config).worker(Registry::with_builtins(), TestEnv::fast_settings(30));
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
    let engine = jobq::handlers::counter::CounterEngine::new(store, jobq::ports::clock::system());
    let feed = jobq::adapters::aws::DynamoStreamFeed::new(&clients, &env.config.table);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropAfter);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropBefore);
    proxy.inject_next("DynamoDB:TransactWriteItems", Fault::DropBefore);
    let stopped =
        jobq::handlers::counter::drain(&engine, &feed, None).await.expect_err("the answer was lost");
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
    let service = jobq::Ports::aws(&clients, &env.config).service(&env.config, types());
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
    let service = jobq::Ports::aws(&clients, &env.config).service(&env.config, types());
    let key = NewJob { idempotency_key: Some("order-1".into()), ..spec("echo", json!({"order": 1})) };
    let id = jobq::domain::model::job_id_for_key("order-1");

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
    let handler = DeadLetterHandler::new(env.store(), env.queues(), clock::system());
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
    let queues = TierQueues::new(clients.sqs.clone(), env.config.queues.clone());
    let handler = DeadLetterHandler::new(store, queues, clock::system()).with_dead_letter_queues(dlqs);
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
    let worker =
        Arc::new(jobq::Ports::aws(&clients, &env.config).worker(Registry::with_builtins(), settings));
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
