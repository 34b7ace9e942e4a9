//! Listing against a model: jobs of a few owners, groups, batches and statuses, spread over the
//! index shards with colliding creation times, listed page by page with any filters and page
//! size. Every page holds at most its limit, the pages end, and together they are exactly the
//! model's answer, newest first: no job twice, none missed, none of another owner's.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jobq::adapters::memory::MemoryTable;
use jobq::domain::model::format_time;
use jobq::store::{JobStore, ListQuery};
use jobq::{Job, JobStatus, NewJob};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Spec {
    owner: &'static str,
    group: Option<&'static str>,
    batch: Option<&'static str>,
    status: JobStatus,
    /// Milliseconds after the first job: few values, so creation times collide.
    at_ms: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    let owner = prop::sample::select(vec!["alice", "bob", "carol"]);
    let group = prop::option::of(prop::sample::select(vec!["book:1", "book:2"]));
    let batch = prop::option::of(prop::sample::select(vec!["b1", "b2"]));
    let status = prop::sample::select(vec![
        JobStatus::Queued,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ]);
    (owner, group, batch, status, 0..40_i64).prop_map(|(owner, group, batch, status, at_ms)| Spec {
        owner,
        group,
        batch,
        status,
        at_ms,
    })
}

fn query() -> impl Strategy<Value = ListQuery> {
    let some = |values: Vec<&'static str>| prop::option::of(prop::sample::select(values));
    let status = prop::option::of(prop::sample::select(vec![JobStatus::Queued, JobStatus::Failed]));
    (some(vec!["alice", "bob", "dora"]), some(vec!["book:1", "book:2"]), some(vec!["b1", "b2"]), status)
        .prop_map(|(owner, group, batch, status)| ListQuery {
            owner: owner.map(str::to_owned),
            group: group.map(str::to_owned),
            batch_id: batch.map(str::to_owned),
            status,
            job_type: None,
        })
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn job_of(spec: &Spec) -> Job {
    let new = NewJob {
        job_type: "noop".into(),
        owner: Some(spec.owner.into()),
        group: spec.group.map(str::to_owned),
        batch_id: spec.batch.map(str::to_owned),
        ..NewJob::default()
    };
    Job { status: spec.status, ..Job::new(new, t0() + Duration::milliseconds(spec.at_ms)) }
}

fn matches(query: &ListQuery, job: &Job) -> bool {
    query.owner.as_ref().is_none_or(|o| job.owner.as_ref() == Some(o))
        && query.group.as_ref().is_none_or(|g| job.group.as_ref() == Some(g))
        && query.batch_id.as_ref().is_none_or(|b| job.batch_id.as_ref() == Some(b))
        && query.status.is_none_or(|s| job.status == s)
}

/// The store's pages for `query`, `limit` a page.
async fn pages(store: &JobStore, query: &ListQuery, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list(query, limit, cursor.as_deref()).await.expect("list");
        assert!(page.jobs.len() <= limit, "a page over its limit");
        pages.push(page.jobs.into_iter().map(|job| job.id).collect());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 500, "the pages do not end");
    }
}

async fn check(specs: Vec<Spec>, query: ListQuery, limit: usize) {
    let store = JobStore::over(Arc::new(MemoryTable::default()), Duration::days(7));
    let jobs: Vec<Job> = specs.iter().map(job_of).collect();
    let mut first_of_batch: BTreeMap<&str, (DateTime<Utc>, u64)> = BTreeMap::new();
    for job in &jobs {
        store.create(job).await.expect("create");
        if let Some(batch) = job.batch_id.as_deref() {
            let entry = first_of_batch.entry(batch).or_insert((job.created_at, 0));
            *entry = (entry.0.min(job.created_at), entry.1 + 1);
        }
    }
    // As the batch's enqueue notes it.
    for (batch, (first, made)) in &first_of_batch {
        let made = BTreeMap::from([(JobStatus::Queued, *made)]);
        store.declare_batch(batch, &made, *first, *first).await.expect("declare");
    }
    let mut expected: Vec<&Job> = jobs.iter().filter(|job| matches(&query, job)).collect();
    expected.sort_by_key(|job| std::cmp::Reverse((format_time(job.created_at), job.id.clone())));
    let expected: Vec<String> = expected.into_iter().map(|job| job.id.clone()).collect();
    let listed: Vec<String> = pages(&store, &query, limit).await.into_iter().flatten().collect();
    assert_eq!(listed, expected, "{query:?}, {limit} a page");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    #[test]
    fn listing_by_owner_group_batch_and_status_pages_as_the_model_says(
        specs in prop::collection::vec(spec(), 0..60),
        query in query(),
        limit in 1..8_usize,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(check(specs, query, limit));
    }
}

/// A batch nothing was noted of lists empty, without reading the index.
#[tokio::test]
async fn a_batch_never_noted_lists_nothing() {
    let store = JobStore::over(Arc::new(MemoryTable::default()), Duration::days(7));
    let spec = Spec { owner: "alice", group: None, batch: Some("b1"), status: JobStatus::Queued, at_ms: 0 };
    store.create(&job_of(&spec)).await.expect("create");
    let query = ListQuery { batch_id: Some("b1".into()), ..ListQuery::default() };
    let page = store.list(&query, 10, None).await.expect("list");
    assert!(page.jobs.is_empty() && page.next_cursor.is_none(), "{page:?}");
}
