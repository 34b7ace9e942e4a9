//! The one way a job is made, whoever makes it: the API, ingest, a schedule, a pipeline's next
//! step. Its record first, then (when it is `queued`) its message; a message that cannot be sent
//! takes the record back, so a failed enqueue leaves no job waiting for a message that will not
//! come. Each job made counts in `JobsEnqueued`.
//!
//! A job its idempotency key made earlier that never started gets its message again (the enqueue
//! that made it may have died before sending it), once marked as being sent: the create that made
//! it then no longer takes it back, so no enqueue deletes a job whose message another just sent
//! (see `store::unsent`).
//!
//! A pipeline's next step whose send failed is taken back too: then its parent's message, which
//! comes back, is all that makes it. So whatever handles that message once the parent completed
//! makes the step ([`Enqueuer::enqueue_next`]): the worker's delivery, paused or not, and the
//! dead-letter function, should its receives run out first.

use std::collections::BTreeMap;

use tracing::{error, info};

use crate::domain::envelope::Envelope;
use crate::domain::model::{Job, NewJob};
use crate::domain::priority::PriorityTier;
use crate::domain::status::JobStatus;
use crate::metrics::{MetricSet, Unit};
use crate::ports::{Clock, Ids};
use crate::queue::{QueueError, TierQueues};
use crate::store::{CreateReceipt, Created, JobStore, StoreError};

/// Creates in one enqueue: each round after the first follows another enqueue of the same key
/// that took the job back (its send failed) between this one finding the job and marking it.
const CREATE_ROUNDS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message was not sent: a job this enqueue made was taken back (unless another enqueue
    /// of its key took it over meanwhile); one made before stays `queued`, for the scheduler to
    /// send.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl EnqueueError {
    /// The same enqueue may succeed later (throttled, unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            EnqueueError::Store(err) => err.is_transient(),
            EnqueueError::Queue(err) => err.is_transient(),
        }
    }
}

/// What making a completed job's next step came to.
#[derive(Debug)]
pub enum NextStep {
    /// The job's pipeline ends with it.
    None,
    /// Made now, or found made before (sent again if it never started).
    Made(Box<Created>),
    /// The pipeline's steps (kept in the bucket) cannot be read, ever: it ends here.
    Unreadable(StoreError),
}

/// What an enqueue does about a job its idempotency key made before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExisting {
    /// Send it a message again if it never started (the API's enqueue, a pipeline's next step):
    /// the enqueue that made it may have died between its create and its send.
    Resend,
    /// Leave it: a repeat of the key does nothing, not even a second message (recurring jobs, S3
    /// uploads).
    Leave,
}

/// What follows a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCreate {
    /// A new `queued` job: send its message, or take it back.
    Send,
    /// A new job waiting `scheduled`: the scheduler sends its message when it is due.
    Hold,
    /// A job made before that never started: mark it as being sent, then send it.
    SendAgain,
    /// A job made before that is on its way (started, retried, ended), or is to be left.
    Leave,
}

/// Pure: what follows `created`.
pub fn after_create(created: &Created, if_existing: IfExisting) -> AfterCreate {
    match created {
        Created::New(job) if job.status == JobStatus::Queued => AfterCreate::Send,
        Created::New(_) => AfterCreate::Hold,
        Created::Existing(job) if if_existing == IfExisting::Resend && never_started(job) => {
            AfterCreate::SendAgain
        }
        Created::Existing(_) => AfterCreate::Leave,
    }
}

/// Waiting for its first run: `queued`, no attempt, never retried (a retry sent its own message).
pub fn never_started(job: &Job) -> bool {
    job.status == JobStatus::Queued && job.attempts == 0 && job.generation == 0
}

/// The message that delivers `job`.
pub fn envelope(job: &Job) -> Envelope {
    Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
}

/// EMF: jobs enqueued, per type and tier.
pub fn count_enqueued(jobs: &[Job]) {
    enqueued_metrics(jobs).iter().for_each(MetricSet::emit);
}

/// Pure: the `JobsEnqueued` metric of `jobs`, one set per type and tier.
pub fn enqueued_metrics(jobs: &[Job]) -> Vec<MetricSet> {
    let mut counts: BTreeMap<(&str, PriorityTier), f64> = BTreeMap::new();
    for job in jobs {
        *counts.entry((job.job_type.as_str(), job.tier)).or_default() += 1.0;
    }
    let set = |((job_type, tier), count): ((&str, PriorityTier), f64)| {
        let mut set = MetricSet::new([("JobType", job_type), ("Tier", tier.as_str())]);
        set.add("JobsEnqueued", Unit::Count, count);
        set
    };
    counts.into_iter().map(set).collect()
}

/// Makes jobs: over the job store and tier queues of the handler that makes them, with its clock
/// and ids.
#[derive(Debug, Clone, Copy)]
pub struct Enqueuer<'a> {
    store: &'a JobStore,
    queues: &'a TierQueues,
    clock: &'a dyn Clock,
    ids: &'a dyn Ids,
}

impl<'a> Enqueuer<'a> {
    pub fn new(store: &'a JobStore, queues: &'a TierQueues, clock: &'a dyn Clock, ids: &'a dyn Ids) -> Self {
        Enqueuer { store, queues, clock, ids }
    }

    /// Make the job `spec` describes (its id from its idempotency key, else fresh). `New` when
    /// made: its message sent, or it waits `scheduled`; `Existing` when its key's job was there,
    /// as it is now. An error leaves no job of this enqueue's making behind.
    pub async fn enqueue(&self, spec: NewJob, if_existing: IfExisting) -> Result<Created, EnqueueError> {
        let now = self.clock.now();
        let job = Job::new_with_id(spec, now, || self.ids.job_id());
        for _ in 0..CREATE_ROUNDS {
            let (created, receipt) = self.store.create_undoable(&job).await?;
            match after_create(&created, if_existing) {
                AfterCreate::Send => self.send_or_take_back(created.job(), &receipt).await?,
                AfterCreate::Hold | AfterCreate::Leave => {}
                AfterCreate::SendAgain => match self.send_again(created.into_job()).await? {
                    Some(existing) => return Ok(Created::Existing(existing)),
                    None => continue,
                },
            }
            if let Created::New(job) = &created {
                count_enqueued(std::slice::from_ref(job));
            }
            return Ok(created);
        }
        // Every enqueue of the key that made it failed to send its message.
        let why =
            format!("job {} was taken back by enqueues of its key whose messages were not sent", job.id);
        Err(QueueError::Transient { operation: "SendMessage", source: why.into() }.into())
    }

    /// The first step of completed `job`'s `next`, under an id derived from the job's (so it is
    /// made once, whoever makes it and however often): made as any job is ([`Enqueuer::enqueue`]).
    /// Whoever handles the job's message once it completed makes it: its first maker's send may
    /// have failed, and a step whose send failed is taken back.
    pub async fn enqueue_next(&self, job: &Job) -> Result<NextStep, EnqueueError> {
        let resolved;
        let job = match job.spilled.next {
            None => job,
            Some(_) => match self.store.resolve_next(job.clone()).await {
                Ok(job) => {
                    resolved = job;
                    &resolved
                }
                Err(err) if err.is_transient() => return Err(err.into()),
                Err(err) => return Ok(NextStep::Unreadable(err)),
            },
        };
        let Some(step) = job.next_step() else { return Ok(NextStep::None) };
        Ok(NextStep::Made(Box::new(self.enqueue(step, IfExisting::Resend).await?)))
    }

    /// Send a new job's message; if that fails, take the job back.
    async fn send_or_take_back(&self, job: &Job, receipt: &CreateReceipt) -> Result<(), EnqueueError> {
        let Err(err) = self.queues.send(&envelope(job), job.delay_seconds(self.clock.now())).await else {
            return Ok(());
        };
        match self.store.take_back(receipt).await {
            Ok(()) => {}
            Err(StoreError::NotFound { .. }) => {
                info!(job_id = %job.id, "message not sent, but another enqueue took the job over: left to it");
            }
            Err(take_back) => {
                // Left queued without a message: the scheduler re-sends such jobs.
                error!(job_id = %job.id, error = %take_back, "could not remove a job whose message was not sent");
            }
        }
        Err(err.into())
    }

    /// Mark a job made before, never started, as being sent, and send it; the job as it is now.
    /// `None` when it is gone: the enqueue that made it took it back (its send failed).
    async fn send_again(&self, job: Job) -> Result<Option<Job>, EnqueueError> {
        match self.store.mark_sending(&job.id).await {
            Ok(()) => {
                // A duplicate of a message already sent is dropped at claim.
                self.queues.send(&envelope(&job), job.delay_seconds(self.clock.now())).await?;
                Ok(Some(job))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            // Moved on since it was read (a run claimed it, a cancel): it needs no message.
            Err(StoreError::Conflict { current, .. }) => Ok(Some(*current)),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::domain::model::{job_id_for_key, parse_time};
    use crate::domain::priority::{PerTier, Priority};
    use crate::domain::task::Registry;
    use crate::handlers::dlq::{DeadLetterHandler, DeadLetterOutcome};
    use crate::handlers::service::JobService;
    use crate::handlers::worker::{Worker, WorkerSettings, drain, sqs_event};
    use crate::ports::ManualClock;
    use crate::ports::queue::{
        BatchEntry, EntryFailure, MessageQueue, NewMessage, QueueDepth, Receive, Received,
    };

    fn job(status: JobStatus, attempts: u32, generation: u64) -> Job {
        let now = parse_time("2026-01-01T00:00:00Z").expect("time");
        let mut job = Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now);
        (job.status, job.attempts, job.generation) = (status, attempts, generation);
        job
    }

    #[test]
    fn a_new_queued_job_is_sent_and_one_made_before_only_if_it_never_started() {
        use AfterCreate::*;
        use IfExisting::{Leave as Keep, Resend};
        let new = |j| Created::New(j);
        let old = |j| Created::Existing(j);
        assert_eq!(after_create(&new(job(JobStatus::Queued, 0, 0)), Keep), Send);
        assert_eq!(after_create(&new(job(JobStatus::Scheduled, 0, 0)), Resend), Hold);
        assert_eq!(after_create(&old(job(JobStatus::Queued, 0, 0)), Resend), SendAgain);
        assert_eq!(after_create(&old(job(JobStatus::Queued, 0, 0)), Keep), Leave);
        for started in
            [job(JobStatus::Queued, 1, 0), job(JobStatus::Queued, 0, 1), job(JobStatus::Processing, 1, 0)]
        {
            assert_eq!(after_create(&old(started.clone()), Resend), Leave, "{started:?}");
        }
        assert_eq!(after_create(&old(job(JobStatus::Completed, 1, 0)), Resend), Leave);
    }

    #[test]
    fn jobs_enqueued_counts_per_type_and_tier() {
        let high =
            Job { priority: Priority::HIGH, tier: Priority::HIGH.tier(), ..job(JobStatus::Queued, 0, 0) };
        let sets = enqueued_metrics(&[job(JobStatus::Queued, 0, 0), job(JobStatus::Queued, 0, 0), high]);
        assert_eq!(sets.len(), 2);
        assert_eq!(MetricSet::sum_where(&sets, "JobsEnqueued", "Tier", "normal"), 2.0);
        assert_eq!(MetricSet::sum_where(&sets, "JobsEnqueued", "Tier", "high"), 1.0);
    }

    /// The in-memory queues, refusing sends to one queue while `refusing` is set.
    #[derive(Debug)]
    struct RefusingSends {
        queues: Arc<dyn MessageQueue>,
        url: String,
        refusing: AtomicBool,
    }

    impl RefusingSends {
        fn check(&self, url: &str) -> Result<(), QueueError> {
            match self.refusing.load(Ordering::SeqCst) && url == self.url {
                true => Err(QueueError::Transient { operation: "SendMessage", source: "unavailable".into() }),
                false => Ok(()),
            }
        }
    }

    #[async_trait::async_trait]
    impl MessageQueue for RefusingSends {
        async fn send(&self, url: &str, message: &NewMessage) -> Result<String, QueueError> {
            self.check(url)?;
            self.queues.send(url, message).await
        }
        async fn send_batch(
            &self,
            url: &str,
            entries: &[BatchEntry],
        ) -> Result<Vec<EntryFailure>, QueueError> {
            self.check(url)?;
            self.queues.send_batch(url, entries).await
        }
        async fn receive(&self, url: &str, request: &Receive) -> Result<Vec<Received>, QueueError> {
            self.queues.receive(url, request).await
        }
        async fn change_visibility(&self, url: &str, receipt: &str, seconds: i32) -> Result<(), QueueError> {
            self.queues.change_visibility(url, receipt, seconds).await
        }
        async fn change_visibility_batch(
            &self,
            url: &str,
            receipts: &[String],
            seconds: i32,
        ) -> Result<Vec<EntryFailure>, QueueError> {
            self.queues.change_visibility_batch(url, receipts, seconds).await
        }
        async fn delete_batch(
            &self,
            url: &str,
            receipts: &[String],
        ) -> Result<Vec<EntryFailure>, QueueError> {
            self.queues.delete_batch(url, receipts).await
        }
        async fn depth(&self, url: &str) -> Result<QueueDepth, QueueError> {
            self.queues.depth(url).await
        }
        async fn arn(&self, url: &str) -> Result<String, QueueError> {
            self.queues.arn(url).await
        }
    }

    /// The service and a worker on the in-memory ports, sends to the high tier's queue refused
    /// on demand.
    struct Stack {
        clock: ManualClock,
        queues: TierQueues,
        dlqs: TierQueues,
        letters: DeadLetterHandler,
        store: JobStore,
        ids: Arc<dyn Ids>,
        high: Arc<RefusingSends>,
        service: JobService,
        worker: Worker,
    }

    fn stack() -> Stack {
        let clock = ManualClock::new(parse_time("2026-01-01T00:00:00Z").expect("time"));
        let (ports, memory) = crate::Ports::memory(Arc::new(clock.clone())).expect("memory ports");
        let urls = PerTier::from_fn(|tier| ports.queues.url(tier).to_owned());
        let high = Arc::new(RefusingSends {
            queues: memory.queues.clone(),
            url: urls.get(PriorityTier::High).clone(),
            refusing: AtomicBool::new(false),
        });
        let ports = crate::Ports { queues: TierQueues::with_port(high.clone(), urls), ..ports };
        let registry = Registry::with_builtins();
        let service = ports.service(&memory.config, registry.job_types());
        let worker = ports.worker(registry, WorkerSettings::default());
        let letters = ports.dead_letters();
        let (queues, dlqs, store, ids) = (ports.queues, ports.dlqs, ports.store, ports.ids);
        Stack { clock, queues, dlqs, letters, store, ids, high, service, worker }
    }

    impl Stack {
        /// The worker takes every message, those its runs send included.
        async fn drain(&self) {
            while drain(&self.queues, &self.worker).await.expect("drain") > 0 {}
        }

        fn enqueuer(&self) -> Enqueuer<'_> {
            Enqueuer::new(&self.store, &self.queues, &self.clock, self.ids.as_ref())
        }
    }

    /// An `echo` job whose pipeline goes on with a `noop` in the high tier.
    fn pipeline() -> NewJob {
        let next = NewJob { job_type: "noop".into(), priority: Priority::HIGH, ..NewJob::default() };
        NewJob { job_type: "echo".into(), next: vec![next], ..NewJob::default() }
    }

    async fn status(s: &Stack, id: &str) -> Option<JobStatus> {
        s.store.get(id, true).await.expect("get").map(|job| job.status)
    }

    #[tokio::test]
    async fn a_pipelines_next_step_counts_as_enqueued_as_an_api_enqueue_does() {
        let s = stack();
        crate::metrics::take_emitted();
        let (parent, _) = s.service.enqueue(pipeline()).await.expect("enqueue");
        s.drain().await;
        let next = job_id_for_key(&format!("{}:next", parent.id));
        assert_eq!(status(&s, &next).await, Some(JobStatus::Completed));
        let emitted = crate::metrics::take_emitted();
        assert_eq!(MetricSet::sum_where(&emitted, "JobsEnqueued", "JobType", "echo"), 1.0);
        assert_eq!(MetricSet::sum_where(&emitted, "JobsEnqueued", "JobType", "noop"), 1.0, "the next step");
    }

    /// A next step whose message cannot be sent is taken back, not left `queued` with no message
    /// on the way; its parent's delivery comes back and makes it again.
    #[tokio::test]
    async fn a_next_step_whose_send_fails_is_taken_back_and_its_parent_makes_it_again() {
        let s = stack();
        let (parent, _) = s.service.enqueue(pipeline()).await.expect("enqueue");
        let next = job_id_for_key(&format!("{}:next", parent.id));
        s.high.refusing.store(true, Ordering::SeqCst);
        crate::metrics::take_emitted();
        s.drain().await;
        assert_eq!(status(&s, &parent.id).await, Some(JobStatus::Completed));
        assert_eq!(status(&s, &next).await, None, "no job waits for a message that was not sent");
        let emitted = crate::metrics::take_emitted();
        assert_eq!(MetricSet::sum_where(&emitted, "JobsEnqueued", "JobType", "noop"), 0.0);
        let parents = s.queues.depth(PriorityTier::Normal).await.expect("depth");
        assert_eq!((parents.visible, parents.in_flight), (0, 1), "the parent's delivery was kept");

        s.high.refusing.store(false, Ordering::SeqCst);
        s.clock.advance(chrono::Duration::hours(13));
        s.drain().await;
        assert_eq!(status(&s, &next).await, Some(JobStatus::Completed), "made when the parent came back");
        let emitted = crate::metrics::take_emitted();
        assert_eq!(MetricSet::sum_where(&emitted, "JobsEnqueued", "JobType", "noop"), 1.0);
        assert_eq!(s.queues.depth(PriorityTier::Normal).await.expect("depth"), QueueDepth::default());
    }

    /// A pipeline whose next step was taken back (its send failed), its parent completed.
    async fn step_taken_back(s: &Stack) -> (Job, String) {
        let (parent, _) = s.service.enqueue(pipeline()).await.expect("enqueue");
        let next = job_id_for_key(&format!("{}:next", parent.id));
        s.high.refusing.store(true, Ordering::SeqCst);
        s.drain().await;
        s.high.refusing.store(false, Ordering::SeqCst);
        assert_eq!(status(s, &parent.id).await, Some(JobStatus::Completed));
        assert_eq!(status(s, &next).await, None, "taken back");
        (parent, next)
    }

    /// The parent's delivery that comes back while its tier is paused makes the step all the same:
    /// once the step was taken back, that delivery is all that makes it.
    #[tokio::test]
    async fn a_parent_coming_back_while_paused_makes_its_next_step() {
        let s = stack();
        let (_, next) = step_taken_back(&s).await;
        let normal = crate::store::PauseScope::Queue(PriorityTier::Normal);
        s.service.set_paused(&normal, true, "ops").await.expect("pause");
        s.clock.advance(chrono::Duration::hours(13));
        s.drain().await;
        assert_eq!(status(&s, &next).await, Some(JobStatus::Completed), "made, in a tier not paused");
    }

    /// So does its dead letter, when its receives ran out before it could make it: the letter
    /// goes back to its tier queue, and the worker makes the step.
    #[tokio::test]
    async fn a_completed_jobs_dead_letter_makes_its_next_step() {
        let s = stack();
        let (parent, next) = step_taken_back(&s).await;
        s.dlqs.send(&envelope(&parent), 0).await.expect("a letter SQS moved by itself");
        let letters = s.dlqs.receive(PriorityTier::Normal, 10, 0, None).await.expect("dlq");
        let arn = s.dlqs.arn(PriorityTier::Normal).await.expect("arn");
        let outcome =
            s.letters.record(&sqs_event(&letters, &arn, "memory").records[0]).await.expect("record");
        assert_eq!(outcome, DeadLetterOutcome::SentBack { job_id: parent.id });
        assert_eq!(status(&s, &next).await, None, "the dead-letter function makes no job");
        s.drain().await;
        assert_eq!(status(&s, &next).await, Some(JobStatus::Completed));
    }

    /// An enqueue whose send failed does not take back the job another enqueue of its key found
    /// and sent meanwhile: that message finds its job.
    #[tokio::test]
    async fn a_job_another_enqueue_sent_is_not_taken_back() {
        let s = stack();
        let spec = NewJob { idempotency_key: Some("k".into()), ..pipeline() };
        let first = Job::new(spec.clone(), s.clock.now());
        let (made, receipt) = s.store.create_undoable(&first).await.expect("create");
        assert!(matches!(made, Created::New(_)), "{made:?}");
        // Another enqueue of the key, before the first one's send fails: it finds the job, never
        // started, and sends it.
        let found = s.enqueuer().enqueue(spec, IfExisting::Resend).await.expect("enqueue");
        assert!(matches!(found, Created::Existing(_)), "{found:?}");
        let refused = s.store.take_back(&receipt).await;
        assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
        s.drain().await;
        assert_eq!(status(&s, &first.id).await, Some(JobStatus::Completed), "its message found it");
    }

    /// So does a batch that finds the job of one of its keys never started, and sends it.
    #[tokio::test]
    async fn a_job_a_batch_sent_again_is_not_taken_back() {
        let s = stack();
        let spec = NewJob { idempotency_key: Some("k".into()), ..pipeline() };
        let first = Job::new(spec.clone(), s.clock.now());
        let (_, receipt) = s.store.create_undoable(&first).await.expect("create");
        let jobs = s.service.enqueue_batch(vec![spec], "b").await.expect("batch");
        assert_eq!(jobs.iter().map(|job| job.id.as_str()).collect::<Vec<_>>(), [first.id.as_str()]);
        let refused = s.store.take_back(&receipt).await;
        assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
        s.drain().await;
        assert_eq!(status(&s, &first.id).await, Some(JobStatus::Completed), "its message found it");
    }
}
