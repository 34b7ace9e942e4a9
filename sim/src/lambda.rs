//! Simulated Lambda: per tier, what the SQS event source mapping does (receive up to 10 messages,
//! invoke the worker with them, delete those not reported failed), with at most the tier's
//! MaximumConcurrency invocations at once, each killed at its 900 s deadline as Lambda kills it.
//! Environments are reused while warm; a killed invocation's environment is gone. An invocation
//! can be killed from outside at any await point ([`Invocations::kill_one`]): its futures are
//! dropped, as `kill -9` would, and its messages stay in flight until their visibility ends.
//!
//! As Lambda runs an SQS event source (issue 25, item 4): an invocation can be throttled, and its
//! batch, received (a receive counted on each message), is not run: its messages return to the
//! queue when their visibility ends. A function error (the function, or its runtime out of
//! memory, failing after its records ran) fails the whole batch: nothing is deleted, and every
//! message returns the same way ("By default, if Lambda encounters an error at any point while
//! processing a batch, all messages in that batch return to the queue":
//! <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html>; throttles and
//! errors count towards maxReceiveCount:
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>). A kill mid-batch
//! ([`Invocations::kill_one`], the Lambda timeout) is the same for the messages. Two deliveries
//! of one message (SQS's duplicate copies) can run at once in two invocations; each such overlap
//! is counted (`overlapping_deliveries`).

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jobq::handlers::worker::{Worker, batch_response, deliver};
use jobq::queue::{REASON_ATTRIBUTE, Received};
use jobq::{Envelope, PerTier, PriorityTier};
use tokio::task::AbortHandle;

use crate::ownership::InvocationIds;
use crate::world::{Letter, World};

/// A Lambda invocation's hard limit.
pub const DEADLINE: Duration = Duration::from_secs(900);

/// How long an idle poller waits before it receives again, by default (the ESM long-polls; a
/// few seconds of simulated latency keeps the number of empty receives, and so the run's CPU
/// time, small). [`crate::Polling`] sets it per run.
pub const IDLE_POLL: Duration = Duration::from_secs(5);

/// The event source mappings' MaximumConcurrency, per tier, as `infra/template.yaml` deploys them
/// (its `HighConcurrency`, `NormalConcurrency` and `LowConcurrency` defaults). Each mapping
/// invokes at most that many at once
/// (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html>).
pub fn max_concurrency(tier: PriorityTier) -> usize {
    match tier {
        PriorityTier::High => 20,
        PriorityTier::Normal => 10,
        PriorityTier::Low => 4,
    }
}

/// A worker environment: the worker, and the ids that name the invocation it serves.
#[derive(Debug, Clone)]
struct Environment {
    worker: Arc<Worker>,
    ids: Arc<InvocationIds>,
}

#[derive(Debug)]
struct Running {
    id: u64,
    tier: PriorityTier,
    abort: AbortHandle,
    jobs: Vec<String>,
}

/// The invocations running now, and the warm environments waiting for the next.
#[derive(Debug, Default)]
pub struct Invocations {
    running: Mutex<Vec<Running>>,
    warm: Mutex<Vec<(PriorityTier, Environment)>>,
    next_id: Mutex<u64>,
    /// New environments' run writes do not name their run (a deliberate break).
    careless: bool,
    /// Kills are counted but the jobs they held are not noted (a deliberate break).
    forget_kills: bool,
    /// Batches whose last message is held back for a while (a reordered delivery).
    hold_back: AtomicU32,
    /// Invocations to throttle next: their batch is received and not run.
    throttle: AtomicU32,
    /// Invocations to fail next, after their records ran: the whole batch returns.
    fail: AtomicU32,
}

impl Invocations {
    /// No invocation yet, with `breaks` ([`crate::Breaks::careless_runs`] and
    /// [`crate::Breaks::forget_kills`]).
    pub fn new(breaks: crate::Breaks) -> Self {
        Invocations {
            careless: breaks.careless_runs,
            forget_kills: breaks.forget_kills,
            ..Invocations::default()
        }
    }

    /// The next `n` batches of more than one message each hold their last message back for a
    /// few seconds: it is delivered after messages sent after it.
    pub fn hold_back_next(&self, n: u32) {
        self.hold_back.fetch_add(n, SeqCst);
    }

    /// The next `n` invocations (of any tier) are throttled: Lambda refuses them, their batches
    /// stay received and unprocessed until their visibility ends.
    pub fn throttle_next(&self, n: u32) {
        self.throttle.fetch_add(n, SeqCst);
    }

    /// The next `n` invocations return a function error once their records ran.
    pub fn fail_next(&self, n: u32) {
        self.fail.fetch_add(n, SeqCst);
    }

    /// Stop every pending throttle, failure and hold-back (the end of the turbulent phase).
    pub fn calm(&self) {
        for pending in [&self.hold_back, &self.throttle, &self.fail] {
            pending.store(0, SeqCst);
        }
    }

    /// Note a killed invocation and the jobs whose messages it held.
    pub fn record_kill(&self, world: &World, jobs: &[String]) {
        let mut log = world.log();
        log.kills += 1;
        if self.forget_kills {
            return;
        }
        for id in jobs {
            *log.crashed.entry(id.clone()).or_default() += 1;
        }
    }

    fn active(&self, tier: PriorityTier) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|r| r.tier == tier).count()
    }

    fn finished(&self, id: u64) {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).retain(|r| r.id != id);
    }

    /// Kill one running invocation, chosen by `pick` among those running. Returns the ids of the
    /// jobs whose messages it held.
    pub fn kill_one(&self, pick: impl FnOnce(usize) -> usize) -> Option<Vec<String>> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.is_empty() {
            return None;
        }
        let index = pick(running.len()).min(running.len() - 1);
        let victim = running.remove(index);
        victim.abort.abort();
        Some(victim.jobs)
    }

    /// Kill every invocation (the end of a run).
    pub fn kill_all(&self) {
        for r in self.running.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            r.abort.abort();
        }
    }

    fn take_warm(&self, tier: PriorityTier) -> Option<Environment> {
        let mut warm = self.warm.lock().unwrap_or_else(PoisonError::into_inner);
        let at = warm.iter().position(|(t, _)| *t == tier)?;
        Some(warm.swap_remove(at).1)
    }

    fn put_warm(&self, tier: PriorityTier, environment: Environment) {
        self.warm.lock().unwrap_or_else(PoisonError::into_inner).push((tier, environment));
    }

    fn next_id(&self) -> u64 {
        let mut next = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        *next
    }
}

/// Take one of `pending`, if any.
fn take(pending: &AtomicU32) -> bool {
    pending.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok()
}

/// Count `n` of `what` in the run's log.
fn note(world: &World, what: &'static str, n: u64) {
    *world.log().faults.entry(what).or_default() += n;
}

/// The ids of the jobs the messages point at.
fn job_ids(messages: &[Received]) -> Vec<String> {
    messages.iter().filter_map(|m| Envelope::decode(&m.body).ok()).map(|e| e.id).collect()
}

/// The event source mapping of `tier`, forever: run it as a task and abort it to stop. SQS keeps
/// no order: each batch comes shuffled, and some hold a message back ([`Invocations::hold_back_next`]).
pub async fn event_source(
    world: World,
    invocations: Arc<Invocations>,
    tier: PriorityTier,
    mut rng: fastrand::Rng,
    idle_poll: Duration,
) {
    let arns = arns(&world).await;
    loop {
        if invocations.active(tier) >= max_concurrency(tier) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let mut messages = match world.ports.queues.receive(tier, 10, 0, None).await {
            Ok(messages) if !messages.is_empty() => messages,
            _ => {
                tokio::time::sleep(idle_poll).await;
                continue;
            }
        };
        rng.shuffle(&mut messages);
        if take(&invocations.throttle) {
            // Lambda refused the invocation: the messages, each with a receive counted, return
            // to the queue when their visibility ends.
            note(&world, "invocations_throttled", 1);
            world.log().throttled_receives.extend(job_ids(&messages));
            note(&world, "throttled_receives", messages.len() as u64);
            continue;
        }
        if messages.len() > 1
            && take(&invocations.hold_back)
            && let Some(held) = messages.pop()
        {
            let seconds = rng.i32(5..=60);
            let _ = world.ports.queues.change_visibility(tier, &held.receipt_handle, seconds).await;
        }
        invoke(&world, &invocations, tier, arns.get(tier).clone(), messages);
        tokio::task::yield_now().await;
    }
}

async fn arns(world: &World) -> PerTier<String> {
    let mut arns = PerTier::from_fn(|_| String::new());
    for tier in PriorityTier::ALL {
        // The in-memory queues answer this unless throttled; the ARN only names the queue.
        let arn = world.ports.queues.arn(tier).await.unwrap_or_default();
        *arns.get_mut(tier) = arn;
    }
    arns
}

/// Start one invocation with `messages`, in a warm environment if one waits.
fn invoke(
    world: &World,
    invocations: &Arc<Invocations>,
    tier: PriorityTier,
    arn: String,
    messages: Vec<Received>,
) {
    let worker = invocations.take_warm(tier);
    {
        let mut log = world.log();
        log.invocations += 1;
        log.cold_starts += u64::from(worker.is_none());
    }
    let environment = worker.unwrap_or_else(|| {
        let (worker, ids) = world.cold_worker(invocations.careless);
        Environment { worker: Arc::new(worker), ids }
    });
    let id = invocations.next_id();
    environment.ids.serve(id);
    let jobs = job_ids(&messages);
    note_overlap(world, invocations, &jobs);
    let fails = take(&invocations.fail);
    let (w, inv) = (world.clone(), invocations.clone());
    let handle = tokio::spawn(async move {
        let deadline = w.now() + chrono::Duration::from_std(DEADLINE).unwrap_or_default();
        let worker = &environment.worker;
        let run = deliver(&w.ports.queues, tier, &arn, &messages, |event| async move {
            let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
            let response = worker.handle(event, Some(deadline)).await;
            // A function error after the records ran: Lambda takes it as the whole batch failed.
            if fails { batch_response(ids) } else { response }
        });
        match tokio::time::timeout(DEADLINE, run).await {
            Ok(_) => {
                inv.finished(id);
                match fails {
                    // The runtime that failed (or ran out of memory) starts afresh.
                    true => note(&w, "batches_returned_whole", 1),
                    false => inv.put_warm(tier, environment),
                }
            }
            Err(_) => {
                // Lambda ends the invocation at its deadline; its environment is gone.
                inv.finished(id);
                inv.record_kill(&w, &job_ids(&messages));
            }
        }
    });
    invocations.running.lock().unwrap_or_else(PoisonError::into_inner).push(Running {
        id,
        tier,
        abort: handle.abort_handle(),
        jobs,
    });
}

/// Count an invocation that starts with a job another running invocation holds: two deliveries
/// of one job at once.
fn note_overlap(world: &World, invocations: &Invocations, jobs: &[String]) {
    let running = invocations.running.lock().unwrap_or_else(PoisonError::into_inner);
    let overlaps = jobs.iter().filter(|id| running.iter().any(|r| r.jobs.contains(id))).count();
    drop(running);
    if overlaps > 0 {
        note(world, "overlapping_deliveries", overlaps as u64);
    }
}

/// How often the dead-letter function's event source mappings receive from an idle DLQ (they
/// long-poll; letters wait for no one, so a longer gap only saves the run's CPU time).
pub const DLQ_POLL: Duration = Duration::from_secs(20);

/// The dead-letter function's event source mappings: every DLQ polled every [`DLQ_POLL`] (at
/// once again after a full batch), each letter noted in the log the first time it is seen, then
/// handed to the real handler.
pub async fn dead_letters(world: World) {
    let mut arns = PerTier::from_fn(|_| String::new());
    for tier in PriorityTier::ALL {
        // As for the tier queues: the ARN only names the queue in the event.
        *arns.get_mut(tier) = world.ports.dlqs.arn(tier).await.unwrap_or_default();
    }
    loop {
        let mut full = false;
        for tier in PriorityTier::ALL {
            let Ok(messages) = world.ports.dlqs.receive(tier, 10, 0, None).await else { continue };
            full |= messages.len() == 10;
            note_letters(&world, &messages);
            let handler = world.dlq.clone();
            let _ = deliver(&world.ports.dlqs, tier, arns.get(tier), &messages, |event| async move {
                handler.handle(event).await
            })
            .await;
        }
        tokio::time::sleep(if full { Duration::from_secs(1) } else { DLQ_POLL }).await;
    }
}

fn note_letters(world: &World, messages: &[Received]) {
    let mut log = world.log();
    for m in messages {
        if !log.letter_ids.insert(m.message_id.clone()) {
            continue;
        }
        let reason = m.attributes.get(REASON_ATTRIBUTE).cloned().unwrap_or_else(|| "redriven".to_owned());
        let job_id = Envelope::decode(&m.body).ok().map(|e| e.id);
        log.letters.push(Letter { job_id, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobq::{JobStatus, NewJob};

    /// A world with one `noop` job enqueued, its tier's event source running.
    async fn one_job(invocations: &Arc<Invocations>) -> (World, String, PriorityTier) {
        let world = World::new(1, crate::Breaks::default());
        let spec = NewJob { job_type: "noop".into(), ..NewJob::default() };
        let (job, _) = world.service.enqueue(spec).await.unwrap_or_else(|e| panic!("enqueue: {e}"));
        let source = event_source(
            world.clone(),
            invocations.clone(),
            job.tier,
            fastrand::Rng::with_seed(1),
            Duration::from_secs(20),
        );
        tokio::spawn(source);
        (world, job.id, job.tier)
    }

    async fn status(world: &World, id: &str) -> (JobStatus, u32) {
        let job = world.ports.store.get(id, true).await.ok().flatten();
        job.map(|j| (j.status, j.attempts)).unwrap_or_else(|| panic!("job {id} gone"))
    }

    /// Throttled invocations leave their batch received and unrun: the message returns at the
    /// end of its visibility with a receive counted each time, so five throttles in a row
    /// redrive it to the dead-letter queue (maxReceiveCount 5) without its job having run.
    #[tokio::test(start_paused = true)]
    async fn throttled_invocations_count_receives_until_the_redrive() {
        let invocations = Arc::new(Invocations::default());
        invocations.throttle_next(5);
        let (world, id, tier) = one_job(&invocations).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(status(&world, &id).await, (JobStatus::Queued, 0), "not run while throttled");
        tokio::time::sleep(Duration::from_secs(8 * 3600)).await;
        let log = world.log();
        assert_eq!(log.faults.get("invocations_throttled"), Some(&5), "{:?}", log.faults);
        assert_eq!(log.faults.get("throttled_receives"), Some(&5), "{:?}", log.faults);
        assert_eq!(log.invocations, 0, "no invocation ran");
        let letters = world.queues.bodies(world.config.dlqs.get(tier));
        assert!(letters.iter().any(|b| b.contains(&id)), "redriven after five receives: {letters:?}");
    }

    /// A function error after the records ran returns the whole batch: the job completed on its
    /// one attempt, and its message, not deleted, is delivered again (and acknowledged).
    #[tokio::test(start_paused = true)]
    async fn a_function_error_returns_the_whole_batch() {
        let invocations = Arc::new(Invocations::default());
        invocations.fail_next(1);
        let (world, id, tier) = one_job(&invocations).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(status(&world, &id).await, (JobStatus::Completed, 1));
        assert_eq!(world.queues.bodies(world.config.queues.get(tier)).len(), 1, "the message is back");
        tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
        assert_eq!(status(&world, &id).await, (JobStatus::Completed, 1));
        let log = world.log();
        assert_eq!(log.faults.get("batches_returned_whole"), Some(&1), "{:?}", log.faults);
        assert_eq!(log.invocations, 2, "delivered again once");
        assert!(world.queues.bodies(world.config.queues.get(tier)).is_empty(), "then deleted");
    }
}
