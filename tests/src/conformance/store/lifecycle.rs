//! Status changes from outside a run: cancel, retry, failing a generation or a dead run, a dead
//! letter; and the expiry terminal jobs carry.

use chrono::{Duration, Utc};
use jobq::ports::table::Attr;
use jobq::store::{Conflict, RunOutcome, StoreError, keys};
use jobq::{JobEvent, JobFailure, JobStatus, NewJob, Priority, PriorityTier};

use super::{RETENTION, StoreFixture, create, lease, new_job, update};

pub async fn terminal_jobs_refuse_cancel_with_a_typed_error(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("noop")).await;
    let now = Utc::now();
    let run = store.claim(&job.id, 0, now, lease(now)).await.expect("claim");
    store.finish(&run, RunOutcome::Completed { result: None }, None, now).await.expect("complete");

    let refused = store.cancel(&job.id, "ops", now).await;
    match refused {
        Err(StoreError::InvalidTransition {
            from: JobStatus::Completed, event: JobEvent::Cancel, ..
        }) => {}
        other => panic!("expected a refused transition, got {other:?}"),
    }
    let missing = store.cancel("no-such-job", "ops", now).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let completed_retry = store.retry(&job.id, None, "ops", now).await;
    assert!(matches!(completed_retry, Err(StoreError::InvalidTransition { from: JobStatus::Completed, .. })));
}

pub async fn cancel_stops_a_running_job_at_its_next_progress_write(f: StoreFixture) {
    let store = f.store;
    let queued = create(&store, new_job("noop")).await;
    let cancelled = store.cancel(&queued.id, "ops", Utc::now()).await.expect("cancel queued");
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
    store.cancel(&running.id, "ops", now).await.expect("cancel running");
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

    let retried = store.retry(&job.id, Some(Priority::HIGH), "ops", now).await.expect("retry");
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

pub async fn terminal_jobs_carry_a_ttl_from_the_configured_retention(f: StoreFixture) {
    let store = f.store;
    let job = create(&store, new_job("noop")).await;
    let now = Utc::now();
    store.cancel(&job.id, "ops", now).await.expect("cancel");
    let expires = |item: Option<jobq::ports::Item>| item.and_then(|i| i.get(keys::TTL_ATTRIBUTE).cloned());
    let item = f.table.get(&keys::job_pk(&job.id), true).await.expect("raw get");
    assert_eq!(expires(item), Some(Attr::n((now + RETENTION).timestamp())));
    let retried = store.retry(&job.id, None, "ops", now).await.expect("retry");
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
    let retried = store.retry(&job.id, None, "ops", now).await.expect("retry");
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
    store.cancel(&job.id, "ops", now).await.expect("cancel");
    store.retry(&job.id, None, "ops", now).await.expect("retry");
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
    store.cancel(&job.id, "ops", now).await.expect("cancel");
    store.retry(&job.id, None, "ops", now).await.expect("retry");
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

/// A create whose message was not sent takes its job back only as it left it: not once another
/// enqueue of the key marked it as being sent, nor once a run claimed it; and a marked job that
/// was taken back first is reported gone, to be made again.
pub async fn a_create_is_taken_back_only_as_it_left_the_job(f: StoreFixture) {
    let store = f.store;
    let keyed = |key: &str| NewJob { idempotency_key: Some(key.into()), ..new_job("noop") };
    let now = Utc::now();

    let (_, alone) = store.create_undoable(&jobq::Job::new(keyed("alone"), now)).await.expect("create");
    store.take_back(&alone).await.expect("untouched: taken back");
    let (recreated, _) = store.create_undoable(&jobq::Job::new(keyed("alone"), now)).await.expect("again");
    assert!(matches!(recreated, jobq::store::Created::New(_)), "gone, so made anew: {recreated:?}");

    let (made, first) = store.create_undoable(&jobq::Job::new(keyed("sent"), now)).await.expect("create");
    let (found, second) = store.create_undoable(&jobq::Job::new(keyed("sent"), now)).await.expect("found");
    assert!(matches!(found, jobq::store::Created::Existing(_)), "{found:?}");
    store.take_back(&second).await.expect_err("another create's job is not this one's to take back");
    store.mark_sending(&made.job().id).await.expect("marked as being sent");
    let refused = store.take_back(&first).await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
    assert!(store.get(&made.job().id, true).await.expect("get").is_some(), "the sent job stays");

    let (claimed, receipt) = store.create_undoable(&jobq::Job::new(keyed("run"), now)).await.expect("create");
    store.claim(&claimed.job().id, 0, now, lease(now)).await.expect("claim");
    store.take_back(&receipt).await.expect_err("a started job is not taken back");
    let started = store.mark_sending(&claimed.job().id).await;
    assert!(
        matches!(started, Err(StoreError::Conflict { .. })),
        "a started job needs no message: {started:?}"
    );

    let (gone, receipt) = store.create_undoable(&jobq::Job::new(keyed("gone"), now)).await.expect("create");
    store.take_back(&receipt).await.expect("taken back");
    let missing = store.mark_sending(&gone.job().id).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
}
