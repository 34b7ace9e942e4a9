//! Reads over many jobs: listing by status page by page, and expired leases by their lease end.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use jobq::store::{Created, JobStore, ListQuery, RunOutcome, StoreError};
use jobq::{Job, JobStatus, NewJob};

use super::{StoreFixture, create, new_job};

pub async fn list_by_status_pages_through_250_jobs_without_duplicates_or_gaps(f: StoreFixture) {
    let store = f.store;
    let store = &store;
    let created: Vec<Job> = futures::stream::iter(0..250)
        .map(|i| async move {
            let spec = NewJob {
                batch_id: (i % 5 == 0).then(|| "batch-a".to_owned()),
                owner: Some(if i % 3 == 0 { "alice" } else { "bob" }.to_owned()),
                group: (i % 4 == 0).then(|| "book:1".to_owned()),
                ..new_job(if i % 2 == 0 { "even" } else { "odd" })
            };
            store.create(&Job::new(spec, Utc::now())).await.map(Created::into_job)
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .expect("create 250");
    // Jobs in another status must not show up in the queued listing.
    let now = Utc::now();
    for job in &created[..10] {
        store.cancel(&job.id, "ops", now).await.expect("cancel");
    }
    let queued_ids: HashSet<String> = created[10..].iter().map(|j| j.id.clone()).collect();

    let query = ListQuery { status: Some(JobStatus::Queued), ..ListQuery::default() };
    let pages = collect_pages(store, &query, 100).await;
    assert_eq!(pages.len(), 3, "240 queued jobs at 100 a page");
    let listed: Vec<Job> = pages.into_iter().flatten().collect();
    let ids: HashSet<String> = listed.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), listed.len(), "no duplicates");
    assert_eq!(ids, queued_ids, "no gaps, nothing else");
    assert!(
        listed.windows(2).all(|w| (w[0].created_at, &w[0].id) >= (w[1].created_at, &w[1].id)),
        "newest first"
    );

    let by_type = ListQuery { job_type: Some("odd".into()), ..ListQuery::default() };
    let odd: Vec<Job> = collect_pages(store, &by_type, 40).await.into_iter().flatten().collect();
    assert_eq!(odd.len(), 125);
    assert!(odd.iter().all(|j| j.job_type == "odd"));

    let status_and_type = ListQuery {
        status: Some(JobStatus::Cancelled),
        job_type: Some("even".into()),
        ..ListQuery::default()
    };
    let cancelled_even: Vec<Job> =
        collect_pages(store, &status_and_type, 3).await.into_iter().flatten().collect();
    let expected = created[..10].iter().filter(|j| j.job_type == "even").count();
    assert_eq!(cancelled_even.len(), expected);

    batches_owners_and_groups(store, &created, now).await;

    let everything: Vec<Job> =
        collect_pages(store, &ListQuery::default(), 500).await.into_iter().flatten().collect();
    assert_eq!(everything.len(), 250);

    // A status read from `by-created` and filtered: three running jobs among 250, two a page.
    let running: HashSet<String> = created[10..13].iter().map(|j| j.id.clone()).collect();
    for id in &running {
        store.claim(id, 0, now, now + chrono::Duration::minutes(5)).await.expect("claim");
    }
    let processing = ListQuery { status: Some(JobStatus::Processing), ..ListQuery::default() };
    let pages = collect_pages(store, &processing, 2).await;
    let listed: Vec<String> = pages.iter().flatten().map(|j| j.id.clone()).collect();
    assert_eq!(listed.len(), 3, "each once: {pages:?}");
    assert_eq!(listed.iter().cloned().collect::<HashSet<_>>(), running);
    assert!(pages.iter().all(|p| p.len() <= 2), "never more than the limit");

    let bad = store.list(&query, 10, Some("not-a-cursor")).await;
    assert!(matches!(bad, Err(StoreError::BadCursor(_))), "{bad:?}");
}

/// A batch (from its first job's creation on, as noted), owners and groups, alone and together,
/// filtered inside the index.
async fn batches_owners_and_groups(store: &JobStore, created: &[Job], now: chrono::DateTime<Utc>) {
    // A batch is read from its first job's creation on, as its enqueue (or the counter) noted.
    let batch = ListQuery { batch_id: Some("batch-a".into()), ..ListQuery::default() };
    assert!(collect_pages(store, &batch, 500).await.is_empty(), "nothing noted of the batch yet");
    let in_a: Vec<&Job> = created.iter().filter(|j| j.batch_id.is_some()).collect();
    let first = in_a.iter().map(|j| j.created_at).min().expect("batch jobs");
    let made = std::collections::BTreeMap::from([(JobStatus::Queued, in_a.len() as u64)]);
    store.declare_batch("batch-a", &made, first, now).await.expect("note the batch");
    let in_batch: Vec<Job> = collect_pages(store, &batch, 500).await.into_iter().flatten().collect();
    assert_eq!(in_batch.len(), 50);

    // Owners and groups, alone and together, filtered inside the index, a few a page.
    let owned = |owner: &str, group: Option<&str>| {
        created
            .iter()
            .filter(|j| j.owner.as_deref() == Some(owner) && (group.is_none() || j.group.as_deref() == group))
            .count()
    };
    for (owner, group) in [("alice", None), ("bob", None), ("alice", Some("book:1")), ("bob", Some("book:1"))]
    {
        let query =
            ListQuery { owner: Some(owner.into()), group: group.map(str::to_owned), ..ListQuery::default() };
        let listed: Vec<Job> = collect_pages(store, &query, 7).await.into_iter().flatten().collect();
        assert_eq!(listed.len(), owned(owner, group), "{query:?}");
        assert!(listed.iter().all(|j| j.owner.as_deref() == Some(owner)));
    }
    let in_group = ListQuery { group: Some("book:1".into()), ..ListQuery::default() };
    let listed: Vec<Job> = collect_pages(store, &in_group, 9).await.into_iter().flatten().collect();
    assert_eq!(listed.len(), 63, "every fourth of 250");
    let nobody = ListQuery { owner: Some("carol".into()), ..ListQuery::default() };
    assert!(collect_pages(store, &nobody, 10).await.is_empty());
}

async fn collect_pages(store: &JobStore, query: &ListQuery, limit: usize) -> Vec<Vec<Job>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list(query, limit, cursor.as_deref()).await.expect("list");
        assert!(page.jobs.len() <= limit);
        if !page.jobs.is_empty() {
            pages.push(page.jobs);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
    pages
}

/// The lease-end index: a run enters it at its first heartbeat, not at its claim (a run shorter
/// than that never writes it); a sweep finds the runs whose lease ended, and only those, without
/// reading every running job; renewing a lease or ending a run takes the job out of it.
pub async fn expired_leases_are_found_by_their_lease_end(f: StoreFixture) {
    let store = f.store;
    let t0 = Utc::now();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let job = create(&store, new_job("sleep")).await;
        runs.push(store.claim(&job.id, 0, t0, t0 + Duration::seconds(30)).await.expect("claim"));
    }
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let expired = |before| {
        let store = store.clone();
        async move { ids(store.expired_leases(before, 10).await.expect("sweep")) }
    };
    assert!(expired(t0 + Duration::hours(1)).await.is_empty(), "a claim alone is not watched");
    for (run, after) in
        runs.iter().zip([Duration::seconds(60), Duration::seconds(120), Duration::minutes(30)])
    {
        store.renew_lease(run, t0 + after).await.expect("first heartbeat");
    }
    assert_eq!(expired(t0 + Duration::seconds(90)).await, [runs[0].id.clone()]);

    store.renew_lease(&runs[0], t0 + Duration::minutes(10)).await.expect("heartbeat");
    assert!(expired(t0 + Duration::seconds(90)).await.is_empty(), "a renewed lease moves later");
    let by_lease_end = [runs[1].id.clone(), runs[0].id.clone()];
    assert_eq!(expired(t0 + Duration::minutes(15)).await, by_lease_end, "earliest lease first");

    store.finish(&runs[1], RunOutcome::Completed { result: None }, None, t0).await.expect("finish");
    store.cancel(&runs[0].id, "ops", t0).await.expect("cancel");
    assert_eq!(expired(t0 + Duration::hours(1)).await, [runs[2].id.clone()], "ended runs leave the index");
}
