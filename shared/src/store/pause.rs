//! Pause flags: all jobs, one tier's queue, or one job type; and their item in the table
//! (`pause`), read and changed here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::attrs::PAUSE_SCOPES;
use super::codec::{Item, json};
use super::keys::PAUSE_PK;
use super::write::aws;
use super::{JobStore, StoreError};
use crate::domain::priority::PriorityTier;
use crate::ports::table::{Action, Attr, Update};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PauseScope {
    All,
    Queue(PriorityTier),
    Type(String),
}

impl fmt::Display for PauseScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseScope::All => f.write_str("all"),
            PauseScope::Queue(tier) => write!(f, "queue:{tier}"),
            PauseScope::Type(job_type) => write!(f, "type:{job_type}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope {0:?} is not one of \"all\", \"queue:<high|normal|low>\", \"type:<job type>\"")]
pub struct PauseScopeError(pub String);

impl FromStr for PauseScope {
    type Err = PauseScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PauseScopeError(s.to_owned());
        match s.split_once(':') {
            None if s == "all" => Ok(PauseScope::All),
            Some(("queue", tier)) => tier.parse().map(PauseScope::Queue).map_err(|_| bad()),
            Some(("type", job_type)) if !job_type.is_empty() => Ok(PauseScope::Type(job_type.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl Serialize for PauseScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A string, as its `Serialize` and `Deserialize` write and read it (by hand, so is this).
impl PartialSchema for PauseScope {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("all, queue:<high|normal|low> or type:<job type>"))
            .examples(["all", "queue:high", "type:resize"])
            .into()
    }
}

impl ToSchema for PauseScope {}

impl<'de> Deserialize<'de> for PauseScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The scopes paused right now, and who last paused or resumed each scope, when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PauseFlags {
    pub paused: BTreeSet<PauseScope>,
    /// By scope: its last pause or resume.
    #[serde(default)]
    pub changes: BTreeMap<String, PauseChange>,
}

/// A pause or resume of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PauseChange {
    pub paused: bool,
    /// The caller's owner name.
    pub by: String,
    #[serde(with = "crate::domain::model::rfc3339")]
    pub at: DateTime<Utc>,
}

/// The attribute of the pause item keeping a scope's last change (JSON).
fn change_attribute(scope: &PauseScope) -> String {
    format!("{CHANGE_PREFIX}{scope}")
}

const CHANGE_PREFIX: &str = "change#";

impl PauseFlags {
    pub fn is_paused(&self, tier: PriorityTier, job_type: &str) -> bool {
        self.paused.iter().any(|scope| match scope {
            PauseScope::All => true,
            PauseScope::Queue(t) => *t == tier,
            PauseScope::Type(t) => t == job_type,
        })
    }
}

impl JobStore {
    /// The pause flags, read eventually consistent (0.5 RCU): a pause that just answered may be
    /// missing. For display and for the scheduler's release, which looks again next run.
    pub async fn pause_flags(&self) -> Result<PauseFlags, StoreError> {
        self.read_pause_flags(false).await
    }

    /// The pause flags, read strongly consistent (1 RCU): every pause or resume that answered
    /// before the read is in them. What the worker judges deliveries by.
    pub async fn pause_flags_now(&self) -> Result<PauseFlags, StoreError> {
        self.read_pause_flags(true).await
    }

    async fn read_pause_flags(&self, consistent: bool) -> Result<PauseFlags, StoreError> {
        let item = self.table.get(PAUSE_PK, consistent).await.map_err(|e| aws("GetItem(pause)", e))?;
        Ok(flags_from(item.as_ref()))
    }

    /// Pause (`paused = true`) or resume one scope, `by` a caller at `now` (kept on the item, in
    /// the same write); returns the flags after the change.
    pub async fn set_paused(
        &self,
        scope: &PauseScope,
        paused: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<PauseFlags, StoreError> {
        let scopes = vec![scope.to_string()];
        let action = match paused {
            true => Action::AddToSet(PAUSE_SCOPES.into(), scopes),
            false => Action::DeleteFromSet(PAUSE_SCOPES.into(), scopes),
        };
        let change = PauseChange { paused, by: by.to_owned(), at: now };
        let change = Action::Set(change_attribute(scope), json(&change));
        let update = Update::new(vec![action, change]);
        let item =
            self.table.update(PAUSE_PK, &update, None).await.map_err(|e| aws("UpdateItem(pause)", e))?;
        Ok(flags_from(item.as_ref()))
    }
}

/// The flags its item holds (none when there is no item); a scope that no longer parses is
/// skipped, with a warning.
fn flags_from(item: Option<&Item>) -> PauseFlags {
    let scopes = match item.and_then(|i| i.get(PAUSE_SCOPES)) {
        Some(Attr::Ss(scopes)) => scopes.as_slice(),
        _ => &[],
    };
    let changes = item.into_iter().flatten().filter_map(|(name, value)| {
        let scope = name.strip_prefix(CHANGE_PREFIX)?;
        let change = serde_json::from_str(value.as_str()?).ok()?;
        Some((scope.to_owned(), change))
    });
    PauseFlags {
        paused: scopes
            .iter()
            .filter_map(|s| {
                s.parse().map_err(|e| tracing::warn!(error = %e, "ignoring stored pause scope")).ok()
            })
            .collect(),
        changes: changes.collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        for text in ["all", "queue:high", "queue:low", "type:resize-image"] {
            assert_eq!(text.parse::<PauseScope>().map(|s| s.to_string()).as_deref(), Ok(text));
        }
        for bad in ["", "queue:urgent", "type:", "everything", "all:x"] {
            assert!(bad.parse::<PauseScope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_match_by_scope() {
        let mut flags = PauseFlags::default();
        assert!(!flags.is_paused(PriorityTier::High, "noop"));
        flags.paused.insert(PauseScope::Queue(PriorityTier::Low));
        flags.paused.insert(PauseScope::Type("resize".into()));
        assert!(flags.is_paused(PriorityTier::Low, "noop"));
        assert!(flags.is_paused(PriorityTier::High, "resize"));
        assert!(!flags.is_paused(PriorityTier::High, "noop"));
        flags.paused.insert(PauseScope::All);
        assert!(flags.is_paused(PriorityTier::High, "noop"));
    }
}
