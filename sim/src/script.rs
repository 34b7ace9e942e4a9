//! Named scenarios: actions at fixed moments of a run, on top of (or instead of) the random ones,
//! and the request counters read at given moments (for budgets over a window of the run).

use std::collections::BTreeMap;
use std::time::Duration;

use jobq::store::{ListQuery, PauseScope};
use jobq::{JobStatus, NewJob};

use crate::world::{Accepted, Expect, World};

/// One scripted action.
#[derive(Debug, Clone)]
pub enum Action {
    /// DynamoDB throttles every request for this long.
    ThrottleTable(Duration),
    /// S3 answers no request for this long (`503 Slow Down`, a transient error).
    ThrottleBucket(Duration),
    /// Everything paused for this long, then resumed.
    PauseAll(Duration),
    /// One partition hot (throttled while the rest of the table is served) for this long.
    Hot(jobq::adapters::memory::HotPartition, Duration),
    /// These jobs enqueued in one batch (at most 25), each with what it should come to.
    EnqueueBatch(Vec<(NewJob, Expect)>),
    /// Note the request counters (DynamoDB and SQS, by operation) under this name.
    Snapshot(&'static str),
    /// The operator cancels every running job and retries it at once (its run is mid-step).
    RestartRunning,
    /// The operator cancels every job still scheduled.
    CancelScheduled,
    /// This many `noop` jobs that completed three days ago, written straight to the table: the
    /// history a long-lived deployment retains (no job of this run's).
    Retain(usize),
    /// These jobs enqueued one by one, then in one batch, each job and the batch read through the
    /// API at once after its creation answered, as `jobq enqueue --wait` does.
    EnqueueAndRead(Vec<(NewJob, Expect)>),
}

/// An action and when, from the run's start.
#[derive(Debug, Clone)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

/// Requests by operation so far: DynamoDB's by name, SQS's as `SQS:<name>`.
pub fn requests(world: &World) -> BTreeMap<String, u64> {
    let mut requests: BTreeMap<String, u64> =
        world.table.requests().into_iter().map(|(op, n)| (op.to_owned(), n)).collect();
    requests.extend(world.queues.requests().snapshot());
    requests
}

/// Play `steps` (in the order given; each waits for its moment).
pub async fn play(world: World, steps: Vec<Step>) {
    let start = tokio::time::Instant::now();
    for step in steps {
        tokio::time::sleep_until(start + step.at).await;
        let w = world.clone();
        match step.action {
            Action::ThrottleTable(length) => {
                tokio::spawn(async move {
                    w.table.set_throttled(true);
                    tokio::time::sleep(length).await;
                    w.table.set_throttled(false);
                });
            }
            Action::ThrottleBucket(length) => {
                tokio::spawn(async move {
                    w.blobs.set_unavailable(true);
                    tokio::time::sleep(length).await;
                    w.blobs.set_unavailable(false);
                });
            }
            Action::PauseAll(length) => {
                tokio::spawn(async move {
                    while w.service.set_paused(&PauseScope::All, true, "ops").await.is_err() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    let paused = w.now();
                    tokio::time::sleep(length).await;
                    // From before the resume is asked: a job may start once it answers.
                    w.log().paused_all.push((paused, w.now()));
                    while w.service.set_paused(&PauseScope::All, false, "ops").await.is_err() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                });
            }
            Action::Hot(partition, length) => {
                tokio::spawn(async move { crate::hot::for_a_while(&w, partition, length).await });
            }
            Action::EnqueueBatch(jobs) => enqueue_batch(&world, jobs).await,
            Action::Snapshot(name) => {
                let now = requests(&world);
                world.log().snapshots.insert(name, now);
            }
            Action::RestartRunning => {
                for id in every(&world, JobStatus::Processing).await {
                    crate::actors::restart(&world, &id).await;
                }
            }
            Action::Retain(n) => retain(&world, n).await,
            Action::EnqueueAndRead(jobs) => enqueue_and_read(&world, jobs).await,
            Action::CancelScheduled => {
                for id in every(&world, JobStatus::Scheduled).await {
                    world.log().touched.insert(id.clone());
                    let _ = world.service.cancel(&id, "ops").await;
                }
            }
        }
    }
}

async fn enqueue_batch(world: &World, jobs: Vec<(NewJob, Expect)>) {
    let batch_id = world.service.new_batch_id();
    let specs = jobs.iter().map(|(s, _)| s.clone()).collect();
    let accepted = world.service.enqueue_batch(specs, &batch_id).await;
    let mut log = world.log();
    match accepted {
        Ok(accepted) => {
            for (job, (_, expect)) in accepted.into_iter().zip(&jobs) {
                log.accepted.insert(job.id, Accepted { expect: *expect, tier: job.tier });
            }
        }
        Err(_) => log.refused += jobs.len() as u64,
    }
}

/// Enqueue `jobs` one by one and then all in one batch, reading each job (and the batch) back at
/// once; a read that does not find what was just accepted is noted as unread.
async fn enqueue_and_read(world: &World, jobs: Vec<(NewJob, Expect)>) {
    let mut ids = Vec::new();
    for (spec, expect) in &jobs {
        if let Ok((job, _)) = world.service.enqueue(spec.clone()).await {
            world.log().accepted.insert(job.id.clone(), Accepted { expect: *expect, tier: job.tier });
            ids.push(job.id);
        }
    }
    let batch_id = world.service.new_batch_id();
    let specs = jobs.iter().map(|(s, _)| s.clone()).collect();
    if let Ok(accepted) = world.service.enqueue_batch(specs, &batch_id).await {
        {
            let mut log = world.log();
            for (job, (_, expect)) in accepted.iter().zip(&jobs) {
                log.accepted.insert(job.id.clone(), Accepted { expect: *expect, tier: job.tier });
            }
        }
        ids.extend(accepted.into_iter().map(|j| j.id));
        let counted = world.service.batch(&batch_id).await.map_or(0, |b| b.total);
        note_read(world, &format!("batch {batch_id}"), counted == jobs.len());
    }
    for id in ids {
        let found = matches!(world.service.get(&id).await, Ok(Some(_)));
        note_read(world, &id, found);
    }
}

fn note_read(world: &World, what: &str, found: bool) {
    let mut log = world.log();
    log.read_at_once += 1;
    if !found {
        log.unread_at_once.push(what.to_owned());
    }
}

/// The ids of every job in `status` now (none when the table cannot be read).
async fn every(world: &World, status: JobStatus) -> Vec<String> {
    let query = ListQuery { status: Some(status), ..ListQuery::default() };
    let jobs = crate::invariants::listed(world, &query).await.unwrap_or_default();
    jobs.into_iter().map(|j| j.id).collect()
}

/// `requests` less `made`, operation by operation.
pub fn less(requests: &BTreeMap<String, u64>, made: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut left = requests.clone();
    for (op, n) in made {
        if let Some(count) = left.get_mut(op) {
            *count = count.saturating_sub(*n);
        }
    }
    left
}

/// Write `n` completed jobs, a thousand at a time (retried while AWS refuses). Its requests are
/// the harness's, noted as such.
async fn retain(world: &World, n: usize) {
    let before = requests(world);
    retain_jobs(world, n).await;
    let made = less(&requests(world), &before);
    let mut log = world.log();
    for (op, count) in made {
        *log.harness_requests.entry(op).or_default() += count;
    }
}

async fn retain_jobs(world: &World, n: usize) {
    let ended = world.now() - chrono::Duration::days(3);
    let spec = NewJob { job_type: "noop".into(), ..NewJob::default() };
    for start in (0..n).step_by(1_000) {
        let jobs: Vec<jobq::Job> = (start..n.min(start + 1_000))
            .map(|_| {
                let mut job = jobq::Job::new(spec.clone(), ended);
                job.status = JobStatus::Completed;
                job.attempts = 1;
                job.completed_at = Some(ended);
                job
            })
            .collect();
        while world.ports.store.create_many(&jobs).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
