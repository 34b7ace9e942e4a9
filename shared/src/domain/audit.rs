//! Who did what to a job, and when: kept on its record by the same write that does it (no write
//! of its own), and shown in the API's job.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::rfc3339;

/// A change a caller made, by its owner name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mark {
    /// The caller's owner name (`jobq:…` for jobq's own parts).
    pub by: String,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
}

impl Mark {
    pub fn new(by: &str, at: DateTime<Utc>) -> Mark {
        Mark { by: by.to_owned(), at }
    }
}

/// A job's audit trail: who enqueued it, and the last cancel, retry and report (`PATCH`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Audit {
    /// Who enqueued it: its owner, an admin enqueuing for the owner, or one of jobq's parts (a
    /// pipeline's step names who enqueued the pipeline). None on a job from before audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Mark>,
    /// The last retry (a job retried twice shows the second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<Mark>,
    /// The last report (`PATCH /jobs/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patched: Option<Mark>,
}
