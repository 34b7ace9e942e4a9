//! What a batch reports (`POST /jobs/batch`): job by job, whether each exists and why not, and
//! the verdict the caller acts on, with a message that says what to send again.

use std::fmt;

use crate::domain::model::Job;

/// What became of one job of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryOutcome {
    /// The job exists and is on its way: its message was sent, or it waits `scheduled`, or it is
    /// the job its idempotency key made earlier (`new` is false then).
    Enqueued { job: Box<Job>, new: bool },
    /// The job exists, `queued`, but its message was not sent (and, when `new`, its record could
    /// not be removed): the scheduler sends the message of a job left waiting like this.
    Unsent { job: Box<Job>, new: bool, reason: String },
    /// There is no such job: never written, or removed again.
    NotCreated { reason: String },
    /// Its write failed and the record could be neither removed nor ruled out: it may exist.
    Unknown { reason: String },
}

impl EntryOutcome {
    /// Whether the job exists: `None` when that is not known.
    pub fn exists(&self) -> Option<bool> {
        match self {
            EntryOutcome::Enqueued { .. } | EntryOutcome::Unsent { .. } => Some(true),
            EntryOutcome::NotCreated { .. } => Some(false),
            EntryOutcome::Unknown { .. } => None,
        }
    }

    /// The job, when it exists.
    pub fn job(&self) -> Option<&Job> {
        match self {
            EntryOutcome::Enqueued { job, .. } | EntryOutcome::Unsent { job, .. } => Some(job),
            EntryOutcome::NotCreated { .. } | EntryOutcome::Unknown { .. } => None,
        }
    }

    /// Why it was not enqueued.
    pub fn reason(&self) -> Option<&str> {
        match self {
            EntryOutcome::Enqueued { .. } => None,
            EntryOutcome::Unsent { reason, .. }
            | EntryOutcome::NotCreated { reason }
            | EntryOutcome::Unknown { reason } => Some(reason),
        }
    }

    /// This request made the job and it was kept.
    pub(super) fn kept_new(&self) -> bool {
        matches!(self, EntryOutcome::Enqueued { new: true, .. } | EntryOutcome::Unsent { new: true, .. })
    }
}

/// One job of a batch: its place in the request, the id it was given, what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryReport {
    pub index: usize,
    pub id: String,
    /// With a key, sending the entry again is safe whatever became of it.
    pub keyed: bool,
    pub outcome: EntryOutcome,
}

/// What the caller of a batch is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchVerdict {
    /// Every job exists and is on its way.
    Complete,
    /// This request left no job behind, and none in doubt but ones with idempotency keys: the
    /// same request may be sent again and makes one job per entry.
    NothingCreated,
    /// Some jobs exist and others do not (or may not): each entry says which.
    Partial,
}

/// Pure: the verdict on a batch whose entries came to `entries`.
pub fn verdict(entries: &[EntryReport]) -> BatchVerdict {
    if entries.iter().all(|e| matches!(e.outcome, EntryOutcome::Enqueued { .. })) {
        BatchVerdict::Complete
    } else if entries.iter().any(|e| e.outcome.kept_new() || (e.outcome.exists().is_none() && !e.keyed)) {
        BatchVerdict::Partial
    } else {
        BatchVerdict::NothingCreated
    }
}

/// Every job of a batch that was not enqueued whole, job by job.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    pub batch_id: String,
    pub entries: Vec<EntryReport>,
}

impl BatchReport {
    pub fn verdict(&self) -> BatchVerdict {
        verdict(&self.entries)
    }

    fn count(&self, exists: Option<bool>) -> usize {
        self.entries.iter().filter(|e| e.outcome.exists() == exists).count()
    }
}

/// A message for people: what happened, and what to send again.
impl fmt::Display for BatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.entries.len();
        let first = self.entries.iter().find_map(|e| e.outcome.reason()).unwrap_or("no reason given");
        let (exist, absent, unknown) = (self.count(Some(true)), self.count(Some(false)), self.count(None));
        match self.verdict() {
            BatchVerdict::Complete => write!(f, "all {total} jobs were enqueued"),
            BatchVerdict::NothingCreated => {
                write!(f, "the batch was not created ({first}): this request left no job behind")?;
                if exist + unknown > 0 {
                    write!(
                        f,
                        " but the {} whose idempotency_key already had (or may have) a job",
                        exist + unknown
                    )?;
                }
                write!(f, "; send the same request again")
            }
            BatchVerdict::Partial => {
                write!(f, "{exist} of {total} jobs exist and will run, {absent} not created")?;
                if unknown > 0 {
                    write!(f, ", {unknown} may exist")?;
                }
                write!(f, " ({first}); send again only the entries whose outcome is not_created")?;
                if unknown > 0 {
                    write!(
                        f,
                        ", and an unknown one after GET /jobs/{{id}} finds no job (or with an idempotency_key)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;

    fn entry(index: usize, keyed: bool, outcome: EntryOutcome) -> EntryReport {
        EntryReport { index, id: format!("j{index}"), keyed, outcome }
    }

    fn job() -> Box<Job> {
        let now = crate::domain::model::parse_time("2026-01-01T00:00:00Z").expect("time");
        Box::new(Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, now))
    }

    fn enqueued(new: bool) -> EntryOutcome {
        EntryOutcome::Enqueued { job: job(), new }
    }

    fn unsent(new: bool) -> EntryOutcome {
        EntryOutcome::Unsent { job: job(), new, reason: "SQS down; DynamoDB down".into() }
    }

    fn absent() -> EntryOutcome {
        EntryOutcome::NotCreated { reason: "SQS down; removed".into() }
    }

    fn unknown() -> EntryOutcome {
        EntryOutcome::Unknown { reason: "DynamoDB down".into() }
    }

    fn verdict_of(outcomes: Vec<(bool, EntryOutcome)>) -> BatchVerdict {
        let entries: Vec<EntryReport> =
            outcomes.into_iter().enumerate().map(|(i, (keyed, o))| entry(i, keyed, o)).collect();
        verdict(&entries)
    }

    #[test]
    fn a_batch_is_complete_only_when_every_job_is_enqueued() {
        use BatchVerdict::{Complete, NothingCreated, Partial};
        // Each case: its name, (keyed, outcome) per entry, the verdict.
        type Case = (&'static str, Vec<(bool, EntryOutcome)>, BatchVerdict);
        let cases: Vec<Case> = vec![
            (
                "all enqueued, one by its key",
                vec![(false, enqueued(true)), (true, enqueued(false))],
                Complete,
            ),
            ("nothing kept", vec![(false, absent()), (false, absent())], NothingCreated),
            (
                "a key's earlier job is not this request's",
                vec![(true, enqueued(false)), (false, absent())],
                NothingCreated,
            ),
            (
                "nor is one whose message failed again",
                vec![(true, unsent(false)), (false, absent())],
                NothingCreated,
            ),
            (
                "a keyed job in doubt is safe to send again",
                vec![(true, unknown()), (false, absent())],
                NothingCreated,
            ),
            ("some sent, some not", vec![(false, enqueued(true)), (false, absent())], Partial),
            ("one kept without its message", vec![(false, unsent(true)), (false, absent())], Partial),
            ("a keyless job in doubt", vec![(false, unknown()), (false, absent())], Partial),
            (
                "kept but unsent is not complete",
                vec![(false, enqueued(true)), (false, unsent(true))],
                Partial,
            ),
        ];
        for (name, outcomes, want) in cases {
            assert_eq!(verdict_of(outcomes), want, "{name}");
        }
    }

    #[test]
    fn the_message_says_what_to_send_again() {
        let report = |outcomes: Vec<(bool, EntryOutcome)>| BatchReport {
            batch_id: "b".into(),
            entries: outcomes.into_iter().enumerate().map(|(i, (k, o))| entry(i, k, o)).collect(),
        };
        let nothing = report(vec![(false, absent()), (false, absent())]).to_string();
        assert!(
            nothing.contains("SQS down; removed") && nothing.ends_with("send the same request again"),
            "{nothing}"
        );
        let partial =
            report(vec![(false, enqueued(true)), (false, absent()), (false, unknown())]).to_string();
        assert!(
            partial.starts_with("1 of 3 jobs exist and will run, 1 not created, 1 may exist"),
            "{partial}"
        );
        assert!(partial.contains("only the entries whose outcome is not_created"), "{partial}");
        assert_eq!(
            [enqueued(true), unsent(true), absent(), unknown()].map(|o| o.exists()),
            [Some(true), Some(true), Some(false), None]
        );
    }
}
