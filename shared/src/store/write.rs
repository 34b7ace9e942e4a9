//! The one conditional-write helper of the job store: a typed update and condition built by the
//! store's operations, sent through the table port with a write token, and a refusal explained
//! from the item DynamoDB returns with it.
//!
//! Every write to a job item also stores a fresh write token. A request whose response was lost (a
//! dropped connection, a timeout) is sent again with the same token; if the first send took
//! effect, the second's condition fails and the item it returns carries our token: the write is
//! ours, not a refusal. Without this, a claim whose response was lost looked like another run's
//! lease, and a finish like someone else's change.

use chrono::{DateTime, Utc};

use super::attrs::{
    CURRENT_STEP, GENERATION, LEASE, MESSAGE, PROGRESS, RECOVERED_RUN, RUN, STATUS, WRITE_TOKEN,
};
use super::codec::{self, Item, n, s};
use super::keys::{self, BY_DUE, BY_STATUS, Watch};
use super::{JobStore, StoreError};
use crate::domain::model::Job;
use crate::domain::progress::ProgressUpdate;
use crate::domain::status::JobStatus;
use crate::ports::table::{Action, Attr, Cond, TableError, Update};

/// Sends of one job write (each with the adapter's own retries), with the same write token: after
/// an ambiguous failure only a resend of the same request can tell, by finding its own token.
const WRITE_ROUNDS: u32 = 3;

impl JobStore {
    /// Unique per write (not per send: resends carry the same token), from the store's ids.
    pub(super) fn write_token(&self) -> String {
        self.ids.token()
    }
}

/// Whether `item` was last written by the write that carried `token`.
pub(super) fn is_ours(item: &Item, token: &str) -> bool {
    matches!(item.get(WRITE_TOKEN), Some(Attr::S(t)) if t == token)
}

/// Wait before send number `round` + 1 of a write.
pub(super) async fn backoff(round: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(100 << round)).await;
}

/// The rounds left after `round` sends of a failed write.
pub(super) fn may_resend(round: u32, err: &TableError) -> bool {
    round < WRITE_ROUNDS && err.is_transient()
}

/// The rounds left after `round` sends of a failed bucket request.
pub(super) fn may_resend_blob(round: u32, err: &crate::ports::blobs::BlobError) -> bool {
    round < WRITE_ROUNDS && err.is_transient()
}

/// An UpdateItem under construction.
#[derive(Debug, Default)]
pub(super) struct Write {
    update: Update,
    condition: Option<Cond>,
}

impl Write {
    pub fn set(&mut self, attribute: &str, value: Attr) {
        self.replace(attribute, Action::Set(attribute.to_owned(), value));
    }

    pub fn remove(&mut self, attribute: &str) {
        self.replace(attribute, Action::Remove(attribute.to_owned()));
    }

    /// DynamoDB refuses an update that names one path twice ("two document paths overlap"), as
    /// a retry's clearing of the result and a report's new result would: the later set or remove
    /// of an attribute replaces what was asked of it before.
    fn replace(&mut self, attribute: &str, action: Action) {
        self.update
            .actions
            .retain(|a| !matches!(a, Action::Set(name, _) | Action::Remove(name) if name == attribute));
        self.update.actions.push(action);
    }

    pub fn increment(&mut self, attribute: &str, by: i64) {
        self.update.actions.push(Action::Increment(attribute.to_owned(), by));
    }

    pub fn is_empty(&self) -> bool {
        self.update.actions.is_empty()
    }

    /// Required of the item, with any condition already there.
    pub fn condition(&mut self, condition: Cond) {
        self.condition = Some(match self.condition.take() {
            Some(existing) => existing.and(condition),
            None => condition,
        });
    }

    pub fn set_progress(&mut self, update: &ProgressUpdate) {
        self.set(PROGRESS, n(update.percent.min(100)));
        if let Some(step) = &update.step {
            self.set(CURRENT_STEP, s(super::bounds::text(step, super::bounds::STEP_MAX)));
        }
        if let Some(message) = &update.message {
            self.set(MESSAGE, s(super::bounds::text(message, super::bounds::MESSAGE_MAX)));
        }
    }

    /// A run's result: inline, or by its key when it was kept in the bucket.
    pub fn set_result(&mut self, result: Option<&serde_json::Value>, spilled: Option<&str>) {
        use super::attrs::{RESULT, RESULT_REF};
        match spilled {
            Some(key) => {
                self.set(RESULT_REF, s(key));
                self.remove(RESULT);
            }
            None => {
                self.set_opt_json(RESULT, result);
                self.remove(RESULT_REF);
            }
        }
    }

    /// The job's error, within its bounds.
    pub fn set_error(&mut self, error: &crate::domain::model::JobFailure) {
        self.set(super::attrs::ERROR, codec::json(&super::bounds::failure(error)));
    }

    /// Ask for no item back: for writes whose caller needs only to know they took effect. A
    /// refusal still carries the current item (see [`JobStore::write`]).
    pub fn returning_nothing(&mut self) {
        self.update.returns = crate::ports::table::Returns::Nothing;
    }

    pub fn set_opt_json(&mut self, attribute: &str, value: Option<&serde_json::Value>) {
        match value {
            Some(v) => self.set(attribute, codec::json(v)),
            None => self.remove(attribute),
        }
    }

    /// A new run's lease until `until`. Not watched until the run's first heartbeat (see
    /// [`Write::watch_lease`]); a watch the job had stays: its sweep, finding the job running,
    /// watches it at its lease end, so a job claimed off the happy path is never unwatched.
    pub fn set_lease(&mut self, until: DateTime<Utc>) {
        self.set(LEASE, millis(until));
    }

    /// A heartbeat's lease, watched in `by-due` from now on: a run is put there only once it has
    /// lived a third of its lease, so a short run writes no index (until then, a run that died is
    /// found by its message; see `worker::engine`).
    pub fn watch_lease(&mut self, id: &str, until: DateTime<Utc>) {
        self.set(LEASE, millis(until));
        self.watch(id, Watch::Lease, until);
    }

    /// The run is over (or was never there): no lease, out of the lease-end index.
    pub fn clear_lease(&mut self) {
        self.remove(LEASE);
        self.unwatch();
    }

    /// The job's place in `by-due`: looked at under `watch` once `at` comes.
    pub fn watch(&mut self, id: &str, watch: Watch, at: DateTime<Utc>) {
        self.set(BY_DUE.pk, s(keys::due_pk(watch, id)));
        self.set(BY_DUE.sk, s(keys::due_sort_key(at, id)));
    }

    /// Out of `by-due`: nothing to look at later.
    pub fn unwatch(&mut self) {
        self.remove(BY_DUE.pk);
        self.remove(BY_DUE.sk);
    }

    /// The status and its (sharded) index key move together.
    pub fn set_status(&mut self, id: &str, status: JobStatus) {
        self.set(STATUS, s(status.as_str()));
        match keys::status_pk(status, id) {
            Some(pk) => self.set(BY_STATUS.pk, s(pk)),
            None => self.remove(BY_STATUS.pk),
        }
    }
}

/// The status is one of `statuses`.
pub(super) fn status_in(statuses: &[JobStatus]) -> Cond {
    Cond::is_in(STATUS, statuses.iter().map(|st| s(st.as_str())))
}

/// Still the run `run`'s (the job as its claim returned it): the same generation and the run's
/// own token, and `processing`, or `retrying` because the scheduler took it back from this very
/// run (its lease ended while an outage kept it from renewing). An attempt number does not name
/// a run: a retry starts counting again.
pub(super) fn owned_by(run: &Job) -> Cond {
    let token = s(run.run_id.as_deref().unwrap_or_default());
    let taken_back =
        Cond::eq(STATUS, s(JobStatus::Retrying.as_str())).and(Cond::eq(RECOVERED_RUN, token.clone()));
    Cond::eq(STATUS, s(JobStatus::Processing.as_str()))
        .or(taken_back)
        .and(Cond::eq(GENERATION, n(run.generation)))
        .and(Cond::eq(RUN, token))
}

impl JobStore {
    /// Send `w` to the job `id`; a refused write is explained by `refusal` from the current item.
    pub(super) async fn write(
        &self,
        id: &str,
        mut w: Write,
        operation: &'static str,
        refusal: impl FnOnce(Job) -> StoreError,
    ) -> Result<Item, StoreError> {
        let token = self.write_token();
        w.set(WRITE_TOKEN, s(&token));
        let key = keys::job_pk(id);
        let mut round = 0;
        loop {
            round += 1;
            let sent = self.table.update(&key, &w.update, w.condition.as_ref()).await;
            match sent {
                Ok(item) => return Ok(item.unwrap_or_default()),
                Err(TableError::ConditionFailed { current, .. }) => {
                    return match current {
                        // An earlier send of this same write took effect and its answer was lost:
                        // the item is as our write left it.
                        Some(item) if is_ours(&item, &token) => Ok(*item),
                        Some(item) => Err(refusal(decode(id, &item)?)),
                        None => Err(StoreError::NotFound { id: id.to_owned() }),
                    };
                }
                Err(err) if may_resend(round, &err) => backoff(round).await,
                Err(err) => return Err(aws(operation, err)),
            }
        }
    }
}

pub(super) fn decode(id: &str, item: &Item) -> Result<Job, StoreError> {
    codec::decode(item).map_err(|source| StoreError::Corrupt { id: id.to_owned(), source })
}

pub(super) fn aws(operation: &'static str, err: TableError) -> StoreError {
    StoreError::Aws { operation, source: Box::new(err) }
}

/// The refusal of an optimistic write: the job is no longer as it was read.
pub(super) fn changed(current: Job) -> StoreError {
    StoreError::Conflict {
        id: current.id.clone(),
        reason: super::Conflict::Changed,
        current: Box::new(current),
    }
}

/// The status an event leads to (the same from every source that allows it).
pub(super) fn target(event: crate::domain::status::JobEvent) -> JobStatus {
    JobStatus::sources(event).first().and_then(|from| from.apply(event).ok()).unwrap_or(JobStatus::Failed)
}

/// Epoch milliseconds, as lease and re-send times are stored (numbers compare in conditions).
pub(super) fn millis(t: DateTime<Utc>) -> Attr {
    n(t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::JobEvent;

    #[test]
    fn targets_follow_the_transition_function() {
        assert_eq!(target(JobEvent::Cancel), JobStatus::Cancelled);
        assert_eq!(target(JobEvent::Retry), JobStatus::Queued);
        assert_eq!(target(JobEvent::Fail), JobStatus::Failed);
        assert_eq!(target(JobEvent::Claim), JobStatus::Processing);
    }

    #[test]
    fn conditions_accumulate_and_status_moves_its_index_key() {
        let mut run = crate::domain::model::Job::new(crate::domain::model::NewJob::default(), Utc::now());
        run.run_id = Some("r2".into());
        let mut w = Write::default();
        w.condition(owned_by(&run));
        w.set_status("id1", JobStatus::Completed);
        w.condition(Cond::exists("x"));
        let Some(Cond::And(parts)) = &w.condition else { panic!("an AND: {:?}", w.condition) };
        assert_eq!(parts.len(), 4, "flattened: status, generation, run, x");
        assert!(parts.contains(&Cond::eq(RUN, s("r2"))));
        let set: Vec<&str> = w.update.actions.iter().map(Action::attr).collect();
        assert_eq!(set, [STATUS, BY_STATUS.pk]);
        assert!(matches!(&w.update.actions[1], Action::Remove(_)), "completed is not in by-status");
        let mut failed = Write::default();
        failed.set_status("id1", JobStatus::Failed);
        assert_eq!(
            failed.update.actions[1],
            Action::Set(BY_STATUS.pk.into(), s(keys::sharded("failed", "id1")))
        );
    }

    #[test]
    fn an_update_names_each_attribute_once_the_last_asked_winning() {
        // A retry reported with a result: the retry clears the result, the report sets one.
        let mut w = Write::default();
        w.remove(super::super::attrs::RESULT);
        w.remove(super::super::attrs::RESULT_REF);
        w.set_result(Some(&serde_json::json!([])), None);
        let names: Vec<&str> = w.update.actions.iter().map(Action::attr).collect();
        assert_eq!(names, [super::super::attrs::RESULT, super::super::attrs::RESULT_REF]);
        assert!(matches!(&w.update.actions[0], Action::Set(..)), "the result set last stays");
        assert!(matches!(&w.update.actions[1], Action::Remove(..)));
    }
}
