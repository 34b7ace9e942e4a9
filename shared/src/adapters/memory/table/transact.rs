//! TransactWriteItems: all or nothing, and cancelled when it meets another transaction on one
//! of its items ([`MemoryTable::set_transaction_time`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{MemoryTable, State, rejected};
use crate::ports::eval::{self, Invalid};
use crate::ports::table::{TRANSACT_MAX, TableError, TransactUpdate};
use crate::store::keys::PK;

/// The items a transaction holds, let go of when it ends (whichever way).
pub(super) struct Held {
    state: Arc<Mutex<State>>,
    keys: Vec<String>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in &self.keys {
            state.transacting.remove(key);
        }
    }
}

const TRANSACT: &str = "TransactWriteItems";

impl MemoryTable {
    /// Count a transaction, check its shape, and take its items: refused with the reason
    /// `TransactionConflict` when another transaction holds one of them.
    pub(super) fn take(&self, updates: &[TransactUpdate]) -> Result<Held, TableError> {
        let mut state = self.begin(TRANSACT)?;
        let keys: std::collections::BTreeSet<&str> = updates.iter().map(|u| u.key.as_str()).collect();
        if updates.len() > TRANSACT_MAX || keys.len() < updates.len() {
            return Err(rejected(TRANSACT, Invalid::TooLarge(updates.len())));
        }
        let held: Vec<String> =
            keys.iter().filter(|k| state.transacting.contains(**k)).map(|k| (*k).to_owned()).collect();
        if !held.is_empty() {
            held.into_iter().for_each(|k| *state.conflicts.entry(k).or_default() += 1);
            return Err(TableError::Transient {
                operation: TRANSACT,
                source: "TransactionCanceledException: cancellation reasons [TransactionConflict]".into(),
            });
        }
        let keys: Vec<String> = match self.faults.transaction_micros.load(Ordering::SeqCst) {
            0 => Vec::new(),
            _ => keys.into_iter().map(str::to_owned).collect(),
        };
        state.transacting.extend(keys.iter().cloned());
        Ok(Held { state: self.state.clone(), keys })
    }

    /// Apply a transaction taken by [`MemoryTable::take`]: all of it or, a condition false, none.
    pub(super) fn transact(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        const OP: &str = TRANSACT;
        let mut state = self.lock();
        let mut next = Vec::with_capacity(updates.len());
        for u in updates {
            let current = state.items.get(&u.key);
            if let Some(condition) = &u.condition
                && !eval::holds(condition, current)
            {
                return Err(TableError::ConditionFailed { operation: OP, current: None });
            }
            let item = eval::apply(&u.update, current, (PK, &u.key)).map_err(|e| rejected(OP, e))?;
            // One item on a hot partition cancels the whole transaction (ThrottlingError).
            state.hot_write(OP, &u.key, Some(&item))?;
            next.push((u.key.clone(), item));
        }
        let applied = &mut *state;
        for (key, item) in next {
            // A transactional write costs twice a plain one.
            applied.meter.applied(OP, &key, applied.items.get(&key), Some(&item));
            applied.write(OP, &key, Some(item));
        }
        drop(state);
        self.answer(OP, ())
    }
}
