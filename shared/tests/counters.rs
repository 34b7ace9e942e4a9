//! The counters kept from the table's change stream, on the in-memory ports: exact whoever
//! wrote the change (worker, API, dead-letter path, external report, TTL), however the stream is
//! cut into batches and delivered again, and whatever answer is lost; bounded items; and a
//! dashboard refresh that costs the same however many jobs are kept.

use std::collections::BTreeMap;

use chrono::Duration;
use jobq::adapters::memory::MemoryTable;
use jobq::api::ApiSettings;
use jobq::domain::task::Registry;
use jobq::handlers::counter::CounterEngine;
use jobq::handlers::service::{JobService, summarise_batch};
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::memory_stack::MemoryStack;
use jobq::ports::ManualClock;
use jobq::ports::table::{Change, ChangeFeed};
use jobq::store::{ExternalUpdate, ListQuery, tally};
use jobq::{Job, JobEvent, JobStatus, NewJob, Ports};
use serde_json::json;
use tower::ServiceExt;

/// The stack, with its table at hand.
struct World {
    ports: Ports,
    table: MemoryTable,
    clock: ManualClock,
    service: JobService,
    worker: Worker,
}

fn world() -> World {
    let s = MemoryStack::new(Registry::with_builtins()).expect("memory stack");
    World { ports: s.ports, table: s.aws.table, clock: s.clock, service: s.service, worker: s.worker }
}

fn spec(job_type: &str, payload: serde_json::Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

/// Jobs of every kind of ending: completed in a batch, failed by the worker (and dead-lettered),
/// failed and completed by external reports, cancelled, and completed jobs gone with their TTL.
/// Returns the stream's changes, read before the stream's 24 hours dropped them.
async fn a_day_of_jobs(w: &World) -> Vec<Change> {
    let batch: Vec<NewJob> = (0..30).map(|_| spec("noop", json!(null))).collect();
    w.service.enqueue_batch(batch, "b1").await.expect("batch");
    for _ in 0..6 {
        w.service.enqueue(spec("fail", json!({"retryable": false}))).await.expect("enqueue");
    }
    let reported: Vec<Job> =
        futures::future::join_all((0..4).map(|_| w.service.enqueue(spec("noop", json!(null)))))
            .await
            .into_iter()
            .map(|r| r.expect("enqueue").0)
            .collect();
    // Reported from outside before any worker ran them: two failed, two cancelled.
    for (i, job) in reported.iter().enumerate() {
        match i % 2 {
            0 => {
                let fail = ExternalUpdate { event: Some(JobEvent::Fail), ..ExternalUpdate::default() };
                w.service.apply_external(&job.id, &fail, "ops").await.expect("report");
            }
            _ => drop(w.service.cancel(&job.id, "ops").await.expect("cancel")),
        }
    }
    drain(&w.ports.queues, &w.worker).await.expect("run");
    let mut changes = stream(&w.table).await;
    // Those completed a week ago: their TTL takes them.
    w.clock.advance(Duration::days(8));
    let batch: Vec<NewJob> = (0..10).map(|_| spec("noop", json!(null))).collect();
    w.service.enqueue_batch(batch, "b2").await.expect("batch");
    drain(&w.ports.queues, &w.worker).await.expect("run");
    assert!(w.table.expire() > 0, "some jobs expired");
    let read = changes.last().map(|c| c.seq.clone());
    changes.extend(w.table.changes().read(read.as_deref(), usize::MAX).await.expect("read"));
    changes
}

/// What the records say: jobs kept, by status, over all and by type.
async fn recount(w: &World) -> (BTreeMap<JobStatus, u64>, BTreeMap<(String, JobStatus), u64>) {
    let (mut all, mut by_type) = (BTreeMap::new(), BTreeMap::new());
    let mut cursor: Option<String> = None;
    loop {
        let page = w.ports.store.list(&ListQuery::default(), 500, cursor.as_deref()).await.expect("list");
        for job in &page.jobs {
            *all.entry(job.status).or_default() += 1;
            *by_type.entry((job.job_type.clone(), job.status)).or_default() += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (all, by_type),
        }
    }
}

/// Every change kept, in order.
async fn stream(table: &MemoryTable) -> Vec<Change> {
    table.changes().read(None, usize::MAX).await.expect("read")
}

/// Count `changes` as an event source mapping would, with a seeded schedule of trouble: batches
/// of random sizes, a batch delivered again (from its start, or cut shorter), and lost answers.
async fn count_with_trouble(engine: &CounterEngine, table: &MemoryTable, changes: &[Change], seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut at = 0;
    while at < changes.len() {
        let end = (at + rng.usize(1..=250)).min(changes.len());
        if rng.u8(..4) == 0 {
            table.lose_next_responses(1);
        }
        match engine.count(&changes[at..end]).await {
            Ok(_) => {
                // Sometimes the same batch comes again, whole or shorter.
                if rng.u8(..3) == 0 {
                    let again = rng.usize(at + 1..=end);
                    engine.count(&changes[at..again]).await.expect("count again");
                }
                at = end;
            }
            Err(err) => {
                at =
                    changes.iter().position(|c| c.seq == err.first_uncounted).expect("a change of the batch");
            }
        }
    }
}

/// Count `changes` as DynamoDB Streams and an event source mapping deliver them: each shard in
/// batches of its own, the shards' batches interleaved at random; a batch that fails delivered
/// again from where it stopped, and a batch counted but reported failed all the same (the
/// function timed out after its writes) delivered again later, after other shards' batches and
/// its own shard's next ones.
async fn count_by_shard_with_trouble(
    engine: &CounterEngine,
    table: &MemoryTable,
    changes: &[Change],
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut shards: BTreeMap<String, (Vec<Change>, usize)> = BTreeMap::new();
    for change in changes {
        shards.entry(change.shard.clone()).or_default().0.push(change.clone());
    }
    assert!(shards.len() > 1, "changes in several shards");
    let mut again: Vec<(String, usize, usize)> = Vec::new();
    loop {
        let open: Vec<String> =
            shards.iter().filter(|(_, (list, at))| *at < list.len()).map(|(s, _)| s.clone()).collect();
        if open.is_empty() && again.is_empty() {
            return;
        }
        if !again.is_empty() && (open.is_empty() || rng.bool()) {
            let (shard, from, to) = again.remove(rng.usize(..again.len()));
            // Counted before: whatever it answers, it adds nothing.
            let _ = engine.count(&shards[&shard].0[from..to]).await;
            continue;
        }
        let shard = open[rng.usize(..open.len())].clone();
        let (list, at) = shards.get_mut(&shard).expect("open shard");
        let end = (*at + rng.usize(1..=60)).min(list.len());
        if rng.u8(..4) == 0 {
            table.lose_next_responses(1);
        }
        match engine.count(&list[*at..end]).await {
            Ok(_) => {
                if rng.u8(..3) == 0 {
                    again.push((shard.clone(), *at, end));
                }
                *at = end;
            }
            Err(err) => *at = list.iter().position(|c| c.seq == err.first_uncounted).expect("of the batch"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn counters_equal_what_the_records_say_however_the_stream_is_delivered() {
    for (seed, by_shard) in (0..12).flat_map(|seed| [(seed, false), (seed, true)]) {
        let w = world();
        w.table.changes();
        let changes = a_day_of_jobs(&w).await;
        let engine = CounterEngine::new(w.ports.store.clone(), w.ports.clock.clone());
        match by_shard {
            true => count_by_shard_with_trouble(&engine, &w.table, &changes, seed).await,
            false => count_with_trouble(&engine, &w.table, &changes, seed).await,
        }

        let (all, by_type) = recount(&w).await;
        let counted = w.ports.store.counters(tally::ALL_COUNTER).await.expect("read").expect("counted");
        assert_eq!(counted.statuses, all, "seed {seed}");
        for job_type in ["noop", "fail"] {
            let counted =
                w.ports.store.counters(&tally::type_counter(job_type)).await.expect("read").expect("counted");
            let kept: BTreeMap<JobStatus, u64> =
                by_type.iter().filter(|((t, _), _)| t == job_type).map(|((_, s), n)| (*s, *n)).collect();
            assert_eq!(counted.statuses, kept, "seed {seed}: {job_type}");
        }
        // Totals since the start count every ending, whoever recorded it, expired jobs included.
        let noop = w.ports.store.stats("noop").await.expect("stats");
        assert_eq!((noop.completed, noop.failed, noop.runs), (40, 2, 40), "seed {seed}: {noop:?}");
        let fail = w.ports.store.stats("fail").await.expect("stats");
        assert_eq!((fail.failed, fail.runs, fail.retried), (6, 6, 0), "seed {seed}: {fail:?}");

        // The batch's summary from its counters is the one its jobs make; a batch whose jobs
        // all expired is gone.
        let query = ListQuery { batch_id: Some("b2".into()), ..ListQuery::default() };
        let jobs = w.ports.store.list(&query, 500, None).await.expect("list").jobs;
        let expected = summarise_batch("b2", &jobs);
        let summary = w.service.batch("b2").await.expect("summary");
        assert!(w.service.batch("b1").await.is_err(), "seed {seed}: b1 expired");
        assert_eq!(
            (summary.total, &summary.counts, summary.progress, summary.done),
            (expected.total, &expected.counts, expected.progress, expected.done),
            "seed {seed}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn counter_items_stay_the_same_size_however_many_workers_wrote() {
    let w = world();
    w.table.changes();
    let registry = || Registry::with_builtins();
    for _ in 0..25 {
        // A fresh worker environment each time (a cold start).
        let worker = w.ports.worker(registry(), WorkerSettings::default());
        w.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
        drain(&w.ports.queues, &worker).await.expect("run");
    }
    let engine = CounterEngine::new(w.ports.store.clone(), w.ports.clock.clone());
    jobq::handlers::counter::drain(&engine, &w.table.changes(), None).await.expect("count");
    let buckets = tally::bucket_keys(&tally::type_counter("noop")).expect("kept in buckets");
    let items = jobq::ports::Table::batch_get(&w.table, &buckets).await.expect("get").items;
    assert!(!items.is_empty());
    for item in items {
        let names: Vec<&String> = item.keys().collect();
        assert!(names.len() <= 12, "a fixed set of attributes, none per writer: {names:?}");
    }
    assert_eq!(w.ports.store.stats("noop").await.expect("stats").completed, 25);
}

/// The whole stream read at once (the local host's and the tests' reader, several shards in one
/// read) is counted shard by shard: a transaction per shard's chunk, not one per run of changes
/// of one shard between two of another's.
#[tokio::test(start_paused = true)]
async fn a_read_of_every_shard_costs_a_transaction_per_shard() {
    let w = world();
    w.table.changes();
    for _ in 0..40 {
        w.service.enqueue(spec("noop", json!(null))).await.expect("enqueue");
    }
    drain(&w.ports.queues, &w.worker).await.expect("run");
    let changes = stream(&w.table).await;
    let shards: std::collections::BTreeSet<&str> = changes.iter().map(|c| c.shard.as_str()).collect();
    let runs = changes.windows(2).filter(|p| p[0].shard != p[1].shard).count() + 1;
    assert!(runs > 2 * shards.len(), "the shards interleave: {runs} runs in {} shards", shards.len());
    let engine = CounterEngine::new(w.ports.store.clone(), w.ports.clock.clone());
    let written = engine.count(&changes).await.expect("count");
    assert_eq!(written, shards.len(), "one chunk per shard");
    let (all, _) = recount(&w).await;
    let counted = w.ports.store.counters(tally::ALL_COUNTER).await.expect("read").expect("counted");
    assert_eq!(counted.statuses, all);
}

/// The table requests of one dashboard refresh: the calls the page makes every few seconds.
async fn refresh_cost(w: &World) -> u64 {
    let api = jobq::api::router(w.service.clone(), ApiSettings::default());
    let before: u64 = w.table.requests().values().sum();
    for path in ["/stats", "/jobs?limit=20", "/jobs?status=failed&limit=10", "/batches/b1"] {
        let request = axum::http::Request::get(path).body(axum::body::Body::empty()).expect("request");
        let response = api.clone().oneshot(request).await.expect("router never fails");
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }
    w.table.requests().values().sum::<u64>() - before
}

#[tokio::test(start_paused = true)]
async fn a_dashboard_refresh_costs_the_same_with_100_or_3000_jobs_kept() {
    let mut costs = Vec::new();
    for kept in [100, 3_000] {
        let w = world();
        w.table.changes();
        let batch: Vec<NewJob> = (0..kept).map(|_| spec("noop", json!(null))).collect();
        for chunk in batch.chunks(100) {
            w.service.enqueue_batch(chunk.to_vec(), "b1").await.expect("batch");
        }
        drain(&w.ports.queues, &w.worker).await.expect("run");
        let engine = CounterEngine::new(w.ports.store.clone(), w.ports.clock.clone());
        jobq::handlers::counter::drain(&engine, &w.table.changes(), None).await.expect("count");
        assert_eq!(w.service.batch("b1").await.expect("summary").total, kept);
        costs.push(refresh_cost(&w).await);
    }
    assert_eq!(costs[0], costs[1], "requests of one refresh with 100 and 3,000 jobs kept");
}
