//! Exit codes: how a command ended, for scripts. `--wait` and `watch` report the most severe way a
//! job ended: failed, then partial, then cancelled.

use std::collections::BTreeMap;

use jobq::JobStatus;

use crate::client::CliError;

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CANCELLED: u8 = 3;
pub const EXIT_PARTIAL: u8 = 4;
pub const EXIT_API: u8 = 5;

/// The codes as `--help` lists them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done; with --wait or watch, every job completed
  1  a job failed (the most severe outcome wins: failed, then partial, then cancelled)
  2  usage error: a bad flag, argument or payload
  3  a job was cancelled
  4  a job ended partial
  5  the API was unreachable, refused the credentials or refused the request";

/// Pure: the exit code for an error: 2 for bad usage, 5 when the API could not be reached or
/// refused the request (its credentials or its content).
pub fn error_exit_code(err: &CliError) -> u8 {
    match err {
        CliError::Usage(_) => EXIT_USAGE,
        CliError::Client(_) => EXIT_API,
    }
}

/// How severe an outcome is, and its exit code: a status this CLI does not know (`None`), or
/// one that has not ended, counts as failed.
fn severity(status: Option<JobStatus>) -> (u8, u8) {
    match status {
        Some(JobStatus::Completed) => (0, 0),
        Some(JobStatus::Cancelled) => (1, EXIT_CANCELLED),
        Some(JobStatus::Partial) => (2, EXIT_PARTIAL),
        _ => (3, EXIT_FAILED),
    }
}

/// Pure: the exit code for how a set of jobs ended: the most severe outcome (failed, then
/// partial, then cancelled); 0 when all completed, or there were none.
pub fn exit_code_for(outcomes: impl IntoIterator<Item = Option<JobStatus>>) -> u8 {
    outcomes.into_iter().map(severity).max().map_or(0, |(_, code)| code)
}

/// Pure: the exit code for a batch's counts by status; a status with no jobs does not count.
pub fn batch_exit_code(counts: &BTreeMap<JobStatus, usize>) -> u8 {
    exit_code_for(counts.iter().filter(|(_, n)| **n != 0).map(|(status, _)| Some(*status)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobq_client::ClientError;

    #[test]
    fn exit_codes_say_how_jobs_ended() {
        use JobStatus::{Cancelled, Completed, Failed, Partial, Processing};
        assert_eq!(exit_code_for([]), 0);
        assert_eq!(exit_code_for([Some(Completed), Some(Completed)]), 0);
        assert_eq!(exit_code_for([Some(Failed)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Cancelled)]), EXIT_CANCELLED);
        assert_eq!(exit_code_for([Some(Partial)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([None]), EXIT_FAILED, "an unknown status is no success");
        assert_eq!(exit_code_for([Some(Processing)]), EXIT_FAILED, "nor is one not ended");
        // The most severe wins, whatever the order: failed, then partial, then cancelled.
        assert_eq!(exit_code_for([Some(Partial), Some(Failed), Some(Completed)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Failed), Some(Partial)]), EXIT_FAILED);
        assert_eq!(exit_code_for([Some(Cancelled), Some(Partial)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([Some(Partial), Some(Cancelled), Some(Completed)]), EXIT_PARTIAL);
        assert_eq!(exit_code_for([Some(Completed), Some(Cancelled)]), EXIT_CANCELLED);
        let counts = |pairs: &[(JobStatus, usize)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert_eq!(batch_exit_code(&counts(&[(Completed, 3), (Failed, 0)])), 0, "no jobs, no say");
        assert_eq!(batch_exit_code(&counts(&[(Failed, 1), (Partial, 2)])), EXIT_FAILED);
        assert_eq!(batch_exit_code(&counts(&[(Cancelled, 1), (Partial, 1)])), EXIT_PARTIAL);
    }

    #[test]
    fn errors_exit_2_for_usage_and_5_for_the_api() {
        assert_eq!(error_exit_code(&CliError::Usage("bad".into())), EXIT_USAGE);
        let unsigned = CliError::from(ClientError::Signing("no credentials".into()));
        assert_eq!(error_exit_code(&unsigned), EXIT_API);
        let refused =
            ClientError::Api { status: 403, code: "forbidden".into(), message: "no".into(), field: None };
        assert_eq!(error_exit_code(&CliError::from(refused)), EXIT_API);
    }
}
