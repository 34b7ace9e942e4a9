//! Small fields bounded: long texts truncated, not fatal to the write; an oversize write refused
//! whole; progress and lease writes ask for nothing back and still know their own write.

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use jobq::adapters::memory::MemoryTable;
use jobq::domain::progress::ProgressUpdate;
use jobq::ports::Attr;
use jobq::ports::table::{
    BatchGot, Cond, IndexQuery, Item, QueryPage, Returns, Table, TableError, TransactUpdate, Update,
};
use jobq::store::{JobStore, RunOutcome};
use jobq::{Job, JobStatus, NewJob};
use serde_json::json;

use super::{KIB, stack, text_of};

#[tokio::test(start_paused = true)]
async fn long_progress_and_error_texts_are_truncated_not_fatal_to_the_write() {
    let s = stack(false);
    let spec = NewJob { job_type: "chatty".into(), payload: json!(450 * KIB), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.drain().await;
    let job = s.service.get(&job.id).await.expect("get").expect("exists");
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1), "recorded at once");
    let error = job.error.expect("error");
    assert!(error.message.len() <= jobq::store::bounds::ERROR_MESSAGE_MAX, "{}", error.message.len());
    assert!(error.message.ends_with(&format!("[truncated from {} bytes]", 450 * KIB)));
    let message = job.message.unwrap_or_default();
    assert!(message.len() <= jobq::store::bounds::MESSAGE_MAX, "{}", message.len());
    assert!(job.current_step.unwrap_or_default().len() <= jobq::store::bounds::STEP_MAX);
}

#[tokio::test]
async fn the_memory_table_refuses_an_oversize_write_whole() {
    let table = MemoryTable::default();
    let key = "job#big";
    let item: Item = [
        ("pk", Attr::s(key)),
        ("status", Attr::s("processing")),
        ("payload", Attr::s("p".repeat(200 * KIB))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    table.put(item.clone(), None).await.expect("fits");
    let update = Update::new(vec![
        jobq::ports::table::Action::Set("status".into(), Attr::s("completed")),
        jobq::ports::table::Action::Set("completed_at".into(), Attr::s("2026-01-01T00:00:00.000Z")),
        jobq::ports::table::Action::Set("result".into(), Attr::s("r".repeat(200 * KIB + 1))),
    ]);
    let err = table.update(key, &update, None).await.expect_err("over 400 KB");
    assert!(matches!(err, TableError::Rejected { .. }), "{err}");
    let after = table.get(key, true).await.expect("get").expect("still there");
    assert!(after == item, "nothing of the refused update was applied");

    let mut oversize = item.clone();
    oversize.insert("pk".into(), Attr::s("job#bigger"));
    oversize.insert("result".into(), Attr::s("r".repeat(201 * KIB)));
    assert!(matches!(table.put(oversize, None).await, Err(TableError::Rejected { .. })));
    assert_eq!(table.get("job#bigger", true).await.expect("get"), None);
}

/// The table, recording what each UpdateItem asked to get back.
#[derive(Debug, Clone, Default)]
struct Spy {
    inner: MemoryTable,
    returns: Arc<Mutex<Vec<Returns>>>,
}

#[async_trait::async_trait]
impl Table for Spy {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        self.inner.put(item, condition).await
    }
    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        self.inner.get(key, consistent).await
    }
    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        self.returns.lock().expect("lock").push(update.returns);
        self.inner.update(key, update, cond).await
    }
    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        self.inner.delete(key, condition).await
    }
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        self.inner.batch_get(keys).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        self.inner.batch_put(items).await
    }
    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        self.inner.query(query).await
    }
    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        self.inner.transact_update(updates).await
    }
}

#[tokio::test(start_paused = true)]
async fn progress_and_lease_writes_ask_for_nothing_back_and_still_know_their_own_write() {
    let spy = Spy::default();
    let store = JobStore::over(Arc::new(spy.clone()), Duration::days(7));
    let now = Utc::now();
    let job =
        Job::new(NewJob { job_type: "echo".into(), payload: text_of(30 * KIB), ..NewJob::default() }, now);
    store.create(&job).await.expect("create");
    let run = store.claim(&job.id, 0, now, now + Duration::seconds(60)).await.expect("claim");
    spy.returns.lock().expect("lock").clear();

    let update = ProgressUpdate { percent: 40, step: Some("a".into()), message: None };
    store.progress(&run, &update).await.expect("progress");
    store.renew_lease(&run, now + Duration::seconds(120)).await.expect("lease");
    assert_eq!(*spy.returns.lock().expect("lock"), [Returns::Nothing, Returns::Nothing]);

    // A progress write whose answer was lost is sent again and recognised as ours by its token.
    spy.inner.lose_next_responses(1);
    store.progress(&run, &ProgressUpdate { percent: 60, ..update }).await.expect("ours, not a refusal");
    let finished =
        store.finish(&run, RunOutcome::Completed { result: None }, None, now).await.expect("finish");
    assert_eq!((finished.status, finished.progress), (JobStatus::Completed, 100));
}
