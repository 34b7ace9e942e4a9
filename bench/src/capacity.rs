//! Emulator capacity: the requests a `noop` job costs, issued straight to the emulator with no
//! API, worker engine or poller in between, as fast as it carries them; the end-to-end
//! throughput is reported as a fraction of it.
//!
//! The mix is the counted one (`requests_per_job`: enqueueing, then the run with the event
//! source's receive and delete), issued with the same store and queue calls, so items and
//! expressions are the real ones: producers create records and send envelopes (BatchWriteItem +
//! SendMessageBatch per 100 jobs, or PutItem + SendMessage per job) with as many in flight as the
//! end-to-end clients; consumers, as many as the local stack's pollers on the tier, receive up to
//! 10, read the pause flags (cached 5 s, as the worker does), claim and finish each message's
//! job with up to 10 at once, and delete the batch. The line shows the
//! counted mix next to the issued one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use jobq::queue::TierQueues;
use jobq::store::{DynamoJobStore, RunOutcome, StoreError};
use jobq::{Envelope, Job, NewJob, PriorityTier};
use jobq_integration_tests::TestEnv;
use serde_json::json;

use crate::e2e::{self, Mode};
use crate::figure::{BenchError, Result, emit, round};
use crate::requests::{Costs, PerJob, combine, per_job_map, rounded};

/// Consumers tried: as many as the local stack's pollers on the `normal` tier
/// (`JOBQ_LOCAL_CONCURRENCY` default 4,2,1), and twice that. The emulator is one Python process,
/// so more requests in flight can carry less; its capacity is the best of the runs.
pub const CONSUMERS: [usize; 2] = [2, 4];
/// The target: end to end carries at least this fraction of what the emulator can.
pub const TARGET_FRACTION: f64 = 0.7;

pub async fn run(costs: &Costs, e2e: &[Result<e2e::Outcome>]) {
    for mode in [Mode::Batch, Mode::Single] {
        let counted = combine(
            match mode {
                Mode::Batch => &costs.enqueue_batch,
                Mode::Single => &costs.enqueue_single,
            },
            &costs.noop_run,
        );
        let mut runs = Vec::new();
        let mut failure = None;
        for consumers in CONSUMERS {
            match measure(mode, e2e::JOBS, consumers).await {
                Ok(run) => runs.push((consumers, run)),
                Err(err) => failure = Some(err),
            }
        }
        let tried: serde_json::Map<String, serde_json::Value> = runs
            .iter()
            .map(|(c, (jobs_per_second, ..))| (c.to_string(), json!(round(*jobs_per_second))))
            .collect();
        let best = runs.into_iter().max_by(|a, b| a.1.0.total_cmp(&b.1.0));
        let line = match (best, failure) {
            (Some((consumers, (jobs_per_second, issued, duplicates))), None) => {
                let e2e = e2e.iter().flatten().find(|o| o.mode == mode).map(|o| o.jobs_per_second);
                let fraction = e2e.map(|e| e / jobs_per_second);
                json!({
                    "figure": "emulator_capacity",
                    "mode": mode.as_str(),
                    "jobs": e2e::JOBS,
                    "producers": mode.in_flight(),
                    "consumers": consumers,
                    "jobs_per_second_by_consumers": tried,
                    "value": round(jobs_per_second),
                    "unit": "jobs/s equivalent (the requests of a noop job, issued directly; best run)",
                    "counted_mix_per_job": rounded(&counted),
                    "issued_mix_per_job": rounded(&issued),
                    "duplicate_deliveries_dropped": duplicates,
                    "e2e_jobs_per_second": e2e.map(round),
                    "e2e_fraction": fraction.map(round),
                    "target": format!(">= {TARGET_FRACTION} of capacity end to end"),
                    "met": fraction.is_some_and(|f| f >= TARGET_FRACTION),
                })
            }
            (_, failure) => {
                let err = failure.unwrap_or_else(|| BenchError::Setup("no consumer count to try".into()));
                let mut line = crate::figure::failed("emulator_capacity", &err);
                line["mode"] = json!(mode.as_str());
                line
            }
        };
        emit(&line);
    }
}

struct Driver {
    store: DynamoJobStore,
    queues: TierQueues,
    tier: PriorityTier,
    jobs: usize,
    done: AtomicUsize,
    duplicates: AtomicUsize,
    finished_at: Mutex<Option<Instant>>,
    empty_receives: AtomicUsize,
    pause_read_at: Mutex<Option<Instant>>,
    started: Instant,
    timeout: Duration,
}

/// Issue the mix for `jobs` jobs; returns jobs per second, the requests issued per job, and how
/// many duplicate deliveries were dropped.
async fn measure(mode: Mode, jobs: usize, consumers: usize) -> Result<(f64, PerJob, usize)> {
    let env = TestEnv::new().await;
    let (clients, counter) = env.counted_clients();
    let now = Utc::now();
    let all: Vec<Job> =
        (0..jobs).map(|_| Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now)).collect();
    let units: Vec<&[Job]> = match mode {
        Mode::Batch => all.chunks(e2e::BATCH).collect(),
        Mode::Single => all.chunks(1).collect(),
    };
    let driver = Driver {
        store: DynamoJobStore::new(clients.dynamodb.clone(), &env.config.table, env.config.retention),
        queues: TierQueues::new(clients.sqs.clone(), env.config.queues.clone()),
        tier: PriorityTier::Normal,
        jobs,
        done: AtomicUsize::new(0),
        duplicates: AtomicUsize::new(0),
        finished_at: Mutex::new(None),
        empty_receives: AtomicUsize::new(0),
        pause_read_at: Mutex::new(None),
        started: Instant::now(),
        timeout: Duration::from_secs(600),
    };
    let next = AtomicUsize::new(0);
    let driver = &driver;
    let producers = futures::future::try_join_all((0..mode.in_flight()).map(|_| async {
        while let Some(unit) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
            driver.produce(unit).await?;
        }
        Ok::<(), BenchError>(())
    }));
    let consumers = futures::future::try_join_all((0..consumers).map(|_| driver.consume()));
    futures::try_join!(producers, consumers)?;
    let finished = driver.finished_at.lock().ok().and_then(|at| *at).unwrap_or_else(Instant::now);
    let seconds = (finished - driver.started).as_secs_f64();

    let mut counts = counter.snapshot();
    if let Some(receives) = counts.get_mut("SQS:ReceiveMessage") {
        *receives -= driver.empty_receives.load(Ordering::Relaxed) as u64;
    }
    let counts: BTreeMap<String, u64> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    let duplicates = driver.duplicates.load(Ordering::Relaxed);
    Ok((jobs as f64 / seconds, per_job_map(&counts, jobs), duplicates))
}

impl Driver {
    /// Records and envelopes of one unit: a batch of 100, or one job.
    async fn produce(&self, unit: &[Job]) -> Result<()> {
        let envelopes: Vec<(Envelope, i32)> =
            unit.iter().map(|j| (Envelope::new(&j.id, &j.job_type, j.tier, j.generation), 0)).collect();
        if let [job] = unit {
            self.store.create(job).await.map_err(|e| BenchError::unexpected("PutItem", e))?;
            self.queues
                .send(&envelopes[0].0, 0)
                .await
                .map_err(|e| BenchError::unexpected("SendMessage", e))?;
        } else {
            self.store.create_many(unit).await.map_err(|e| BenchError::unexpected("BatchWriteItem", e))?;
            let failures = self
                .queues
                .send_batch(&envelopes)
                .await
                .map_err(|e| BenchError::unexpected("SendMessageBatch", e))?;
            if !failures.is_empty() {
                return Err(BenchError::unexpected(
                    "SendMessageBatch",
                    format!("{} entries failed", failures.len()),
                ));
            }
        }
        Ok(())
    }

    /// What the event source and the worker ask of the emulator, until every job is done.
    async fn consume(&self) -> Result<()> {
        while self.done.load(Ordering::Relaxed) < self.jobs {
            if self.started.elapsed() > self.timeout {
                let done = self.done.load(Ordering::Relaxed);
                return Err(BenchError::Timeout {
                    what: format!("the capacity run ({done} of {} jobs done)", self.jobs),
                    seconds: self.timeout.as_secs(),
                });
            }
            let messages = self
                .queues
                .receive(self.tier, 10, 1, None)
                .await
                .map_err(|e| BenchError::unexpected("ReceiveMessage", e))?;
            if messages.is_empty() {
                self.empty_receives.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.read_pause_flags_when_due().await?;
            let runs: Vec<Result<Option<(u64, u64)>>> = futures::stream::iter(&messages)
                .map(|message| self.run_one(&message.body))
                .buffer_unordered(10)
                .collect()
                .await;
            // The worker writes no statistics: the counter function counts the change stream.
            let finished = runs.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().count();
            let receipts: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
            self.queues
                .delete_batch(self.tier, &receipts)
                .await
                .map_err(|e| BenchError::unexpected("DeleteMessageBatch", e))?;
            if self.done.fetch_add(finished, Ordering::Relaxed) + finished >= self.jobs
                && let Ok(mut at) = self.finished_at.lock()
            {
                *at = Some(Instant::now());
            }
        }
        Ok(())
    }

    /// The pause flags, read at most every 5 s (the worker's cache).
    async fn read_pause_flags_when_due(&self) -> Result<()> {
        let due = self
            .pause_read_at
            .lock()
            .map(|mut at| {
                let due = at.is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
                if due {
                    *at = Some(Instant::now());
                }
                due
            })
            .unwrap_or(true);
        if due {
            self.store.pause_flags().await.map_err(|e| BenchError::unexpected("GetItem", e))?;
        }
        Ok(())
    }

    /// Claim and finish one job, as the worker does for a `noop`: its processing and wait ms, or
    /// none for a duplicate delivery.
    async fn run_one(&self, body: &str) -> Result<Option<(u64, u64)>> {
        let envelope = Envelope::decode(body).map_err(|e| BenchError::unexpected("envelope", e))?;
        let now = Utc::now();
        let claimed = self
            .store
            .claim(&envelope.id, envelope.generation, now, now + chrono::Duration::seconds(5400))
            .await;
        let job = match claimed {
            // SQS delivers at least once: a second copy is dropped, as the worker does.
            Err(StoreError::Conflict { .. } | StoreError::InvalidTransition { .. }) => {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            other => other,
        }
        .map_err(|e| BenchError::unexpected("UpdateItem (claim)", e))?;
        let end = Utc::now();
        self.store
            .finish(&job, RunOutcome::Completed { result: None }, None, end)
            .await
            .map_err(|e| BenchError::unexpected("UpdateItem (finish)", e))?;
        let wait = job.started_at.map(|s| (s - job.created_at).num_milliseconds().max(0) as u64);
        Ok(Some(((end - now).num_milliseconds().max(0) as u64, wait.unwrap_or(0))))
    }
}
