//! What a panic takes down, and how a run that died is found: by its message before its first
//! heartbeat, at its lease end after; a long run that lives renews its lease.

use std::time::Duration;

use jobq::domain::task::Registry;
use jobq::{JobStatus, NewJob, PriorityTier};
use serde_json::json;

use super::stack;

#[tokio::test(start_paused = true)]
async fn a_panicking_job_fails_alone_and_its_nine_neighbours_complete_on_their_first_attempt() {
    let s = stack(Registry::default());
    let payload = json!({"panic": true, "message": "index 7 out of range"});
    let bad = s.enqueue("fail", payload).await;
    let mut good = Vec::new();
    for i in 0..9 {
        good.push(s.enqueue("echo", json!({ "n": i })).await.id);
    }
    assert_eq!(s.drain().await, 10, "one batch of ten");

    let failed = s.job(&bad.id).await;
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    let error = failed.error.expect("the panic is the job's error");
    assert!(error.message.contains("index 7 out of range"), "{}", error.message);
    let details = error.details.expect("details");
    assert_eq!(
        (details["panic"].clone(), details["reason"].clone()),
        (json!(true), json!("handler_panicked"))
    );
    for id in &good {
        let job = s.job(id).await;
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{id}: untouched by the panic");
    }
    let letters = s.ports.dlqs.receive(PriorityTier::Normal, 10, 0, None).await.expect("dlq");
    assert_eq!(letters.len(), 1, "only the panicking job is dead-lettered");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_died_before_its_first_heartbeat_runs_again_when_its_message_returns() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 30, "steps": 1})).await;
    // A worker takes the job, then its process dies 5 s in: no finish, and no heartbeat yet, so
    // its lease was never put in the lease-end index.
    let crashed = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(5)).await;
    crashed.abort();
    let running = s.job(&job.id).await;
    assert_eq!((running.status, running.attempts), (JobStatus::Processing, 1));
    let lease_end = running.lease_until.expect("a lease");

    // Its message was hidden a lease and ten seconds, not the queue's 90 minutes.
    tokio::time::sleep(Duration::from_secs(115)).await;
    assert_eq!(s.drain().await, 0, "still hidden while the lease may be alive");
    assert_eq!(s.scheduler.tick(s.clock.now()).await.expect("tick").recovered, 0, "not in by-due");
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(s.clock.now() > lease_end);
    assert_eq!(s.drain().await, 1, "back a lease after the batch began");
    // Taken back reversibly, as the scheduler would (a run alive after all could own it again),
    // and run anew after the grace.
    assert_eq!(s.job(&job.id).await.status, JobStatus::Retrying);
    tokio::time::sleep(Duration::from_secs(61)).await;
    s.drain().await;
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2), "the dead run's attempt counts");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_died_after_its_first_heartbeat_is_found_at_its_lease_end() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 300, "steps": 1})).await;
    // The run lives past its first heartbeat (a third of its 2-minute lease), then its process
    // dies: the message is now hidden for the queue's 90 minutes, and the lease is in by-due.
    let crashed = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(45)).await;
    crashed.abort();
    let running = s.job(&job.id).await;
    assert_eq!((running.status, running.attempts), (JobStatus::Processing, 1));
    let lease_end = running.lease_until.expect("a lease");
    let started = running.started_at.expect("started");
    assert!(lease_end - started > chrono::Duration::minutes(2), "renewed by the heartbeat: {lease_end}");

    // The scheduler runs every minute.
    let found_at = loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = s.clock.now();
        if s.scheduler.tick(now).await.expect("tick").recovered == 1 {
            break now;
        }
        assert!(now - lease_end < chrono::Duration::minutes(30), "never recovered");
    };
    assert!(found_at > lease_end, "not before its lease ended");
    assert!(found_at - lease_end <= chrono::Duration::minutes(2), "found {} after", found_at - lease_end);
    // Its message waits the resume grace (a minute: time for a run alive after all to own the
    // job again), then runs it.
    s.drain().await;
    assert_eq!(s.job(&job.id).await.status, JobStatus::Retrying, "not before the grace");
    tokio::time::sleep(Duration::from_secs(61)).await;
    let runner = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(301)).await;
    runner.abort();
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2), "the dead run's attempt counts");
}

#[tokio::test(start_paused = true)]
async fn a_long_run_renews_its_lease_and_is_never_taken_for_dead() {
    let s = stack(Registry::default());
    let spec = NewJob {
        job_type: "sleep".into(),
        payload: json!({"seconds": 600, "steps": 1}),
        timeout_seconds: Some(900),
        ..NewJob::default()
    };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    let running = s.spawn_drain();
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = s.clock.now();
        assert_eq!(s.scheduler.tick(now).await.expect("tick").recovered, 0, "alive, not recovered");
        let current = s.job(&job.id).await;
        if current.status == JobStatus::Processing {
            assert!(current.lease_until.is_some_and(|l| l > now), "lease renewed ahead of {now}");
        }
    }
    running.await.expect("worker");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

#[test]
fn the_release_profile_unwinds_so_a_panic_stays_in_its_job() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .expect("the workspace manifest");
    let release = manifest.split("[profile.release]").nth(1).expect("a release profile");
    let release = release.split("\n[").next().unwrap_or_default();
    let aborts = release.lines().any(|l| l.split('#').next().unwrap_or_default().contains("\"abort\""));
    assert!(!aborts, "panic = \"abort\" would end a whole batch's process on one job's panic");
}
