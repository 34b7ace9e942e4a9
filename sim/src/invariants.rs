//! What must hold after every run, each a function of the table, the queues and the log:
//!
//! - [`accepted_kept`]: every job the API accepted has a record.
//! - [`way_forward`] (at the end of the turbulent phase): every job is terminal, or waits with a
//!   way forward: a `processing` job is watched (at its lease end, or under the watch it was
//!   claimed with), or before its first heartbeat has its message in a queue; a `scheduled` one is watched at its due time, a `retrying` one at
//!   its backoff end (or parked), a parked one under the pause watch, a `queued` one as sent, or
//!   not yet reached by the lost-message walk.
//! - [`settled`] (after the calm phase): every job is terminal; nothing is stranded.
//! - [`outcomes`]: a job no crash and no operator touched ends as its type and payload say:
//!   so no job failed because AWS was unavailable for less than 10 minutes. A touched or crashed
//!   job that failed failed for a reason of its own, or because its runs died: only when the
//!   crashes that hit it, with its own failures, reach its attempts.
//! - [`attempts`] (stricter): such a job also took
//!   exactly the attempts its payload says.
//! - [`crash_costs`]: a crash costs attempts only to the jobs the killed invocation held, one
//!   each (checked even when [`attempts`] is not).
//! - [`letters`]: every dead letter has such a reason too.
//! - [`counters`]: the counters kept from the change stream equal a recount of the records.
//! - [`budget`]: job writes and message sends per accepted job stay within a stated budget.
//! - [`still_while_paused`]: no job starts while everything is paused, past the few seconds the
//!   workers' cached pause flags may lag.
//! - `ownership` (checked as the change stream is read, by [`crate::ownership::Witness`]): a run
//!   writes to its job only while its claim is the job's current one.

use std::collections::BTreeMap;

use jobq::store::{ListQuery, keys, tally};
use jobq::{Job, JobStatus};

use crate::world::{Log, World};

/// A broken invariant: which, and what broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

fn violation(invariant: &'static str, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// A client reading what the API just accepted finds it (`GET /jobs/{id}` and
/// `GET /batches/{id}` answer 200 with it), though default reads lag in the simulation.
pub fn read_your_writes(log: &Log) -> Vec<Violation> {
    let missing =
        |what: &String| violation("read_your_writes", format!("{what} not found when read at once"));
    log.unread_at_once.iter().map(missing).collect()
}

/// Table writes of job records per accepted job, at most (measured about 4 to 6 with faults:
/// enqueue, claim, progress, finish, plus resends of writes whose answer was lost), besides the
/// heartbeats a run's length needs ([`heartbeats`]).
pub const WRITES_PER_JOB: f64 = 10.0;

/// The lease renewals the runs of `jobs` need at the default lease (one a third of a lease, 40 s):
/// a run of fifteen minutes writes 22 heartbeats however well it goes, so the write budget grows
/// with the job mix's run time, not just its count.
pub fn heartbeats(jobs: &[Job]) -> u64 {
    let every = 40.0;
    let run = |job: &Job| job.payload.get("seconds").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    jobs.iter().filter(|j| j.job_type == "sleep").map(|j| (run(j) / every).floor() as u64).sum()
}
/// Messages sent per accepted job, at most (one per attempt, plus retries and resends).
pub const SENDS_PER_JOB: f64 = 3.0;

/// Every job in the table, read through the listing (as the API lists them).
pub async fn all_jobs(world: &World) -> Result<Vec<Job>, jobq::store::StoreError> {
    listed(world, &ListQuery::default()).await
}

/// Every job `query` lists, page by page.
pub async fn listed(world: &World, query: &ListQuery) -> Result<Vec<Job>, jobq::store::StoreError> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = world.ports.store.list(query, 500, cursor.as_deref()).await?;
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(jobs),
        }
    }
}

pub fn accepted_kept(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    let kept: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    log.accepted
        .keys()
        .filter(|id| !kept.contains(id.as_str()))
        .map(|id| violation("accepted_kept", format!("job {id} was accepted and has no record")))
        .collect()
}

/// Which `by-due` watch a job item is under, if any (the partition's name before its shard).
async fn watch_of(world: &World, id: &str) -> Option<String> {
    let item = world.ports.store.table_port().get(&keys::job_pk(id), true).await.ok()??;
    let pk = item.get(keys::BY_DUE.pk)?.as_str()?.to_owned();
    Some(pk.split('#').next().unwrap_or_default().to_owned())
}

pub async fn way_forward(world: &World, jobs: &[Job]) -> Vec<Violation> {
    let mut broken = Vec::new();
    let walk = world.ports.store.created_walk().await.ok();
    for job in jobs.iter().filter(|j| !j.status.is_terminal()) {
        let watch = watch_of(world, &job.id).await;
        let ok = match (job.status, watch.as_deref()) {
            // Watched at its lease end, or under the watch it was claimed with (whose sweep
            // watches it at its lease end).
            (JobStatus::Processing, Some(_)) => job.lease_until.is_some(),
            // Not watched before its first heartbeat: its message comes back if the run died.
            (JobStatus::Processing, None) => has_message(world, job),
            (JobStatus::Scheduled, Some("release")) => true,
            (JobStatus::Retrying, Some("sent" | "release" | "paused")) => true,
            (JobStatus::Queued, Some("paused" | "sent")) => true,
            // Not yet looked at by the lost-message walk over `by-created`.
            (JobStatus::Queued, None) => {
                let sort_key = keys::sort_key(&jobq::domain::model::format_time(job.created_at), &job.id);
                let shard = keys::shard_of(&job.id) as usize;
                !job.parked && walk.as_ref().is_some_and(|w| !w.has_passed(shard, &sort_key))
            }
            _ => false,
        };
        if !ok {
            let detail =
                format!("job {} is {} under watch {watch:?} (parked {})", job.id, job.status, job.parked);
            broken.push(violation("way_forward", detail));
        }
    }
    broken
}

/// A tier queue holds a message for `job` (visible, in flight or delayed).
fn has_message(world: &World, job: &Job) -> bool {
    jobq::PriorityTier::ALL.iter().any(|tier| {
        let bodies = world.queues.bodies(world.ports.queues.url(*tier));
        bodies.iter().any(|b| jobq::domain::envelope::Envelope::decode(b).is_ok_and(|e| e.id == job.id))
    })
}

/// A pipeline's next step: its id derives from its parent's, as the worker makes it.
fn next_step_id(parent: &Job) -> String {
    jobq::domain::model::job_id_for_key(&format!("{}:next", parent.id))
}

/// Every job that completed with a next step has it: made once (its id is its parent's), and not
/// lost however the enqueue that made it failed (a send that failed takes the step back, and the
/// parent's delivery comes back to make it again).
pub fn next_steps(jobs: &[Job]) -> Vec<Violation> {
    let ids: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    jobs.iter()
        .filter(|j| j.status == JobStatus::Completed && (!j.next.is_empty() || j.spilled.next.is_some()))
        .filter(|parent| !ids.contains(next_step_id(parent).as_str()))
        .map(|parent| {
            violation("next_steps", format!("job {} completed, and its next step is missing", parent.id))
        })
        .collect()
}

/// The pipelines' next steps made.
pub fn steps_made(jobs: &[Job]) -> usize {
    jobs.iter().filter(|j| j.idempotency_key.as_deref().is_some_and(|k| k.ends_with(":next"))).count()
}

pub fn settled(jobs: &[Job]) -> Vec<Violation> {
    jobs.iter()
        .filter(|j| !j.status.is_terminal())
        .map(|j| {
            violation("settled", format!("job {} is still {} (attempts {})", j.id, j.status, j.attempts))
        })
        .collect()
}

/// The reason a failure was recorded with: `details.reason`, up to any `:` detail.
pub fn reason_of(job: &Job) -> String {
    let reason = job.error.as_ref().and_then(|e| e.details.as_ref()).and_then(|d| d.get("reason"));
    let reason = reason.and_then(|r| r.as_str()).unwrap_or("none");
    reason.split(':').next().unwrap_or_default().to_owned()
}

/// A `sleep` job asked to sleep longer than its timeout: every attempt times out.
pub fn overruns(job: &Job) -> bool {
    let seconds = job.payload.get("seconds").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    job.job_type == "sleep" && seconds > f64::from(job.timeout_seconds)
}

/// Reasons a job may fail for without the simulation's faults being to blame.
fn own_reason(job: Option<&Job>, reason: &str, crashed: bool) -> bool {
    let job_type = job.map_or("?", |j| j.job_type.as_str());
    let overran = job.is_some_and(overruns) && reason == "attempts_exhausted";
    let handler = overran
        || job_type == "fail" && matches!(reason, "attempts_exhausted" | "fatal_error" | "handler_panicked");
    let crash =
        crashed && matches!(reason, "worker_crashed_repeatedly" | "redriven" | "redriven_after_max_receives");
    handler || crash
}

/// Whether the crashes that hit `job` can account for a failure because its runs kept dying: a
/// crash costs one attempt, so the job's own failures plus its crashes must reach its attempts
/// (any crash will do for a job the operator touched: a retry starts its attempts again).
fn crashes_enough(log: &Log, job: &Job) -> bool {
    let crashes = log.crashed.get(&job.id).copied().unwrap_or(0);
    let Some(accepted) = log.accepted.get(&job.id).filter(|_| !log.touched.contains(&job.id)) else {
        return crashes > 0;
    };
    let own_failures = match accepted.expect.fails {
        Some(_) => job.max_attempts,
        None => accepted.expect.attempts - 1,
    };
    crashes > 0 && crashes + own_failures >= job.max_attempts
}

pub fn outcomes(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    let mut broken = Vec::new();
    for job in jobs {
        let crashed = crashes_enough(log, job);
        if job.status == JobStatus::Failed && !own_reason(Some(job), &reason_of(job), crashed) {
            let detail = format!(
                "job {} ({}) failed for {} (crashed {crashed})",
                job.id,
                job.job_type,
                reason_of(job)
            );
            broken.push(violation("outcomes", detail));
            continue;
        }
        let Some(expect) = untouched(log, job) else { continue };
        let got = match job.status {
            JobStatus::Completed => None,
            JobStatus::Failed => Some(reason_of(job)),
            other => Some(other.to_string()),
        };
        if got.as_deref() != expect.fails {
            let detail = format!(
                "job {} ({} {}) ended {} ({got:?}) on attempt {}; expected {:?}",
                job.id, job.job_type, job.payload, job.status, job.attempts, expect.fails
            );
            broken.push(violation("outcomes", detail));
        }
    }
    broken
}

/// What is expected of `job`, if the API accepted it, it ended, and no crash and no operator
/// touched it.
fn untouched(log: &Log, job: &Job) -> Option<crate::world::Expect> {
    let accepted = log.accepted.get(&job.id)?;
    let touched = log.crashed.contains_key(&job.id) || log.touched.contains(&job.id);
    (!touched && job.status.is_terminal()).then_some(accepted.expect)
}

/// A job no crash and no operator touched took the attempts its type and payload say: AWS
/// being unavailable for a while cost it none.
pub fn attempts(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    jobs.iter()
        .filter_map(|job| Some((job, untouched(log, job)?)))
        .filter(|(job, expect)| job.attempts != expect.attempts)
        .map(|(job, expect)| {
            let detail = format!(
                "job {} ({} {}) ended {} on attempt {}; expected attempt {}",
                job.id, job.job_type, job.payload, job.status, job.attempts, expect.attempts
            );
            violation("attempts", detail)
        })
        .collect()
}

/// A crash or a Lambda timeout costs attempts only to the jobs whose messages the killed
/// invocation held, at most one each time: a job the operator did not touch takes at most the
/// attempts its payload asks plus the kills that held it.
pub fn crash_costs(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    let mut broken = Vec::new();
    for job in jobs.iter().filter(|j| !log.touched.contains(&j.id)) {
        let Some(accepted) = log.accepted.get(&job.id) else { continue };
        let kills = log.crashed.get(&job.id).copied().unwrap_or(0);
        if job.attempts > accepted.expect.attempts + kills {
            let detail = format!(
                "job {} ({} {}) is {} on attempt {}: its payload asks {}, and {kills} killed \
                 invocations held it",
                job.id, job.job_type, job.payload, job.status, job.attempts, accepted.expect.attempts
            );
            broken.push(violation("crash_costs", detail));
        }
    }
    broken
}

pub fn letters(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    let by_id: BTreeMap<&str, &Job> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut broken = Vec::new();
    for letter in &log.letters {
        let id = letter.job_id.as_deref().unwrap_or("?");
        let reason = letter.reason.split(':').next().unwrap_or_default();
        let crashed = jobs.iter().find(|j| j.id == id).is_some_and(|j| crashes_enough(log, j));
        // SQS counts a receive for each invocation Lambda throttled: with five such, a message
        // reaches the DLQ unjudged (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
        // The job's own outcome is held by the other invariants.
        let throttled = reason.starts_with("redriven") && log.throttled_receives.contains(id);
        if !throttled && !own_reason(by_id.get(id).copied(), reason, crashed) {
            broken.push(violation("letters", format!("job {id} was dead-lettered for {}", letter.reason)));
        }
    }
    broken
}

/// Jobs kept, by status, as the records say.
fn recount(jobs: &[Job]) -> BTreeMap<JobStatus, u64> {
    let mut all = BTreeMap::new();
    for job in jobs {
        *all.entry(job.status).or_default() += 1;
    }
    all
}

pub async fn counters(world: &World, jobs: &[Job]) -> Vec<Violation> {
    let counted = match world.ports.store.counters(tally::ALL_COUNTER).await {
        Ok(counted) => counted.unwrap_or_default().statuses,
        Err(err) => return vec![violation("counters", format!("counters unreadable: {err}"))],
    };
    let counted: BTreeMap<JobStatus, u64> = counted.into_iter().filter(|(_, n)| *n > 0).collect();
    let kept = recount(jobs);
    let mut broken = match counted == kept {
        true => Vec::new(),
        false => vec![violation("counters", format!("counted {counted:?}, the records say {kept:?}"))],
    };
    broken.extend(batch_counters(world, jobs).await);
    broken
}

/// Each batch's counter item says what its jobs' records say, holds no count below 0, and
/// expires (a counter made anew by a change after it expired has neither).
async fn batch_counters(world: &World, jobs: &[Job]) -> Vec<Violation> {
    let mut batches: BTreeMap<&str, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        if let Some(batch) = job.batch_id.as_deref() {
            batches.entry(batch).or_default().push(job.clone());
        }
    }
    let mut broken = Vec::new();
    for (batch, jobs) in batches {
        let key = tally::batch_counter(batch);
        let item = world.ports.store.table_port().get(&key, true).await.ok().flatten().unwrap_or_default();
        let negative: Vec<&String> = item
            .iter()
            .filter(|(name, value)| name.starts_with("n_") && value.as_i64().is_some_and(|n| n < 0))
            .map(|(name, _)| name)
            .collect();
        let counted = match world.ports.store.batch_counters(batch).await {
            Ok(found) => found.map(|c| c.counted.statuses).unwrap_or_default(),
            Err(err) => return vec![violation("counters", format!("batch {batch} unreadable: {err}"))],
        };
        let kept = recount(&jobs);
        if counted != kept || !negative.is_empty() || !item.contains_key(keys::TTL_ATTRIBUTE) {
            let detail = format!(
                "batch {batch}: counted {counted:?} (below 0: {negative:?}, expires {:?}), the records say {kept:?}",
                item.get(keys::TTL_ATTRIBUTE)
            );
            broken.push(violation("counters", detail));
        }
    }
    broken
}

/// How long after a pause answered a delivery already in flight may still start its job: the
/// workers' pause cache (5 s), and a little for the batch it came in.
const PAUSE_LAG: chrono::Duration = chrono::Duration::seconds(10);

pub fn still_while_paused(log: &Log, jobs: &[Job]) -> Vec<Violation> {
    let mut broken = Vec::new();
    for (from, until) in &log.paused_all {
        for job in jobs {
            if let Some(started) = job.started_at.filter(|at| *at > *from + PAUSE_LAG && at < until) {
                let detail =
                    format!("job {} started at {started}, everything paused from {from} to {until}", job.id);
                broken.push(violation("still_while_paused", detail));
            }
        }
    }
    broken
}

/// Job-record writes and message sends per accepted job (the requests that scale with jobs).
pub fn per_job(requests: &BTreeMap<String, u64>, jobs: usize) -> (f64, f64) {
    let sum = |ops: &[&str]| ops.iter().map(|op| requests.get(*op).copied().unwrap_or(0)).sum::<u64>();
    let writes = sum(&["UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem"]);
    let sends = sum(&["SQS:SendMessage", "SQS:SendMessageBatch"]);
    let jobs = jobs.max(1) as f64;
    (writes as f64 / jobs, sends as f64 / jobs)
}

pub fn budget(requests: &BTreeMap<String, u64>, jobs: usize, heartbeats: u64) -> Vec<Violation> {
    let (writes, sends) = per_job(requests, jobs);
    let allowed = WRITES_PER_JOB + heartbeats as f64 / jobs.max(1) as f64;
    let mut broken = Vec::new();
    if writes > allowed {
        let detail =
            format!("{writes:.2} writes per job, budget {allowed:.2} ({WRITES_PER_JOB} and heartbeats)");
        broken.push(violation("budget", detail));
    }
    if sends > SENDS_PER_JOB {
        broken.push(violation("budget", format!("{sends:.2} sends per job, budget {SENDS_PER_JOB}")));
    }
    broken
}
