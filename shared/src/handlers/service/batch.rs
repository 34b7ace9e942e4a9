//! Many jobs under one batch id (`POST /jobs/batch`). From the caller's view a batch is all or
//! nothing: a job whose record or message could not be written is removed again, and so is the
//! rest of a batch whose records could not all be written. When something cannot be undone (a job
//! whose message went out, a removal DynamoDB refuses too) the answer says, job by job, which exist.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{error, warn};

use super::batch_report::{BatchReport, BatchVerdict, EntryOutcome, EntryReport};
use super::{JobService, ServiceError, told};
use crate::domain::envelope::Envelope;
use crate::domain::model::{Job, NewJob};
use crate::domain::status::JobStatus;
use crate::handlers::enqueue::{count_enqueued, envelope, never_started};
use crate::queue::REQUEST_FAILED;
use crate::store::{CreateReceipt, Created, StoreError};

/// Records one BatchWriteItem carries (DynamoDB's limit): a failed write leaves at most these in
/// doubt, and the batch stops there.
const WRITE_CHUNK: usize = 25;
/// SendMessageBatch rounds while SQS fails some entries for a reason that may pass.
const SEND_ROUNDS: u32 = 3;
/// Conditional puts (jobs with idempotency keys) and removals in flight at once.
const CONCURRENCY: usize = 16;
/// Why an entry has no job though its key had one: the request that made it took it back.
const TAKEN_BACK: &str = "its idempotency_key's job was taken back meanwhile by the request that made it, \
                          whose message could not be sent";

/// A keyed job's create: the job made or found, and the receipt to take it back by.
type KeyedCreate = Result<(Created, CreateReceipt), StoreError>;

/// Where a job of the batch stands between writing and sending.
enum Stage {
    /// Written by this request; taken back by its receipt when it has a key (another request
    /// may know it then), else by its fresh id.
    New(Job, Option<CreateReceipt>),
    /// This key's job, from an earlier request.
    Existing(Job),
    /// Its write failed but may have taken effect. `id` when it is fresh (no idempotency key):
    /// no one else's job can have it, so removing it is safe.
    InDoubt { reason: String, id: Option<String> },
    /// No job: not written (the batch stopped before it), or its key's job was taken back
    /// meanwhile by the request that made it.
    Unwritten(String),
}

impl Stage {
    /// The record, when it is known to exist.
    fn record(&self) -> Option<&Job> {
        match self {
            Stage::New(job, _) | Stage::Existing(job) => Some(job),
            Stage::InDoubt { .. } | Stage::Unwritten(_) => None,
        }
    }

    /// A `queued` job whose message this request sends: its own, or an existing job's again if
    /// that never started (an earlier enqueue of its key may have died before sending).
    fn needs_message(&self) -> bool {
        match self {
            Stage::New(job, _) => job.status == JobStatus::Queued,
            Stage::Existing(job) => never_started(job),
            Stage::InDoubt { .. } | Stage::Unwritten(_) => false,
        }
    }
}

/// What removing a record that never started came to.
enum Removal {
    Removed,
    /// Missing, or no longer `queued` with no attempt: someone ran it.
    Gone,
    Failed(StoreError),
}

impl JobService {
    /// Create and send many jobs under one batch id: records by BatchWriteItem (conditional puts
    /// for those with idempotency keys), messages by SendMessageBatch. `Ok` with every job when
    /// all were enqueued; otherwise [`ServiceError::BatchIncomplete`] says job by job which exist.
    pub async fn enqueue_batch(&self, specs: Vec<NewJob>, batch_id: &str) -> Result<Vec<Job>, ServiceError> {
        // All or nothing: one job the deployment cannot run refuses the batch before any write.
        for (index, spec) in specs.iter().enumerate() {
            self.admit(spec, Some(index))?;
        }
        let now = self.clock.now();
        let jobs: Vec<Job> = specs
            .into_iter()
            .map(|spec| self.new_job(NewJob { batch_id: Some(batch_id.to_owned()), ..spec }, now))
            .collect();
        let stages = self.write_batch(&jobs).await;
        let outcomes = if stages.iter().all(|s| matches!(s, Stage::New(..) | Stage::Existing(_))) {
            let stages = self.mark_existing_as_sending(stages).await;
            self.send_batch_messages(stages, now).await
        } else {
            self.undo_batch_writes(stages).await
        };
        let entries: Vec<EntryReport> = jobs
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(index, (job, outcome))| EntryReport {
                index,
                id: job.id.clone(),
                keyed: job.idempotency_key.is_some(),
                outcome,
            })
            .collect();
        let kept: Vec<Job> = entries
            .iter()
            .filter(|e| e.outcome.kept_new())
            .filter_map(|e| e.outcome.job().cloned())
            .collect();
        count_enqueued(&kept);
        self.declare_batch(batch_id, &kept).await;
        let report = BatchReport { batch_id: batch_id.to_owned(), entries };
        if report.verdict() == BatchVerdict::Complete {
            return Ok(report.entries.into_iter().filter_map(|e| e.outcome.job().cloned()).collect());
        }
        warn!(batch_id, %report, "batch not enqueued whole");
        Err(ServiceError::BatchIncomplete(report))
    }

    /// Note on the batch's counter item the jobs this request made, so that reading the batch
    /// right after finds it (see [`crate::store::BatchCounters`]). A failure costs only that.
    async fn declare_batch(&self, batch_id: &str, made: &[Job]) {
        let mut by_status: BTreeMap<JobStatus, u64> = BTreeMap::new();
        for job in made {
            *by_status.entry(job.status).or_default() += 1;
        }
        let Some(created) = made.iter().map(|job| job.created_at).min() else { return };
        if let Err(err) = self.store.declare_batch(batch_id, &by_status, created, self.clock.now()).await {
            warn!(batch_id, error = %err, "the batch's jobs were not noted: reading it may miss them briefly");
        }
    }

    /// The records: fresh ones 25 to a BatchWriteItem, stopping at the first that fails; then,
    /// if all went in, the keyed ones by conditional puts.
    async fn write_batch(&self, jobs: &[Job]) -> Vec<Stage> {
        let mut stages: Vec<Option<Stage>> = jobs.iter().map(|_| None).collect();
        let (keyed, fresh): (Vec<usize>, Vec<usize>) =
            (0..jobs.len()).partition(|&i| jobs[i].idempotency_key.is_some());
        let mut failed: Option<String> = None;
        for chunk in fresh.chunks(WRITE_CHUNK) {
            if let Some(why) = &failed {
                for &i in chunk {
                    stages[i] =
                        Some(Stage::Unwritten(format!("not written after an earlier write failed: {why}")));
                }
                continue;
            }
            let records: Vec<Job> = chunk.iter().map(|&i| jobs[i].clone()).collect();
            match self.store.create_many(&records).await {
                Ok(()) => {
                    chunk.iter().zip(records).for_each(|(&i, job)| stages[i] = Some(Stage::New(job, None)))
                }
                Err(err) => {
                    let reason = told(&err);
                    chunk.iter().for_each(|&i| {
                        stages[i] =
                            Some(Stage::InDoubt { reason: reason.clone(), id: Some(jobs[i].id.clone()) });
                    });
                    failed = Some(reason);
                }
            }
        }
        if let Some(why) = &failed {
            for &i in &keyed {
                stages[i] =
                    Some(Stage::Unwritten(format!("not written after an earlier write failed: {why}")));
            }
        } else {
            // Indexes in the stream (owned), so the future is Send for any caller (axum, Lambda).
            let created: Vec<(usize, KeyedCreate)> = futures::stream::iter(keyed)
                .map(|i: usize| async move {
                    let created = match self.store.create_undoable(&jobs[i]).await {
                        // As the API shows it: a payload kept in the bucket read back.
                        Ok((Created::Existing(job), receipt)) => {
                            self.store.resolve(job).await.map(|job| (Created::Existing(job), receipt))
                        }
                        other => other,
                    };
                    (i, created)
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            for (i, result) in created {
                stages[i] = Some(match result {
                    Ok((Created::New(job), receipt)) => Stage::New(job, Some(receipt)),
                    Ok((Created::Existing(job), _)) => Stage::Existing(job),
                    Err(err) => Stage::InDoubt { reason: told(&err), id: None },
                });
            }
        }
        stages.into_iter().map(|s| s.unwrap_or_else(|| Stage::Unwritten("not written".into()))).collect()
    }

    /// The batch could not be written whole: remove what this request wrote (or may have).
    async fn undo_batch_writes(&self, stages: Vec<Stage>) -> Vec<EntryOutcome> {
        let failure = stages.iter().find_map(|s| match s {
            Stage::InDoubt { reason, .. } => Some(reason.as_str()),
            _ => None,
        });
        let why = &format!("the batch could not be written whole ({})", failure.unwrap_or("a write failed"));
        futures::stream::iter(stages)
            .map(|stage: Stage| async move {
                match stage {
                    Stage::New(job, receipt) => self.remove_new(job, receipt, why).await,
                    Stage::Existing(job) => EntryOutcome::Enqueued { job: Box::new(job), new: false },
                    Stage::Unwritten(reason) => EntryOutcome::NotCreated { reason },
                    Stage::InDoubt { reason, id: None } => EntryOutcome::Unknown {
                        reason: format!("{reason}; it may exist under its idempotency_key"),
                    },
                    Stage::InDoubt { reason, id: Some(id) } => match self.remove_unstarted(&id, None).await {
                        Removal::Removed | Removal::Gone => {
                            EntryOutcome::NotCreated { reason: format!("{reason}; removed") }
                        }
                        Removal::Failed(err) => EntryOutcome::Unknown {
                            reason: format!(
                                "{reason}; it may have been written and could not be removed: {}",
                                told(&err)
                            ),
                        },
                    },
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    /// Mark the jobs of earlier requests that this one sends a message again as being sent, so the
    /// request that made one no longer takes it back (see [`Enqueuer`]): one it took back first is
    /// no more; one that moved on needs no message. One that cannot be marked is sent all the same.
    ///
    /// [`Enqueuer`]: crate::handlers::enqueue::Enqueuer
    async fn mark_existing_as_sending(&self, stages: Vec<Stage>) -> Vec<Stage> {
        futures::stream::iter(stages)
            .map(|stage: Stage| async move {
                let Stage::Existing(job) = stage else { return stage };
                if !never_started(&job) {
                    return Stage::Existing(job);
                }
                match self.store.mark_sending(&job.id).await {
                    Ok(()) => Stage::Existing(job),
                    Err(StoreError::NotFound { .. }) => Stage::Unwritten(TAKEN_BACK.to_owned()),
                    Err(StoreError::Conflict { current, .. }) => {
                        Stage::Existing(self.store.resolve(*current).await.unwrap_or(job))
                    }
                    Err(err) => {
                        warn!(job_id = %job.id, error = %err, "could not mark a job as being sent; sending it anyway");
                        Stage::Existing(job)
                    }
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    /// Every record is written: send the messages, retrying what may pass; then remove the new
    /// jobs whose message could not be sent.
    async fn send_batch_messages(&self, stages: Vec<Stage>, now: DateTime<Utc>) -> Vec<EntryOutcome> {
        let mut pending: Vec<(usize, &Job)> = stages
            .iter()
            .enumerate()
            .filter_map(|(i, stage)| stage.needs_message().then_some((i, stage.record()?)))
            .collect();
        // Why each message last failed; one sent in a later round is taken out again.
        let mut unsent: BTreeMap<usize, String> = BTreeMap::new();
        for round in 0..SEND_ROUNDS {
            if pending.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100 << round)).await;
            }
            let messages: Vec<(Envelope, i32)> =
                pending.iter().map(|(_, job)| (envelope(job), job.delay_seconds(now))).collect();
            let failures = self.queues.send_batch_settled(&messages).await;
            for (i, _) in &pending {
                unsent.remove(i);
            }
            let mut again = Vec::new();
            for failure in failures {
                let Some(&(i, job)) = pending.get(failure.index) else { continue };
                let why = match failure.code.as_str() {
                    // Throttled or unavailable: SQS's word for it helps the caller.
                    REQUEST_FAILED if !failure.sender_fault => failure.message,
                    REQUEST_FAILED => {
                        // Refused (access denied names a role and account): for the log only.
                        error!(error = %failure.message, "SendMessageBatch was refused");
                        "the SQS request was refused".to_owned()
                    }
                    code => format!("{code}: {}", failure.message),
                };
                unsent.insert(i, format!("its message was not sent: {why}"));
                if !failure.sender_fault {
                    again.push((i, job));
                }
            }
            pending = again;
        }
        let unsent = &unsent;
        futures::stream::iter(stages.into_iter().enumerate())
            .map(|(i, stage): (usize, Stage)| async move {
                match (stage, unsent.get(&i)) {
                    (Stage::New(job, _), None) => EntryOutcome::Enqueued { job: Box::new(job), new: true },
                    (Stage::Existing(job), None) => EntryOutcome::Enqueued { job: Box::new(job), new: false },
                    (Stage::New(job, receipt), Some(why)) => self.remove_new(job, receipt, why).await,
                    (Stage::Existing(job), Some(why)) => {
                        EntryOutcome::Unsent { job: Box::new(job), new: false, reason: why.clone() }
                    }
                    (Stage::Unwritten(reason) | Stage::InDoubt { reason, .. }, _) => {
                        EntryOutcome::NotCreated { reason }
                    }
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    /// Remove a job this request wrote and will not see through (`why`), as the single enqueue
    /// does when its send fails; a job that cannot be removed stays, and says why.
    async fn remove_new(&self, job: Job, receipt: Option<CreateReceipt>, why: &str) -> EntryOutcome {
        match self.remove_unstarted(&job.id, receipt.as_ref()).await {
            Removal::Removed => EntryOutcome::NotCreated { reason: format!("{why}; removed") },
            // Removed by an earlier try whose answer was lost, or its message went out after all
            // (an answer lost on the way) and a worker took it: the record tells.
            Removal::Gone => match self.store.get(&job.id, true).await {
                Ok(None) => EntryOutcome::NotCreated { reason: format!("{why}; removed") },
                Ok(Some(job)) => EntryOutcome::Enqueued { job: Box::new(job), new: true },
                Err(err) => EntryOutcome::Unknown {
                    reason: format!(
                        "{why}; it was removed or has started, and reading it failed: {}",
                        told(&err)
                    ),
                },
            },
            Removal::Failed(err) => {
                error!(job_id = %job.id, error = %err, "batch job left queued without its message");
                EntryOutcome::Unsent {
                    job: Box::new(job),
                    new: true,
                    reason: format!(
                        "{why}; it could not be removed ({}), so it stays queued and the \
                         scheduler sends its message",
                        told(&err)
                    ),
                }
            }
        }
    }

    /// Remove a job this request wrote: as its create left it, when it has a key.
    async fn remove_unstarted(&self, id: &str, receipt: Option<&CreateReceipt>) -> Removal {
        let removed = match receipt {
            Some(receipt) => self.store.take_back(receipt).await,
            None => self.store.delete_unstarted(id).await,
        };
        match removed {
            Ok(()) => Removal::Removed,
            Err(StoreError::NotFound { .. }) => Removal::Gone,
            Err(err) => Removal::Failed(err),
        }
    }
}
