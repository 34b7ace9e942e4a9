//! What a running handler sees: its job, progress reporting (coalesced), and cancellation.
//!
//! At most one progress write per job per interval: a report inside the interval is kept as
//! pending, written by the worker's ticker once the interval has passed, or folded into the final
//! write that ends the run. A refused progress write means the job was cancelled (or taken over):
//! the handler's next `progress` call returns [`JobError::cancelled`] and it should stop.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::job_error::JobError;
use crate::domain::model::Job;
use crate::domain::progress::{ProgressError, ProgressUpdate, ProgressWriter};

#[derive(Debug, Default)]
struct State {
    last_write: Option<Instant>,
    pending: Option<ProgressUpdate>,
}

pub struct JobContext {
    job: Job,
    writer: Box<dyn ProgressWriter>,
    interval: Duration,
    state: Mutex<State>,
    cancelled: AtomicBool,
    writes: AtomicU32,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("job_id", &self.job.id)
            .field("attempt", &self.job.attempts)
            .finish()
    }
}

impl JobContext {
    pub fn new(job: Job, writer: impl ProgressWriter + 'static, interval: Duration) -> Self {
        JobContext {
            job,
            writer: Box::new(writer),
            interval,
            state: Mutex::default(),
            cancelled: AtomicBool::new(false),
            writes: AtomicU32::new(0),
        }
    }

    /// The job as claimed for this run.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// This run's attempt number, 1-based.
    pub fn attempt(&self) -> u32 {
        self.job.attempts
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Progress writes this run has made so far.
    pub fn writes(&self) -> u32 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Report progress (0..=100), optionally the current step and a message.
    pub async fn progress(
        &self,
        percent: u8,
        step: Option<&str>,
        message: Option<&str>,
    ) -> Result<(), JobError> {
        if self.is_cancelled() {
            return Err(JobError::cancelled());
        }
        let update = ProgressUpdate {
            percent: percent.min(100),
            step: step.map(str::to_owned),
            message: message.map(str::to_owned),
        };
        let due = {
            let mut state = self.lock();
            let merged = merge(state.pending.take(), update);
            if state.last_write.is_some_and(|at| at.elapsed() < self.interval) {
                state.pending = Some(merged);
                None
            } else {
                state.last_write = Some(Instant::now());
                Some(merged)
            }
        };
        match due {
            Some(update) => self.write(update).await,
            None => Ok(()),
        }
    }

    /// Report progress within weighted stages: `fraction` (0..=1) of `stage` done.
    pub async fn stage_progress(
        &self,
        stages: &Stages,
        stage: &str,
        fraction: f64,
        message: Option<&str>,
    ) -> Result<(), JobError> {
        let percent = stages
            .percent(stage, fraction)
            .ok_or_else(|| JobError::fatal(format!("unknown stage {stage:?}")))?;
        self.progress(percent, Some(stage), message).await
    }

    /// Write the pending report if the interval has passed (called by the worker's ticker).
    pub async fn flush_if_due(&self) -> Result<(), JobError> {
        let due = {
            let mut state = self.lock();
            match state.last_write {
                Some(at) if at.elapsed() < self.interval => None,
                _ => state.pending.take().inspect(|_| state.last_write = Some(Instant::now())),
            }
        };
        match due {
            Some(update) => self.write(update).await,
            None => Ok(()),
        }
    }

    /// The report not yet written: the worker folds it into the write that ends the run.
    pub fn take_pending(&self) -> Option<ProgressUpdate> {
        self.lock().pending.take()
    }

    async fn write(&self, update: ProgressUpdate) -> Result<(), JobError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        match self.writer.write(&self.job, &update).await {
            Ok(()) => Ok(()),
            Err(ProgressError::Refused { .. }) => {
                self.cancelled.store(true, Ordering::Relaxed);
                Err(JobError::cancelled())
            }
            Err(err @ ProgressError::Failed(_)) => {
                // Progress is advisory: a failed write is retried with the next report.
                tracing::warn!(error = %err, "progress write failed");
                let mut state = self.lock();
                state.pending = Some(merge(Some(update), state.pending.take().unwrap_or_default()));
                Ok(())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A newer report over an older one: step and message carry over unless replaced.
fn merge(older: Option<ProgressUpdate>, newer: ProgressUpdate) -> ProgressUpdate {
    match older {
        None => newer,
        Some(older) => ProgressUpdate {
            percent: newer.percent.max(older.percent),
            step: newer.step.or(older.step),
            message: newer.message.or(older.message),
        },
    }
}

/// Weighted stages, e.g. `[("extract", 20), ("segment", 15), ("analyse", 40), ("publish", 25)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    stages: Vec<(String, u32)>,
    total: u32,
}

impl Stages {
    pub fn new(stages: &[(&str, u32)]) -> Self {
        Stages {
            stages: stages.iter().map(|(name, weight)| (name.to_string(), *weight)).collect(),
            total: stages.iter().map(|(_, w)| w).sum(),
        }
    }

    /// Overall percent with `fraction` of `stage` done; `None` for an unknown stage.
    pub fn percent(&self, stage: &str, fraction: f64) -> Option<u8> {
        let index = self.stages.iter().position(|(name, _)| name == stage)?;
        if self.total == 0 {
            return Some(0);
        }
        let before: u32 = self.stages[..index].iter().map(|(_, w)| w).sum();
        let done = f64::from(before) + f64::from(self.stages[index].1) * fraction.clamp(0.0, 1.0);
        Some((done * 100.0 / f64::from(self.total)).floor() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;
    use crate::domain::progress::BoxFuture;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<ProgressUpdate>>>,
        refuse: Arc<AtomicBool>,
    }

    impl ProgressWriter for Recorder {
        fn write<'a>(
            &'a self,
            run: &'a Job,
            update: &'a ProgressUpdate,
        ) -> BoxFuture<'a, Result<(), ProgressError>> {
            Box::pin(async move {
                if self.refuse.load(Ordering::Relaxed) {
                    return Err(ProgressError::Refused { id: run.id.clone() });
                }
                self.writes.lock().expect("lock").push(update.clone());
                Ok(())
            })
        }
    }

    fn context(recorder: &Recorder) -> JobContext {
        let mut job = Job::new(NewJob { job_type: "sleep".into(), ..NewJob::default() }, chrono::Utc::now());
        job.attempts = 1;
        JobContext::new(job, recorder.clone(), Duration::from_secs(1))
    }

    #[tokio::test(start_paused = true)]
    async fn a_chatty_handler_writes_once_per_interval() {
        let recorder = Recorder::default();
        let ctx = context(&recorder);
        // 100 reports over 5 seconds.
        for i in 1..=100u8 {
            ctx.progress(i, Some(&format!("step {i}")), None).await.expect("progress");
            tokio::time::advance(Duration::from_millis(50)).await;
            ctx.flush_if_due().await.expect("flush");
        }
        let writes = recorder.writes.lock().expect("lock").clone();
        assert!((5..=6).contains(&writes.len()), "one write per second, got {}", writes.len());
        assert_eq!(writes[0].percent, 1, "the first report is written at once");
        assert!(writes.windows(2).all(|w| w[0].percent < w[1].percent));
        let pending = ctx.take_pending();
        let last_written = writes.last().map(|w| w.percent).unwrap_or_default();
        match pending {
            Some(p) => assert_eq!((p.percent, p.step.as_deref()), (100, Some("step 100"))),
            None => assert_eq!(last_written, 100),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_write_means_cancelled() {
        let recorder = Recorder::default();
        let ctx = context(&recorder);
        ctx.progress(10, None, None).await.expect("first write");
        recorder.refuse.store(true, Ordering::Relaxed);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(ctx.progress(20, None, None).await, Err(JobError::cancelled()));
        assert!(ctx.is_cancelled());
        assert_eq!(ctx.progress(30, None, None).await, Err(JobError::cancelled()), "no more writes");
        assert_eq!(ctx.writes(), 2);
    }

    #[test]
    fn stages_weight_the_overall_percent() {
        let stages = Stages::new(&[("extract", 20), ("segment", 15), ("analyse", 40), ("publish", 25)]);
        assert_eq!(stages.percent("extract", 0.0), Some(0));
        assert_eq!(stages.percent("extract", 0.5), Some(10));
        assert_eq!(stages.percent("segment", 1.0), Some(35));
        assert_eq!(stages.percent("analyse", 0.5), Some(55));
        assert_eq!(stages.percent("publish", 1.0), Some(100));
        assert_eq!(stages.percent("publish", 3.0), Some(100));
        assert_eq!(stages.percent("upload", 0.5), None);
    }

    #[test]
    fn merging_keeps_the_latest_step() {
        let older = ProgressUpdate { percent: 40, step: Some("a".into()), message: Some("m".into()) };
        let newer = ProgressUpdate { percent: 50, step: None, message: Some("n".into()) };
        let merged = merge(Some(older), newer);
        assert_eq!(
            (merged.percent, merged.step.as_deref(), merged.message.as_deref()),
            (50, Some("a"), Some("n"))
        );
    }
}
