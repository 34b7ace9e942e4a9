//! Jobs past their retention. DynamoDB's TTL deletes an expired item hours to two days late, and
//! until then reads and queries still return it (modelled by the in-memory table, seeded per item:
//! `jobq::adapters::memory::TtlLag`). jobq never takes such an item for a live job: `GET` answers 404, a
//! listing leaves it out, and its idempotency key is free again, so an enqueue under that key makes
//! a new job (rather than answering with the expired one until DynamoDB gets round to it).

use std::sync::Arc;

use chrono::{DateTime, Duration};
use jobq::adapters::memory::{MemoryBlobs, MemoryTable, TtlLag};
use jobq::domain::task::Registry;
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::ManualClock;
use jobq::store::ListQuery;
use jobq::{JobStatus, NewJob, Ports};
use serde_json::json;

struct Stack {
    clock: ManualClock,
    ports: Ports,
    table: MemoryTable,
    blobs: MemoryBlobs,
    service: JobService,
    worker: Worker,
}

fn stack() -> Stack {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    let (ports, aws) = Ports::memory(Arc::new(clock.clone())).expect("memory ports");
    aws.table.set_ttl_lag(TtlLag::Seeded(5));
    let blobs = MemoryBlobs::default();
    let ports = ports.with_blobs(Arc::new(blobs.clone()));
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { clock, ports, table: aws.table, blobs, service, worker }
}

fn keyed(payload: serde_json::Value) -> NewJob {
    NewJob {
        job_type: "echo".into(),
        payload,
        idempotency_key: Some("nightly-1".into()),
        ..NewJob::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_past_its_retention_is_still_read_but_never_taken_for_alive() {
    let s = stack();
    let big = json!("b".repeat(10_000));
    let (first, _) = s.service.enqueue(keyed(big.clone())).await.expect("enqueue");
    assert_eq!(drain(&s.ports.queues, &s.worker).await.expect("drain"), 1);
    assert_eq!(s.blobs.keys().len(), 2, "its payload and result in the bucket");

    // A week (the retention) and a minute on: expired, and DynamoDB has not deleted it yet.
    s.clock.advance(Duration::days(7) + Duration::minutes(1));
    assert_eq!(s.table.expire(), 0, "deleted only hours later");
    let read = s.ports.store.get(&first.id, true).await.expect("get").expect("still read");
    assert_eq!(read.status, JobStatus::Completed);
    let listed = s.ports.store.list(&ListQuery::default(), 10, None).await.expect("list");
    assert_eq!(listed.jobs.len(), 1, "and still listed by the index");

    // The product's answers: gone.
    assert!(s.service.get(&first.id).await.expect("get").is_none(), "GET answers 404");
    let page = s.service.list(&ListQuery::default(), 10, None).await.expect("list");
    assert!(page.jobs.is_empty(), "left out of listings: {}", page.jobs.len());
    let (again, _) = s.service.enqueue(keyed(json!({"second": true}))).await.expect("enqueue");
    assert_eq!(again.id, first.id, "the same key, the same id");
    let shown = s.service.get(&again.id).await.expect("get").expect("a new job");
    assert_eq!((shown.status, shown.attempts), (JobStatus::Queued, 0), "a new job, not the expired one");
    assert_eq!(s.blobs.keys(), Vec::<String>::new(), "the expired job's objects went with it");
    assert_eq!(drain(&s.ports.queues, &s.worker).await.expect("drain"), 1);
    let done = s.service.get(&again.id).await.expect("get").expect("exists");
    assert_eq!(done.status, JobStatus::Completed);
    assert!(done.result == Some(json!({"second": true})), "its own result");

    // DynamoDB's late deletion finds nothing expired to delete: the new job has its own retention.
    s.clock.advance(Duration::days(2));
    assert_eq!(s.table.expire(), 0);
    assert!(s.service.get(&again.id).await.expect("get").is_some());
}

/// When DynamoDB's TTL deletes a job item at last, its objects in the bucket go with it: the
/// change stream shows the item removed, and its consumer deletes what the item named.
#[tokio::test(start_paused = true)]
async fn the_objects_of_a_job_item_ttl_deleted_go_from_the_change_stream() {
    use jobq::ports::table::ChangeFeed;
    let s = stack();
    let feed = s.table.changes();
    let (job, _) = s.service.enqueue(keyed(json!("b".repeat(10_000)))).await.expect("enqueue");
    let small = NewJob { job_type: "echo".into(), payload: json!({"a": 1}), ..NewJob::default() };
    s.service.enqueue(small).await.expect("enqueue");
    assert_eq!(drain(&s.ports.queues, &s.worker).await.expect("drain"), 2);
    assert_eq!(s.blobs.keys().len(), 2, "the large job's payload and result");
    let before = feed.read(None, 1000).await.expect("read");
    assert_eq!(s.ports.store.discard_removed(&before).await, 0, "nothing removed yet");
    let counter = s.ports.counter();
    counter.count(&before).await.expect("count");
    assert_eq!(s.blobs.keys().len(), 2);

    s.clock.advance(Duration::days(7) + Duration::hours(49));
    // Both jobs deleted by TTL at last (and the counter's own short-lived markers).
    assert!(s.table.expire() >= 2);
    assert!(s.ports.store.get(&job.id, true).await.expect("get").is_none(), "deleted");
    let after = before.last().map(|c| c.seq.clone());
    let changes = feed.read(after.as_deref(), 1000).await.expect("read");
    // The stream's consumer, the counter function, deletes them as it counts the removals.
    counter.count(&changes).await.expect("count");
    assert_eq!(s.blobs.keys(), Vec::<String>::new(), "gone with their job: {}", job.id);
    assert_eq!(s.ports.store.discard_removed(&changes).await, 2, "read again, nothing breaks");
    counter.count(&changes).await.expect("a batch delivered again is counted once, deletes nothing more");
}
