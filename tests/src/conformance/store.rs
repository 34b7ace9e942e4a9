//! The job store's conformance cases: the same rules over the in-memory table and over DynamoDB
//! (the emulator), run by `tests/tests/conformance_store.rs` against both.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use jobq::domain::progress::ProgressUpdate;
use jobq::ports::table::{Attr, Table};
use jobq::store::{Conflict, Created, JobStore, ListQuery, PauseScope, RunOutcome, StoreError, keys};
use jobq::{Job, JobEvent, JobFailure, JobStatus, NewJob, Priority, PriorityTier};
use serde_json::json;

/// A store to test, its table port, and a count of the table requests made so far.
pub struct StoreFixture {
    pub store: JobStore,
    pub table: Arc<dyn Table>,
    pub requests: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture").field("store", &self.store).finish_non_exhaustive()
    }
}

/// How long the fixtures keep terminal jobs (the TTL case checks it).
pub const RETENTION: Duration = Duration::days(2);

fn new_job(job_type: &str) -> NewJob {
    NewJob { job_type: job_type.into(), payload: json!({"n": 1}), ..NewJob::default() }
}

async fn create(store: &JobStore, spec: NewJob) -> Job {
    store.create(&Job::new(spec, Utc::now())).await.expect("create").into_job()
}

fn update(percent: u8, step: Option<&str>) -> ProgressUpdate {
    ProgressUpdate { percent, step: step.map(str::to_owned), message: None }
}

fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(30)
}

pub async fn idempotent_create_returns_the_first_job_in_one_request(f: StoreFixture) {
    let store = f.store;
    let keyed = |payload| NewJob { idempotency_key: Some("upload-7".into()), payload, ..new_job("echo") };

    let before = (f.requests)();
    let first = store.create(&Job::new(keyed(json!(1)), Utc::now())).await.expect("first");
    let second = store.create(&Job::new(keyed(json!(2)), Utc::now())).await.expect("second");
    let requests = (f.requests)() - before;

    let Created::New(first) = first else { panic!("first create must be new") };
    let Created::Existing(second) = second else { panic!("repeated key must return the existing job") };
    assert_eq!(second, first, "the stored job is returned unchanged");
    assert_eq!(second.payload, json!(1));
    assert_eq!(requests, 2, "two puts, no extra read on a duplicate");

    let other = create(&store, NewJob { idempotency_key: Some("upload-8".into()), ..new_job("echo") }).await;
    assert_ne!(other.id, first.id);
    assert_eq!(store.get(&first.id, true).await.expect("get"), Some(first));
}

pub async fn two_concurrent_claims_exactly_one_wins(f: StoreFixture) {
    let store = f.store;
    for _ in 0..5 {
        let job = create(&store, new_job("noop")).await;
        let now = Utc::now();
        let (a, b) =
            tokio::join!(store.claim(&job.id, 0, now, lease(now)), store.claim(&job.id, 0, now, lease(now)));
        let (winner, loser) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            (a, b) => panic!("exactly one claim must win: {a:?} / {b:?}"),
        };
        assert_eq!((winner.status, winner.attempts), (JobStatus::Processing, 1));
        assert!(
            matches!(loser, StoreError::Conflict { reason: Conflict::LeaseHeld { .. }, .. }),
            "the loser learns the lease is held: {loser}"
        );
        let stored = store.get(&job.id, true).await.expect("get").expect("exists");
        assert_eq!(stored.attempts, 1, "the losing claim spent no attempt");
    }
}

/// A claim takes a lease and counts the attempt; a claim over a live lease is refused as held,
/// over an ended one as ended (the job is then taken back, reversibly, and runs anew after the
/// grace); attempts spent by dead runs end in a refusal, and a run that lost its job cannot write.
pub async fn an_ended_lease_is_taken_back_never_claimed_over(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, NewJob { max_attempts: Some(2), ..new_job("noop") }).await;
    let t0 = Utc::now();

    let before = (f.requests)();
    let first = store.claim(&job.id, 0, t0, t0 + Duration::seconds(30)).await.expect("first claim");
    assert_eq!((f.requests)() - before, 1, "a claim is one request");
    assert_eq!(
        first.lease_until.map(|l| l.timestamp_millis()),
        Some((t0 + Duration::seconds(30)).timestamp_millis())
    );

    let early = store.claim(&job.id, 0, t0 + Duration::seconds(10), t0 + Duration::seconds(40)).await;
    assert!(
        matches!(early, Err(StoreError::Conflict { reason: Conflict::LeaseHeld { .. }, .. })),
        "{early:?}"
    );

    // A lease that ended is never claimed over (the run may be alive, kept from renewing): the
    // job is taken back, reversibly, and runs anew once the grace is over.
    let t1 = t0 + Duration::seconds(31);
    let ended = store.claim(&job.id, 0, t1, t1 + Duration::seconds(30)).await;
    let Err(StoreError::Conflict { reason: Conflict::LeaseEnded, current, .. }) = ended else {
        panic!("a claim over an ended lease must be refused as such, got {ended:?}")
    };
    let grace_end = t1 + Duration::seconds(60);
    let back = store.recover(&current, t1, t1, grace_end).await.expect("taken back");
    assert_eq!((back.status, back.attempts), (JobStatus::Retrying, 1));
    let early = store.claim(&job.id, 0, t1 + Duration::seconds(10), t1 + Duration::seconds(40)).await;
    assert!(matches!(early, Err(StoreError::Conflict { reason: Conflict::NotDue { .. }, .. })), "{early:?}");
    let t1 = grace_end + Duration::seconds(1);
    let second =
        store.claim(&job.id, 0, t1, t1 + Duration::seconds(30)).await.expect("claim after the grace");
    assert_eq!((second.status, second.attempts), (JobStatus::Processing, 2));

    // The crashed runs spent both attempts: a third claim is refused, not run.
    let t2 = t1 + Duration::seconds(31);
    let third = store.claim(&job.id, 0, t2, t2 + Duration::seconds(30)).await;
    assert!(
        matches!(third, Err(StoreError::Conflict { reason: Conflict::AttemptsExhausted, .. })),
        "{third:?}"
    );

    // The first run's late writes are refused: it no longer owns the job.
    let late = store.progress(&first, &update(50, Some("late"))).await;
    assert!(
        matches!(late, Err(StoreError::Conflict { reason: Conflict::NotOwner { attempt: 1 }, .. })),
        "{late:?}"
    );
}

pub async fn a_run_finishes_with_timings_and_a_retry_backs_off(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("echo")).await;
    let now = Utc::now();

    let run1 = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    let before = (f.requests)();
    store
        .progress(
            &run1,
            &ProgressUpdate { percent: 40, step: Some("extract".into()), message: Some("reading".into()) },
        )
        .await
        .expect("progress");
    assert_eq!((f.requests)() - before, 1, "a progress write is one request");
    let error = JobFailure { message: "flaky".into(), details: None };
    let due = now + Duration::seconds(2);
    let retrying = store
        .finish(
            &run1,
            RunOutcome::Retrying { error: error.clone(), run_at: due },
            None,
            now + Duration::milliseconds(5),
        )
        .await
        .expect("retrying");
    assert_eq!((retrying.status, retrying.progress), (JobStatus::Retrying, 40));
    assert_eq!(retrying.current_step.as_deref(), Some("extract"));
    assert_eq!(retrying.error, Some(error));
    assert_eq!(retrying.lease_until, None);
    assert_eq!(retrying.completed_at, None);

    let t2 = due + Duration::milliseconds(100);
    let run2 = store.claim(&job.id, 0, t2, lease(t2)).await.expect("claim after backoff");
    assert_eq!(run2.attempts, 2);
    let end = t2 + Duration::milliseconds(250);
    let done = store
        .finish(&run2, RunOutcome::Completed { result: Some(json!({"ok": true})) }, None, end)
        .await
        .expect("complete");
    assert_eq!((done.status, done.progress), (JobStatus::Completed, 100));
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert_eq!(done.error, None, "a success clears the earlier attempt's error");
    assert_eq!(done.duration_ms, Some(250));
    assert_eq!(done.wait_ms, Some(100), "wait is measured from when the retry was due");
    assert!(done.started_at <= done.completed_at);

    // Finishing twice (a duplicate worker) is refused.
    let again = store.finish(&run2, RunOutcome::Completed { result: None }, None, end).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { reason: Conflict::NotOwner { .. }, .. })),
        "{again:?}"
    );
}

pub async fn terminal_jobs_refuse_cancel_with_a_typed_error(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("noop")).await;
    let now = Utc::now();
    let run = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    store.finish(&run, RunOutcome::Completed { result: None }, None, now).await.expect("complete");

    let refused = store.cancel(&job.id, now).await;
    match refused {
        Err(StoreError::InvalidTransition {
            from: JobStatus::Completed, event: JobEvent::Cancel, ..
        }) => {}
        other => panic!("expected a refused transition, got {other:?}"),
    }
    let missing = store.cancel("no-such-job", now).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let completed_retry = store.retry(&job.id, None, now).await;
    assert!(matches!(completed_retry, Err(StoreError::InvalidTransition { from: JobStatus::Completed, .. })));
}

pub async fn cancel_stops_a_running_job_at_its_next_progress_write(f: StoreFixture) {
    let store = f.store;
    let queued = create(&store, new_job("noop")).await;
    let cancelled = store.cancel(&queued.id, Utc::now()).await.expect("cancel queued");
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let claim = store.claim(&queued.id, 0, Utc::now(), lease(Utc::now())).await;
    assert!(
        matches!(
            claim,
            Err(StoreError::InvalidTransition { from: JobStatus::Cancelled, event: JobEvent::Claim, .. })
        ),
        "a cancelled job is never claimed: {claim:?}"
    );

    let running = create(&store, new_job("sleep")).await;
    let now = Utc::now();
    let run = store.claim(&running.id, 0, now, lease(now)).await.expect("claim");
    store.cancel(&running.id, now).await.expect("cancel running");
    match store.progress(&run, &update(10, None)).await {
        Err(StoreError::Conflict { reason: Conflict::NotOwner { attempt: 1 }, current, .. }) => {
            assert_eq!(current.status, JobStatus::Cancelled)
        }
        other => panic!("progress after cancel must be refused, got {other:?}"),
    }
    let stored = store.get(&running.id, true).await.expect("get").expect("exists");
    assert_eq!((stored.status, stored.progress), (JobStatus::Cancelled, 0));
}

pub async fn retry_starts_a_new_generation_and_old_deliveries_are_stale(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("fail")).await;
    let now = Utc::now();
    store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    store.fail(&job.id, &JobFailure { message: "fatal".into(), details: None }, now).await.expect("fail");

    let retried = store.retry(&job.id, Some(Priority::HIGH), now).await.expect("retry");
    assert_eq!((retried.status, retried.attempts, retried.generation), (JobStatus::Queued, 0, 1));
    assert_eq!((retried.tier, retried.error.clone(), retried.completed_at), (PriorityTier::High, None, None));

    let stale = store.claim(&job.id, 0, now, lease(now)).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict { reason: Conflict::StaleGeneration { delivered: 0, current: 1 }, .. })
        ),
        "{stale:?}"
    );
    let fresh = store.claim(&job.id, 1, now, lease(now)).await.expect("new generation claims");
    assert_eq!(fresh.attempts, 1);
}

pub async fn list_by_status_pages_through_250_jobs_without_duplicates_or_gaps(f: StoreFixture) {
    let store = f.store;
    let store = &store;
    let created: Vec<Job> = futures::stream::iter(0..250)
        .map(|i| async move {
            let spec = NewJob {
                batch_id: (i % 5 == 0).then(|| "batch-a".to_owned()),
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
        store.cancel(&job.id, now).await.expect("cancel");
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

    let batch = ListQuery { batch_id: Some("batch-a".into()), ..ListQuery::default() };
    let in_batch: Vec<Job> = collect_pages(store, &batch, 500).await.into_iter().flatten().collect();
    assert_eq!(in_batch.len(), 50);

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

pub async fn pause_flags_are_set_and_cleared_per_scope(f: StoreFixture) {
    let store = f.store;
    assert!(store.pause_flags().await.expect("flags").paused.is_empty());
    store.set_paused(&PauseScope::Queue(PriorityTier::Low), true).await.expect("pause low");
    let flags = store.set_paused(&PauseScope::Type("resize".into()), true).await.expect("pause type");
    assert!(flags.is_paused(PriorityTier::Low, "noop"));
    assert!(flags.is_paused(PriorityTier::High, "resize"));
    assert!(!flags.is_paused(PriorityTier::High, "noop"));
    store.set_paused(&PauseScope::Queue(PriorityTier::Low), false).await.expect("resume low");
    let flags = store.pause_flags().await.expect("flags");
    assert!(!flags.is_paused(PriorityTier::Low, "noop"));
    assert!(flags.is_paused(PriorityTier::Low, "resize"));
}

pub async fn terminal_jobs_carry_a_ttl_from_the_configured_retention(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("noop")).await;
    let now = Utc::now();
    store.cancel(&job.id, now).await.expect("cancel");
    let expires = |item: Option<jobq::ports::Item>| item.and_then(|i| i.get(keys::TTL_ATTRIBUTE).cloned());
    let item = f.table.get(&keys::job_pk(&job.id), true).await.expect("raw get");
    assert_eq!(expires(item), Some(Attr::n((now + RETENTION).timestamp())));
    let retried = store.retry(&job.id, None, now).await.expect("retry");
    assert_eq!(retried.status, JobStatus::Queued);
    let item = f.table.get(&keys::job_pk(&job.id), true).await.expect("raw get");
    assert!(item.is_some() && expires(item).is_none(), "a retried job is kept");
}

pub async fn failing_a_generation_leaves_a_retried_job_alone(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("fail")).await;
    let now = Utc::now();
    let error = JobFailure { message: "dead-lettered".into(), details: None };
    store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    // Its run's lease has ended: the letter is the crash loop's, and fails the job.
    let later = lease(now) + Duration::seconds(1);
    store.fail_generation(&job.id, 0, &error, later).await.expect("generation 0 fails");
    let retried = store.retry(&job.id, None, now).await.expect("retry");
    assert_eq!(retried.generation, 1);

    let stale = store.fail_generation(&job.id, 0, &error, now).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict { reason: Conflict::StaleGeneration { delivered: 0, current: 1 }, .. })
        ),
        "a letter of the first life does not fail the second: {stale:?}"
    );
    let stored = store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!((stored.status, stored.generation, stored.error), (JobStatus::Queued, 1, None));
    // A letter of the second life fails it once its run died (queued, never run, it would not).
    store.claim(&job.id, 1, now, lease(now)).await.expect("claim");
    let failed = store.fail_generation(&job.id, 1, &error, later).await.expect("generation 1 fails");
    assert_eq!(failed.status, JobStatus::Failed);
}

/// A dead letter that a copy of a running job's message became fails nothing while the run's
/// lease lives: the run records the job's outcome. Once the lease has ended, it fails the job.
pub async fn a_dead_letter_leaves_a_live_run_alone(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("sleep")).await;
    let now = Utc::now();
    let error = JobFailure { message: "dead-lettered".into(), details: None };
    let run = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    let alive = store.fail_generation(&job.id, 0, &error, now + Duration::seconds(10)).await;
    assert!(
        matches!(&alive, Err(StoreError::Conflict { reason: Conflict::LeaseHeld { until }, .. }) if Some(*until) == run.lease_until),
        "{alive:?}"
    );
    let stored = store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!((stored.status, stored.run_id), (JobStatus::Processing, run.run_id.clone()));
    store.progress(&run, &update(50, None)).await.expect("the run still owns its job");
    let ended = lease(now) + Duration::seconds(1);
    let failed = store.fail_generation(&job.id, 0, &error, ended).await.expect("the lease ended");
    assert_eq!(failed.status, JobStatus::Failed);
}

/// A dead letter fails nothing while its job waits parked (its deliveries were dropped while
/// paused, and a copy a delete missed came back until SQS moved it): the job is sent a message
/// on resume; nor one queued that never ran.
pub async fn a_dead_letter_leaves_a_parked_job_alone(f: StoreFixture) {
    let store = f.store;
    let now = Utc::now();
    let error = JobFailure { message: "dead-lettered".into(), details: None };
    let parked = create(&store, new_job("noop")).await;
    store.park(&parked.id, 0, now).await.expect("park");
    let refused = store.fail_generation(&parked.id, 0, &error, now).await;
    assert!(matches!(refused, Err(StoreError::Conflict { reason: Conflict::Parked, .. })), "{refused:?}");
    let stored = store.get(&parked.id, true).await.expect("get").expect("exists");
    assert_eq!((stored.status, stored.parked), (JobStatus::Queued, true));

    // Nor while it is queued and never ran: its message reached the DLQ by AWS (throttled
    // invocations count receives), and it stays queued for the lost-message walk.
    let waiting = create(&store, new_job("noop")).await;
    let refused = store.fail_generation(&waiting.id, 0, &error, now).await;
    assert!(matches!(refused, Err(StoreError::Conflict { reason: Conflict::NeverRan, .. })), "{refused:?}");
    assert_eq!(store.get(&waiting.id, true).await.expect("get").expect("exists").status, JobStatus::Queued);
}

/// Failing a job whose runs died is pinned to the job as read: a run that renewed its lease
/// since (alive after an outage) or a new generation refuses it, as a conflict; the same read
/// still true fails it.
pub async fn a_dead_run_is_failed_only_as_read(f: StoreFixture) {
    let store = f.store;
    let spec = NewJob { max_attempts: Some(1), ..new_job("sleep") };
    let job = create(&store, spec).await;
    let now = Utc::now();
    let error = JobFailure { message: "died".into(), details: None };
    let run = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    let after_lease = lease(now) + Duration::seconds(5);
    // Read as dead (lease ended); then the run, alive after all, renews its lease.
    let read = store.get(&job.id, true).await.expect("get").expect("exists");
    store.renew_lease(&run, after_lease + Duration::seconds(60)).await.expect("renewed");
    let refused = store.fail_dead_run(&read, after_lease, &error, after_lease).await;
    assert!(matches!(refused, Err(StoreError::Conflict { .. })), "a renewed run keeps its job: {refused:?}");
    let stored = store.get(&job.id, true).await.expect("get").expect("exists");
    assert_eq!(stored.status, JobStatus::Processing);

    // Cancelled and retried: the old read names a generation that is gone.
    let read = store.get(&job.id, true).await.expect("get").expect("exists");
    store.cancel(&job.id, now).await.expect("cancel");
    store.retry(&job.id, None, now).await.expect("retry");
    let late = read.lease_until.expect("lease") + Duration::seconds(1);
    let refused = store.fail_dead_run(&read, late, &error, late).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "a new generation is left alone: {refused:?}"
    );
    assert_eq!(store.get(&job.id, true).await.expect("get").expect("exists").status, JobStatus::Queued);

    // A read that still holds: the run died and its lease ended.
    let run = store.claim(&job.id, 1, now, lease(now)).await.expect("claim again");
    let failed = store.fail_dead_run(&run, after_lease, &error, after_lease).await.expect("failed");
    assert_eq!((failed.status, failed.error.map(|e| e.message)), (JobStatus::Failed, Some("died".into())));
    let again = store.fail_dead_run(&run, after_lease, &error, after_lease).await;
    assert!(matches!(again, Err(StoreError::InvalidTransition { .. })), "{again:?}");
}

/// Defect: ownership by attempt number. A run of an earlier generation (cancelled, then retried)
/// has the same attempt number as the new generation's first run, and must still write nothing.
pub async fn a_stale_run_cannot_write_over_a_retried_generation(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("sleep")).await;
    let now = Utc::now();
    let run_a = store.claim(&job.id, 0, now, lease(now)).await.expect("run A");
    store.cancel(&job.id, now).await.expect("cancel");
    store.retry(&job.id, None, now).await.expect("retry");
    let run_b = store.claim(&job.id, 1, now, lease(now)).await.expect("run B");
    assert_eq!((run_a.attempts, run_b.attempts), (1, 1), "both are attempt 1 of their generation");
    assert_ne!(run_a.run_id, run_b.run_id, "each claim names its run");

    let not_owner = |result: Result<(), StoreError>| {
        matches!(result, Err(StoreError::Conflict { reason: Conflict::NotOwner { attempt: 1 }, .. }))
    };
    assert!(not_owner(store.progress(&run_a, &update(90, Some("stale"))).await), "A's progress");
    assert!(not_owner(store.renew_lease(&run_a, lease(now) + Duration::minutes(5)).await), "A's heartbeat");
    let error = JobFailure { message: "from run A".into(), details: None };
    let a_finish = store.finish(&run_a, RunOutcome::Retrying { error, run_at: now }, None, now).await;
    assert!(not_owner(a_finish.map(drop)), "A's finish");

    store.progress(&run_b, &update(50, None)).await.expect("B's progress is B's");
    let done =
        store.finish(&run_b, RunOutcome::Completed { result: None }, None, now).await.expect("B's finish");
    assert_eq!((done.status, done.generation, done.attempts), (JobStatus::Completed, 1, 1));
    assert_eq!(done.error, None, "nothing of run A was recorded");
}

/// Defect: a claim ignored `run_at`, so a backoff longer than SQS's 15-minute delay ran early.
pub async fn a_retry_is_not_claimed_before_its_run_at(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("fail")).await;
    let now = Utc::now();
    let run1 = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    let run_at = now + Duration::minutes(40);
    let error = JobFailure { message: "later".into(), details: None };
    store.finish(&run1, RunOutcome::Retrying { error, run_at }, None, now).await.expect("retrying");

    let early = now + Duration::minutes(15);
    match store.claim(&job.id, 0, early, lease(early)).await {
        Err(StoreError::Conflict { reason: Conflict::NotDue { at }, .. }) => {
            assert_eq!(at.timestamp_millis(), run_at.timestamp_millis())
        }
        other => panic!("a claim 25 minutes early must be refused as not due, got {other:?}"),
    }
    let run2 = store.claim(&job.id, 0, run_at, lease(run_at)).await.expect("due: claimed");
    assert_eq!((run2.status, run2.attempts), (JobStatus::Processing, 2));
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
    store.cancel(&runs[0].id, t0).await.expect("cancel");
    assert_eq!(expired(t0 + Duration::hours(1)).await, [runs[2].id.clone()], "ended runs leave the index");
}

/// A run whose outcome was lost to an AWS failure is taken over by a new run on the same attempt,
/// once: the lost run can no longer write, and a second take-over of it is refused.
pub async fn a_run_whose_outcome_was_lost_is_taken_over_on_the_same_attempt(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("sleep")).await;
    let now = Utc::now();
    let lost = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    let token = lost.run_id.clone().expect("a claim names its run");
    let before = (f.requests)();
    let resumed = store.take_over(&job.id, 0, &token, now, lease(now)).await.expect("take over");
    assert_eq!((f.requests)() - before, 1, "a take-over is one request");
    assert_eq!((resumed.status, resumed.attempts), (JobStatus::Processing, 1), "the same attempt");
    assert_ne!(resumed.run_id, lost.run_id, "a new run");
    let late = store.progress(&lost, &update(10, None)).await;
    assert!(matches!(late, Err(StoreError::Conflict { reason: Conflict::NotOwner { .. }, .. })), "{late:?}");
    let again = store.take_over(&job.id, 0, &token, now, lease(now)).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "taken over once: {again:?}");
    let stale = store.take_over(&job.id, 1, resumed.run_id.as_deref().unwrap_or(""), now, lease(now)).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "another generation: {stale:?}");
}
