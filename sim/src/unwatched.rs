//! A deliberate break ([`crate::Breaks::unwatched`]): the job table as seen through code that
//! never files a job under a `by-due` watch. Every other write passes unchanged.

use std::sync::Arc;

use jobq::ports::table::{
    Action, BatchGot, Cond, IndexQuery, Item, QueryPage, Table, TableError, TransactUpdate, Update,
};
use jobq::store::keys::BY_DUE;

#[derive(Debug)]
pub struct Unwatched(pub Arc<dyn Table>);

fn is_job(key: &str) -> bool {
    jobq::store::keys::id_from_pk(key).is_some()
}

fn watch_key(name: &str) -> bool {
    name == BY_DUE.pk || name == BY_DUE.sk
}

/// `update` without the actions that set a watch's keys.
fn unwatched(update: &Update) -> Update {
    let keep = |a: &&Action| !matches!(a, Action::Set(name, _) if watch_key(name));
    Update { actions: update.actions.iter().filter(keep).cloned().collect(), returns: update.returns }
}

fn strip(mut item: Item) -> Item {
    let job = item.get(jobq::store::keys::PK).and_then(|k| k.as_str()).is_some_and(is_job);
    if job {
        item.retain(|name, _| !watch_key(name));
    }
    item
}

#[async_trait::async_trait]
impl Table for Unwatched {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.0.put(strip(item), condition).await
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
        match is_job(key) {
            true => self.0.update(key, &unwatched(update), cond).await,
            false => self.0.update(key, update, cond).await,
        }
    }

    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.0.delete(key, condition).await
    }

    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.0.batch_get(keys).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.0.batch_put(items.into_iter().map(strip).collect()).await
    }

    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.0.query(query).await
    }

    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.0.transact_update(updates).await
    }
}
