//! A job's other messages while it runs or waits: a second message for a long run, a dead letter
//! beside a live run, a message dropped beside a long run, a job dead-lettered before it ran.

use std::time::Duration;

use jobq::domain::task::Registry;
use jobq::{Envelope, JobStatus};
use serde_json::json;

use super::{hide_enqueue_message, stack};

/// Issue 25, defect 1: a second message for a running job (here as an idempotency key POSTed
/// again while the job waited would send it) used to come back at every lease end without
/// being deleted, until SQS moved it to the DLQ after maxReceiveCount receives and the
/// dead-letter function failed the healthy job. A 20-minute run is ten lease periods; the copy
/// is dropped once the run is watched, and the job completes on its first attempt.
#[tokio::test(start_paused = true)]
async fn a_second_message_for_a_long_run_never_walks_toward_the_dlq() {
    let s = stack(Registry::default());
    let job = s.enqueue_long_sleep(1200, 20).await;
    let copy = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.queues.send(&copy, 0).await.expect("a second message");
    let receives_before = s.queue_requests("ReceiveMessage");
    let run = s.spawn_drain();
    let letters = s.ports.dead_letters();
    let dlq_arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let mut received = 0;
    while !run.is_finished() {
        tokio::time::sleep(Duration::from_secs(10)).await;
        received += s.drain().await;
        let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
        if !dead.is_empty() {
            letters.handle(jobq::handlers::worker::sqs_event(&dead, &dlq_arn, "memory")).await;
        }
    }
    run.await.expect("the run");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "{:?}", done.error);
    // Once before the run's first heartbeat (it could have been the run's own message), once
    // after, when it is dropped.
    assert!(received <= 2, "the copy was received {received} times");
    let depth = s.ports.dlqs.depth(job.tier).await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "nothing dead-lettered");
    let depth = s.ports.queues.depth(job.tier).await.expect("depth");
    assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "no copy left behind");
    assert!(s.queue_requests("ReceiveMessage") > receives_before);
}

/// Issue 25, defect 1: a dead letter fails a job only when its run has ended. A letter that
/// reaches the dead-letter function while a run holds the job leaves the run to finish it.
#[tokio::test(start_paused = true)]
async fn a_dead_letter_for_a_job_whose_run_is_alive_leaves_the_run_to_finish() {
    let s = stack(Registry::default());
    let job = s.enqueue("sleep", json!({"seconds": 200, "steps": 4})).await;
    let run = s.spawn_drain();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(s.job(&job.id).await.status, JobStatus::Processing);
    let letter = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.dlqs.send(&letter, 0).await.expect("a letter SQS moved by itself");
    let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
    let arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let handler = s.ports.dead_letters();
    let outcome = handler.record(&jobq::handlers::worker::sqs_event(&dead, &arn, "memory").records[0]).await;
    assert_eq!(
        outcome.expect("recorded"),
        jobq::handlers::dlq::DeadLetterOutcome::RunAlive { job_id: job.id.clone() }
    );
    run.await.expect("the run");
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

/// Issue 25 (found by the hostile simulation, seeds 1024, 1121, 1180): Lambda deletes a batch's
/// messages only when the invocation returns, and the batch was hidden only a little past one
/// lease. A message dropped at once (here its job was cancelled) in a batch with a ten-minute run
/// came back every lease, a receive counted each time, until SQS moved it to the DLQ. It is now
/// deleted while the batch runs, before its hold ends.
#[tokio::test(start_paused = true)]
async fn a_message_dropped_at_once_beside_a_long_run_never_comes_back() {
    let s = stack(Registry::default());
    let long = s.enqueue_long_sleep(600, 10).await;
    let cancelled = s.enqueue("noop", json!(null)).await;
    s.service.cancel(&cancelled.id, "ops").await.expect("cancel");
    let batch = s.spawn_drain();
    let url = s.ports.queues.url(cancelled.tier).to_owned();
    let mut seen_after_its_hold = 0;
    while s.clock.now() - long.created_at < chrono::Duration::minutes(11) {
        tokio::time::sleep(Duration::from_secs(20)).await;
        // The batch's first hold ends 130 s in: by then the dropped message is gone.
        let past_hold = s.clock.now() - long.created_at > chrono::Duration::seconds(125);
        if past_hold && s.queues.bodies(&url).iter().any(|b| b.contains(&cancelled.id)) {
            seen_after_its_hold += 1;
        }
        s.drain().await;
    }
    assert_eq!(batch.await.expect("the batch ends"), 2);
    assert_eq!(seen_after_its_hold, 0, "the dropped message stayed in the queue while its batch ran");
    let done = s.job(&long.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));
}

/// A queued job whose message reached its DLQ unjudged (Lambda's throttled invocations count
/// receives) is left queued by the dead-letter function, and the scheduler's lost-message walk
/// sends it again: it runs, on its first attempt, within the hour.
#[tokio::test(start_paused = true)]
async fn a_job_dead_lettered_before_it_ran_is_sent_again_and_runs() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(&s, job.tier).await;
    let letter = Envelope::new(&job.id, &job.job_type, job.tier, job.generation);
    s.ports.dlqs.send(&letter, 0).await.expect("dead-lettered");
    let dead = s.ports.dlqs.receive(job.tier, 10, 0, None).await.expect("dlq");
    let arn = s.ports.dlqs.arn(job.tier).await.expect("arn");
    let handler = s.ports.dead_letters();
    assert!(
        handler
            .handle(jobq::handlers::worker::sqs_event(&dead, &arn, "memory"))
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(s.job(&job.id).await.status, JobStatus::Queued, "left queued, not failed");

    let mut minutes = 0;
    while s.job(&job.id).await.status != JobStatus::Completed && minutes < 60 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        s.scheduler.tick(s.clock.now()).await.expect("tick");
        s.drain().await;
        minutes += 1;
    }
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "after {minutes} minutes");
}
