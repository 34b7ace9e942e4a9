//! A seeded run replays: the same seed and start time give the same job ids, write tokens,
//! statuses, attempts and retry times (backoff jitter included); another seed gives other ids.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jobq::domain::task::Registry;
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::{ManualClock, SeededIds};
use jobq::store::{WRITE_TOKEN, keys};
use jobq::{JobStatus, NewJob, Ports};
use serde_json::json;

/// What a run leaves behind, per job: id, status, attempts, due time and last write token.
type Snapshot = Vec<(String, JobStatus, u32, Option<DateTime<Utc>>, Option<String>)>;

struct Stack {
    clock: ManualClock,
    ports: Ports,
    service: JobService,
    worker: Worker,
}

fn stack(seed: u64) -> Stack {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
    let (ports, aws) = Ports::memory(Arc::new(clock.clone())).expect("memory ports");
    let ports = ports.with_ids(Arc::new(SeededIds::new(seed)));
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types);
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { clock, ports, service, worker }
}

impl Stack {
    /// The worker takes every visible message.
    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    async fn snapshot(&self, ids: &[String]) -> Snapshot {
        let mut snapshot = Vec::new();
        for id in ids {
            let job = self.service.get(id).await.expect("get").expect("exists");
            let item = self.ports.store.table_port().get(&keys::job_pk(id), true).await.expect("item");
            let token =
                item.and_then(|item| item.get(WRITE_TOKEN).and_then(|t| t.as_str().map(str::to_owned)));
            snapshot.push((job.id, job.status, job.attempts, job.run_at, token));
        }
        snapshot
    }
}

fn spec(job_type: &str, payload: serde_json::Value) -> NewJob {
    NewJob { job_type: job_type.into(), payload, ..NewJob::default() }
}

/// Enqueue a few jobs (one fails once, so its retry draws jitter), drain, let the retry come due,
/// drain again. The snapshots after each drain.
async fn run(seed: u64) -> (Snapshot, Snapshot) {
    let s = stack(seed);
    let mut ids = Vec::new();
    for job in [
        spec("echo", json!({"n": 1})),
        spec("fail", json!({"times": 1})),
        NewJob { idempotency_key: Some("order-42".into()), ..spec("noop", json!(null)) },
    ] {
        ids.push(s.service.enqueue(job).await.expect("enqueue").0.id);
    }
    let batch_id = s.service.new_batch_id();
    let batch = vec![spec("noop", json!(null)), spec("fail", json!({"times": 1}))];
    let batch = s.service.enqueue_batch(batch, &batch_id).await.expect("batch");
    ids.extend(batch.into_iter().map(|job| job.id));

    assert_eq!(s.drain().await, 5);
    let first = s.snapshot(&ids).await;
    s.clock.advance(Duration::minutes(1));
    assert_eq!(s.drain().await, 2, "both retries come due on the clock");
    (first, s.snapshot(&ids).await)
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_replays_ids_tokens_statuses_and_retry_times() {
    let (first, last) = run(11).await;
    assert_eq!(run(11).await, (first.clone(), last.clone()));

    let statuses: Vec<(JobStatus, u32)> = first.iter().map(|j| (j.1, j.2)).collect();
    use JobStatus::{Completed, Retrying};
    assert_eq!(statuses, [(Completed, 1), (Retrying, 1), (Completed, 1), (Completed, 1), (Retrying, 1)]);
    assert!(last.iter().all(|j| j.1 == Completed), "{last:?}");
    assert_eq!(last[1].2, 2, "the failing job ran twice");
    assert!(first[1].3.is_some() && first[4].3.is_some(), "retries are due later");
    assert!(first.iter().chain(&last).all(|j| j.4.is_some()), "every write stores a token");
    assert_eq!(first[2].0, jobq::domain::model::job_id_for_key("order-42"), "a keyed id stays its key's");
}

#[tokio::test(start_paused = true)]
async fn another_seed_draws_other_ids_tokens_and_jitter() {
    let (first, _) = run(11).await;
    let (other, _) = run(12).await;
    for (a, b) in first.iter().zip(&other) {
        assert_eq!((a.1, a.2), (b.1, b.2), "the same run, job for job");
        assert_ne!(a.4, b.4, "write tokens differ");
    }
    let fresh = [0, 1, 3, 4];
    assert!(fresh.iter().all(|&i| first[i].0 != other[i].0), "fresh ids differ");
    assert_eq!(first[2].0, other[2].0, "the keyed id does not depend on the seed");
    assert_ne!(first[1].3, other[1].3, "the retry's jitter differs");
}
