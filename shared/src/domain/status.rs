//! Job statuses and the one transition function every status change goes through.
//!
//! The DynamoDB store derives the condition of each write from [`JobStatus::sources`], so the
//! rules below are also what DynamoDB enforces when two writers race.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is in its life.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting in its tier queue.
    Queued,
    /// Due later than SQS can delay a message; released to `queued` by the scheduler.
    Scheduled,
    /// Claimed by a worker under a lease.
    Processing,
    /// Failed with a retryable error; its message reappears after a backoff.
    Retrying,
    Completed,
    /// Finished with some steps failed and the rest done.
    Partial,
    Failed,
    Cancelled,
}

/// Something that happens to a job and may change its status.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobEvent {
    /// The scheduler found a `scheduled` job due.
    Release,
    /// A worker (or an external executor) starts a run.
    Claim,
    /// A run succeeded.
    Complete,
    /// A run finished with some steps failed.
    CompletePartially,
    /// A run failed retryably with attempts left: wait for a backoff.
    Backoff,
    /// Attempts spent, fatal error, poison message, or repeated crashes.
    Fail,
    Cancel,
    /// A person or the API asks for another go after a terminal outcome.
    Retry,
    /// A `processing` job whose lease expired with no message left to redeliver it.
    Recover,
}

impl JobStatus {
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Queued,
        JobStatus::Scheduled,
        JobStatus::Processing,
        JobStatus::Retrying,
        JobStatus::Completed,
        JobStatus::Partial,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Processing => "processing",
            JobStatus::Retrying => "retrying",
            JobStatus::Completed => "completed",
            JobStatus::Partial => "partial",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// A terminal job stays as it is until someone retries it.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Partial | JobStatus::Failed | JobStatus::Cancelled)
    }

    /// Whether a worker may start a run from this status (an expired lease on a `processing`
    /// job is checked separately, by time, in the store's claim condition).
    pub fn is_claimable(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Retrying)
    }

    /// The status `event` moves a job in status `self` to, or the refusal.
    pub fn apply(self, event: JobEvent) -> Result<JobStatus, TransitionError> {
        use JobEvent as E;
        use JobStatus as S;
        let to = match (self, event) {
            (S::Scheduled, E::Release) => S::Queued,
            (S::Queued | S::Retrying, E::Claim) => S::Processing,
            (S::Processing, E::Complete) => S::Completed,
            (S::Processing, E::CompletePartially) => S::Partial,
            (S::Processing, E::Backoff) => S::Retrying,
            (S::Processing, E::Recover) => S::Retrying,
            (S::Queued | S::Scheduled | S::Processing | S::Retrying, E::Fail) => S::Failed,
            (S::Queued | S::Scheduled | S::Processing | S::Retrying, E::Cancel) => S::Cancelled,
            (S::Failed | S::Partial | S::Cancelled, E::Retry) => S::Queued,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(to)
    }

    /// Every status from which `event` is allowed: the source states a conditional write expects.
    pub fn sources(event: JobEvent) -> Vec<JobStatus> {
        Self::ALL.into_iter().filter(|s| s.apply(event).is_ok()).collect()
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job status {0:?} (expected one of queued, scheduled, processing, retrying, completed, partial, failed, cancelled)"
)]
pub struct UnknownStatus(pub String);

/// A refused status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} job cannot {event:?}")]
pub struct TransitionError {
    pub from: JobStatus,
    pub event: JobEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobEvent as E;
    use JobStatus as S;

    const EVENTS: [JobEvent; 9] = [
        E::Release,
        E::Claim,
        E::Complete,
        E::CompletePartially,
        E::Backoff,
        E::Fail,
        E::Cancel,
        E::Retry,
        E::Recover,
    ];

    /// The whole table of allowed edges; everything not listed must be refused.
    const ALLOWED: &[(JobStatus, JobEvent, JobStatus)] = &[
        (S::Scheduled, E::Release, S::Queued),
        (S::Queued, E::Claim, S::Processing),
        (S::Retrying, E::Claim, S::Processing),
        (S::Processing, E::Complete, S::Completed),
        (S::Processing, E::CompletePartially, S::Partial),
        (S::Processing, E::Backoff, S::Retrying),
        (S::Processing, E::Recover, S::Retrying),
        (S::Queued, E::Fail, S::Failed),
        (S::Scheduled, E::Fail, S::Failed),
        (S::Processing, E::Fail, S::Failed),
        (S::Retrying, E::Fail, S::Failed),
        (S::Queued, E::Cancel, S::Cancelled),
        (S::Scheduled, E::Cancel, S::Cancelled),
        (S::Processing, E::Cancel, S::Cancelled),
        (S::Retrying, E::Cancel, S::Cancelled),
        (S::Failed, E::Retry, S::Queued),
        (S::Partial, E::Retry, S::Queued),
        (S::Cancelled, E::Retry, S::Queued),
    ];

    #[test]
    fn every_edge_is_allowed_or_refused_as_specified() {
        for from in S::ALL {
            for event in EVENTS {
                let expected =
                    ALLOWED.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to);
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} --{event:?}"),
                    (Err(err), None) => {
                        assert_eq!(err, TransitionError { from, event });
                    }
                    (got, want) => panic!("{from} --{event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_statuses_only_leave_by_retry_and_completed_never() {
        for from in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                let retryable = from != S::Completed && event == E::Retry;
                assert_eq!(from.apply(event).is_ok(), retryable, "{from} {event:?}");
            }
        }
        let terminal: Vec<_> = S::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [S::Completed, S::Partial, S::Failed, S::Cancelled]);
    }

    #[test]
    fn sources_are_derived_from_the_transition_function() {
        assert_eq!(S::sources(E::Claim), [S::Queued, S::Retrying]);
        assert_eq!(S::sources(E::Retry), [S::Partial, S::Failed, S::Cancelled]);
        assert_eq!(S::sources(E::Cancel), [S::Queued, S::Scheduled, S::Processing, S::Retrying]);
        assert_eq!(S::sources(E::Release), [S::Scheduled]);
    }

    #[test]
    fn display_and_from_str_round_trip() {
        for s in S::ALL {
            assert_eq!(s.to_string().parse::<S>(), Ok(s));
            let json = serde_json::to_string(&s).expect("serialize");
            assert_eq!(json, format!("\"{s}\""));
        }
        assert_eq!("done".parse::<S>(), Err(UnknownStatus("done".to_owned())));
    }
}
