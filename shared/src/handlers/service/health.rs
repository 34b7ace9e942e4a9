//! What `GET /health` answers when every dependency does.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::priority::PriorityTier;

/// The deployment's resources, each found answering.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub table: String,
    /// Each tier's queue, by name.
    pub queues: BTreeMap<PriorityTier, String>,
    /// Each tier's dead-letter queue, by name.
    pub dlqs: BTreeMap<PriorityTier, String>,
    pub bucket: Option<String>,
    pub version: &'static str,
}

/// A health answer is only ever `ok`: a dependency that does not answer makes it a 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
}
