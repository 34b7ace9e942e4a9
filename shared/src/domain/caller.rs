//! Who is asking, and what they may do: every API request has a caller (an owner and a role),
//! and jobq's own parts act as named system callers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a caller may do, whoever's jobs it touches (see [`Caller::sees`] for whose).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, on every job.
    Admin,
    /// Enqueue; see, list, cancel and retry its own jobs.
    Submitter,
    /// Read everything; change nothing.
    Viewer,
    /// Run jobs: read them and report their progress.
    Executor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Submitter, Role::Viewer, Role::Executor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Submitter => "submitter",
            Role::Viewer => "viewer",
            Role::Executor => "executor",
        }
    }

    /// Pure: whether this role may do `action` at all.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            _ if action == WhoAmI => true,
            Role::Submitter => matches!(action, Enqueue | Read | List | Cancel | Retry | ReadBatch),
            Role::Viewer => matches!(action, Read | List | ReadBatch | ReadStats | ReadPauses),
            Role::Executor => matches!(action, Read | Report),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role {0:?} is not one of admin, submitter, viewer, executor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// What a request does, as the roles are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Enqueue,
    /// Enqueue for another owner (a web backend for its user).
    EnqueueOnBehalf,
    /// Read one job (and watch it).
    Read,
    List,
    Cancel,
    Retry,
    /// Retry every failed job at once.
    RetryAll,
    /// Report a job's progress or result (`PATCH /jobs/{id}`).
    Report,
    ReadBatch,
    ReadStats,
    ReadPauses,
    Pause,
    /// Ask who the API takes it for.
    WhoAmI,
}

impl Action {
    /// Whether it changes jobs or pauses (and so is audited), rather than reading.
    pub fn changes(self) -> bool {
        use Action::*;
        matches!(self, Enqueue | EnqueueOnBehalf | Cancel | Retry | RetryAll | Report | Pause)
    }

    /// What the action is, in words, for a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Enqueue => "enqueue jobs",
            Action::EnqueueOnBehalf => "enqueue jobs for another owner",
            Action::Read => "read jobs",
            Action::List => "list jobs",
            Action::Cancel => "cancel jobs",
            Action::Retry => "retry jobs",
            Action::RetryAll => "retry every failed job",
            Action::Report => "report on jobs",
            Action::ReadBatch => "read batches",
            Action::ReadStats => "read statistics",
            Action::ReadPauses => "read pauses",
            Action::Pause => "pause or resume",
            Action::WhoAmI => "ask who it is",
        }
    }
}

/// Owner names starting with this are jobq's own; no caller outside jobq may hold one.
pub const SYSTEM_PREFIX: &str = "jobq:";

/// The parts of jobq that create jobs themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemCaller {
    /// An S3 upload's job.
    Ingest,
    /// A recurring schedule's runs and due jobs.
    Scheduler,
}

impl SystemCaller {
    pub fn owner(self) -> &'static str {
        match self {
            SystemCaller::Ingest => "jobq:ingest",
            SystemCaller::Scheduler => "jobq:scheduler",
        }
    }
}

/// The owner of jobs enqueued through an API that asks for no credentials.
pub const ANONYMOUS_OWNER: &str = "anonymous";

/// The longest owner name (a JWT `sub`, an IAM ARN, a token's owner).
pub const MAX_OWNER_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("an owner name is 1 to {MAX_OWNER_CHARS} characters")]
    Length,
    #[error("an owner name holds no control characters")]
    Control,
    #[error("owner names starting with {SYSTEM_PREFIX:?} are jobq's own")]
    Reserved,
}

/// Pure: whether `owner` may name a caller outside jobq.
pub fn check_owner(owner: &str) -> Result<(), OwnerError> {
    if owner.is_empty() || owner.chars().count() > MAX_OWNER_CHARS {
        Err(OwnerError::Length)
    } else if owner.chars().any(char::is_control) {
        Err(OwnerError::Control)
    } else if owner.starts_with(SYSTEM_PREFIX) {
        Err(OwnerError::Reserved)
    } else {
        Ok(())
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Caller {
    pub owner: String,
    pub role: Role,
}

impl Caller {
    /// A caller from outside jobq; its owner name must pass [`check_owner`].
    pub fn new(owner: impl Into<String>, role: Role) -> Result<Caller, OwnerError> {
        let owner = owner.into();
        check_owner(&owner)?;
        Ok(Caller { owner, role })
    }

    /// One of jobq's own parts, with every right.
    pub fn system(part: SystemCaller) -> Caller {
        Caller { owner: part.owner().to_owned(), role: Role::Admin }
    }

    /// The caller of an API with no authentication at all (a local stack): one admin.
    pub fn anonymous() -> Caller {
        Caller { owner: ANONYMOUS_OWNER.to_owned(), role: Role::Admin }
    }

    /// Pure: whether this caller sees a job `owner` holds (a job from before owners, `None`,
    /// is seen only by those who see every job). A job it does not see is, to it, no job.
    pub fn sees(&self, owner: Option<&str>) -> bool {
        self.sees_all() || owner == Some(self.owner.as_str())
    }

    /// Whether it sees every owner's jobs.
    pub fn sees_all(&self) -> bool {
        !matches!(self.role, Role::Submitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_does_what_its_name_says() {
        use Action::*;
        let all = [
            Enqueue,
            EnqueueOnBehalf,
            Read,
            List,
            Cancel,
            Retry,
            RetryAll,
            Report,
            ReadBatch,
            ReadStats,
            ReadPauses,
            Pause,
            WhoAmI,
        ];
        assert!(all.iter().all(|a| Role::Admin.allows(*a)));
        let may = |role: Role| all.iter().copied().filter(|a| role.allows(*a)).collect::<Vec<_>>();
        assert_eq!(may(Role::Submitter), [Enqueue, Read, List, Cancel, Retry, ReadBatch, WhoAmI]);
        assert_eq!(may(Role::Viewer), [Read, List, ReadBatch, ReadStats, ReadPauses, WhoAmI]);
        assert_eq!(may(Role::Executor), [Read, Report, WhoAmI]);
        for writes in [Enqueue, EnqueueOnBehalf, Cancel, Retry, RetryAll, Report, Pause] {
            assert!(!Role::Viewer.allows(writes), "a viewer cannot {writes:?}");
        }
        assert!(!Role::Submitter.allows(EnqueueOnBehalf), "only an admin enqueues for another owner");
        let changing: Vec<Action> = all.iter().copied().filter(|a| a.changes()).collect();
        assert_eq!(changing, [Enqueue, EnqueueOnBehalf, Cancel, Retry, RetryAll, Report, Pause]);
    }

    #[test]
    fn a_submitter_sees_only_its_own_jobs() {
        let alice = Caller::new("alice", Role::Submitter).expect("alice");
        assert!(alice.sees(Some("alice")));
        assert!(!alice.sees(Some("bob")));
        assert!(!alice.sees(None), "a job from before owners is nobody's to a submitter");
        assert!(!alice.sees(Some(SystemCaller::Scheduler.owner())));
        let vera = Caller::new("vera", Role::Viewer).expect("vera");
        assert!(vera.sees(Some("bob")) && vera.sees(None));
    }

    #[test]
    fn owner_names_are_checked_and_system_names_reserved() {
        assert_eq!(Caller::new("", Role::Admin), Err(OwnerError::Length));
        assert_eq!(Caller::new("x".repeat(MAX_OWNER_CHARS + 1), Role::Admin), Err(OwnerError::Length));
        assert!(Caller::new("x".repeat(MAX_OWNER_CHARS), Role::Admin).is_ok());
        assert_eq!(Caller::new("a\nb", Role::Admin), Err(OwnerError::Control));
        assert_eq!(Caller::new("jobq:scheduler", Role::Admin), Err(OwnerError::Reserved));
        let system = Caller::system(SystemCaller::Ingest);
        assert!(system.owner.starts_with(SYSTEM_PREFIX) && system.sees_all());
        assert!(!Caller::anonymous().owner.starts_with(SYSTEM_PREFIX));
    }

    #[test]
    fn roles_read_as_they_are_written() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).ok(), Some(serde_json::json!(role.as_str())));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
    }
}
