//! A job's run: created once, claimed once, its lease taken back when it ends, finished with
//! its timings, and taken over on the same attempt when its outcome was lost.

use chrono::{Duration, Utc};
use jobq::domain::progress::ProgressUpdate;
use jobq::store::{Conflict, Created, RunOutcome, StoreError};
use jobq::{Job, JobFailure, JobStatus, NewJob};
use serde_json::json;

use super::{StoreFixture, create, lease, new_job, update};

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
