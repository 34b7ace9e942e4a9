//! The ownership invariant: a job's run writes (progress, lease, outcome) land only while that
//! run owns the job's current generation.
//!
//! The table alone cannot say who wrote a change (an outcome write does not name its run), so
//! the harness tells: every worker environment draws its ids through an [`InvocationIds`] that
//! notes which invocation drew each token. Every write to a job item carries a fresh write token
//! (`wtok`), so the change stream, read in order as the counter reads it ([`Observed`]), says
//! which invocation made each change. From it the [`Witness`] keeps, per job, the claim that is
//! current: the generation, the run token and the invocation of the last change that set a new
//! `run` on a `processing` item (a claim or a take-over). Every later change an invocation makes
//! to that job while it is `processing` must come from the invocation holding that claim, in its
//! generation and run; anything else is an `ownership` violation.
//!
//! Three worker writes to a `processing` item are not a run's, each made by a delivery that found
//! the job in another run: failing a job whose runs all died (`worker_crashed_repeatedly`) and
//! taking a job back from a run whose lease ended (to `retrying`, naming that run as
//! `recovered_run`), both once the run's lease ended; and putting a run's lease in the lease-end
//! index and nothing else, by a delivery that met a pause before it is dropped
//! (`JobStore::watch_run`).
//!
//! The identity is the invocation, not the run: two runs of one job in one invocation (a message
//! delivered twice in one batch) look alike. A live stale run is always in another invocation
//! than its successor's claim: an environment serves one invocation at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jobq::JobStatus;
use jobq::ports::Ids;
use jobq::ports::table::{
    Action, Attr, BatchGot, Change, ChangeFeed, Cmp, Cond, IndexQuery, Item, QueryPage, Table, TableError,
    TransactUpdate, Update, seq_order,
};
use jobq::store::attrs::{ATTEMPTS, ERROR, GENERATION, RECOVERED_RUN, RUN, STATUS, WRITE_TOKEN};
use jobq::store::keys;

use crate::invariants::Violation;

/// The reason the worker records when it fails a job whose every attempt died.
const CRASHED_REPEATEDLY: &str = "worker_crashed_repeatedly";

/// A worker environment's ids: the deployment's, each token noted as drawn by the invocation the
/// environment serves now.
#[derive(Debug)]
pub struct InvocationIds {
    inner: Arc<dyn Ids>,
    witness: Arc<Witness>,
    invocation: AtomicU64,
}

impl InvocationIds {
    pub fn new(inner: Arc<dyn Ids>, witness: Arc<Witness>) -> Self {
        InvocationIds { inner, witness, invocation: AtomicU64::new(0) }
    }

    /// The environment now serves `invocation`.
    pub fn serve(&self, invocation: u64) {
        self.invocation.store(invocation, Ordering::SeqCst);
    }
}

impl Ids for InvocationIds {
    fn job_id(&self) -> String {
        self.inner.job_id()
    }

    fn token(&self) -> String {
        let token = self.inner.token();
        self.witness.drawn(&token, self.invocation.load(Ordering::SeqCst));
        token
    }

    fn unit(&self) -> f64 {
        self.inner.unit()
    }
}

/// The claim a job's writes must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    generation: Option<i64>,
    run: Option<String>,
    invocation: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Tokens drawn by worker environments, and the invocation that drew each.
    tokens: HashMap<String, u64>,
    /// Per job id, the claim that is current.
    current: HashMap<String, Claim>,
    /// The last change looked at.
    /// Per stream shard, the last change looked at (shards are read apart, each in order).
    last_seq: HashMap<String, String>,
    /// Run writes checked (claims excluded).
    checked: u64,
    violations: Vec<Violation>,
    /// Jobs with a violation already.
    unowned: std::collections::HashSet<String>,
}

/// What the harness saw of the runs' writes, and the ownership violations among them.
#[derive(Debug, Default)]
pub struct Witness {
    state: Mutex<State>,
}

fn text<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(Attr::S(s)) => Some(s),
        _ => None,
    }
}

fn status(item: &Item) -> Option<&str> {
    text(item, STATUS)
}

fn generation(item: &Item) -> Option<i64> {
    item.get(GENERATION).and_then(Attr::as_i64)
}

/// The reason a job item's error was recorded with (its `details.reason`), if any.
fn reason(item: &Item) -> Option<String> {
    let error: serde_json::Value = serde_json::from_str(text(item, ERROR)?).ok()?;
    Some(error.pointer("/details/reason")?.as_str()?.to_owned())
}

impl Witness {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn drawn(&self, token: &str, invocation: u64) {
        self.lock().tokens.insert(token.to_owned(), invocation);
    }

    /// Look at `changes` (oldest first), skipping any already looked at.
    pub fn observe(&self, changes: &[Change]) {
        let mut state = self.lock();
        for change in changes {
            if state.last_seq.get(&change.shard).is_some_and(|last| seq_order(&change.seq, last).is_le()) {
                continue;
            }
            state.last_seq.insert(change.shard.clone(), change.seq.clone());
            state.look_at(change);
        }
    }

    /// The ownership violations seen, and how many run writes were checked.
    pub fn verdict(&self) -> (Vec<Violation>, u64) {
        let state = self.lock();
        (state.violations.clone(), state.checked)
    }
}

impl State {
    fn look_at(&mut self, change: &Change) {
        let (Some(old), Some(new)) = (&change.old, &change.new) else { return };
        let Some(id) = keys::id_from_pk(&change.key) else { return };
        let token = text(new, WRITE_TOKEN);
        let Some(writer) = token.and_then(|t| self.tokens.remove(t)) else {
            return; // the API, the scheduler or the dead-letter function: not a run
        };
        let processing = Some(JobStatus::Processing.as_str());
        if status(new) == processing && text(new, RUN) != text(old, RUN) {
            let claim = Claim {
                generation: generation(new),
                run: text(new, RUN).map(str::to_owned),
                invocation: writer,
            };
            self.current.insert(id.to_owned(), claim);
            return;
        }
        if status(old) != processing {
            return;
        }
        if status(new) == Some(JobStatus::Failed.as_str())
            && reason(new).as_deref() == Some(CRASHED_REPEATEDLY)
        {
            return;
        }
        if only_watched(old, new) || taken_back(old, new) || attempt_given_back(old, new) {
            return;
        }
        self.checked += 1;
        let wrote =
            Claim { generation: generation(old), run: text(old, RUN).map(str::to_owned), invocation: writer };
        match self.current.get(id) {
            Some(claim) if *claim == wrote => {}
            claim => {
                if !self.unowned.insert(id.to_owned()) {
                    return; // one violation per job is enough to tell
                }
                let holder = match claim {
                    Some(c) => {
                        format!("invocation {}'s (gen {:?}, run {:?})", c.invocation, c.generation, c.run)
                    }
                    None => "none the harness saw".to_owned(),
                };
                let detail = format!(
                    "job {id}: invocation {writer} moved it from {} to {}; the current claim is {holder}",
                    status(old).unwrap_or("?"),
                    status(new).unwrap_or("?"),
                );
                self.violations.push(Violation { invariant: "ownership", detail });
            }
        }
    }
}

/// The change took the job back from its run, reversibly (`JobStore::recover`).
fn taken_back(old: &Item, new: &Item) -> bool {
    status(new) == Some(JobStatus::Retrying.as_str())
        && text(new, RECOVERED_RUN).is_some_and(|r| Some(r) == text(old, RUN))
}

/// The change gave back the attempt a take-back's claim counted, for a delivery resuming the run
/// taken back (`JobStore::adopt_lost_run`), and touched nothing else: the run stays the claim's.
fn attempt_given_back(old: &Item, new: &Item) -> bool {
    let rest = |item: &Item| -> Item {
        let given_back = [WRITE_TOKEN, ATTEMPTS, RECOVERED_RUN];
        item.iter()
            .filter(|(k, _)| !given_back.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let attempts = |item: &Item| item.get(ATTEMPTS).and_then(jobq::ports::table::Attr::as_i64);
    old.contains_key(RECOVERED_RUN)
        && !new.contains_key(RECOVERED_RUN)
        && attempts(new).zip(attempts(old)).is_some_and(|(n, o)| n + 1 == o)
        && rest(old) == rest(new)
}

/// The change put the item in `by-due` and touched nothing else.
fn only_watched(old: &Item, new: &Item) -> bool {
    let rest = |item: &Item| -> Item {
        let watch = [WRITE_TOKEN, keys::BY_DUE.pk, keys::BY_DUE.sk];
        item.iter()
            .filter(|(k, _)| !watch.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    !old.contains_key(keys::BY_DUE.pk) && new.contains_key(keys::BY_DUE.pk) && rest(old) == rest(new)
}

/// The counter's change feed, shown to the witness as it is read.
#[derive(Debug, Clone)]
pub struct Observed<F> {
    pub inner: F,
    pub witness: Arc<Witness>,
}

#[async_trait::async_trait]
impl<F: ChangeFeed> ChangeFeed for Observed<F> {
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>, TableError> {
        let changes = self.inner.read(after, limit).await?;
        self.witness.observe(&changes);
        Ok(changes)
    }
}

/// A deliberate break for tests: the jobs table as a worker would see it if its store's run
/// writes (progress, lease renewal, outcome) did not name their generation and run, only the
/// `processing` status. A run that lost the job to a newer claim can then still write.
#[derive(Debug)]
pub struct Careless(pub Arc<dyn Table>);

/// Whether `update` is a run's write: conditional on the run, and not naming a new one (a claim
/// or a take-over sets `run`).
fn owned_write(update: &Update, cond: Option<&Cond>) -> bool {
    let names_run = |c: &Cond| matches!(c, Cond::Compare { attr, op: Cmp::Eq, .. } if attr == RUN);
    let sets_run = update.actions.iter().any(|a| matches!(a, Action::Set(attr, _) if attr == RUN));
    let on_run = match cond {
        Some(Cond::And(parts)) => parts.iter().any(names_run),
        Some(c) => names_run(c),
        None => false,
    };
    on_run && !sets_run
}

/// `cond` without its generation and run terms.
fn without_owner(cond: &Cond) -> Cond {
    let owner =
        |c: &Cond| matches!(c, Cond::Compare { attr, op: Cmp::Eq, .. } if attr == RUN || attr == GENERATION);
    match cond {
        Cond::And(parts) => Cond::And(parts.iter().filter(|c| !owner(c)).cloned().collect()),
        other => other.clone(),
    }
}

#[async_trait::async_trait]
impl Table for Careless {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.0.put(item, condition).await
    }

    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        self.0.get(key, consistent).await
    }

    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        if owned_write(update, cond) {
            let careless = cond.map(without_owner);
            return self.0.update(key, update, careless.as_ref()).await;
        }
        self.0.update(key, update, cond).await
    }

    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.0.delete(key, condition).await
    }

    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.0.batch_get(keys).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.0.batch_put(items).await
    }

    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.0.query(query).await
    }

    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.0.transact_update(updates).await
    }
}
