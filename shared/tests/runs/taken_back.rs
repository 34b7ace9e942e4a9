//! Who owns a job whose run was taken back or whose claim's answer was lost: the run that is
//! alive, on the same attempt, and an attempt counted twice is given back.

use jobq::domain::task::Registry;
use jobq::{Envelope, Job, JobStatus};
use serde_json::json;

use super::{Stack, hide_enqueue_message, stack};

/// An outage kept a live run from renewing, so its lease ended and the scheduler took the job
/// back: the run's next heartbeat owns it again, on the same attempt, and its outcome is recorded;
/// the recovered job's message, due after the grace, then finds it taken. Another run's write
/// still cannot.
#[tokio::test(start_paused = true)]
async fn a_run_alive_after_its_job_was_taken_back_owns_it_again_on_the_same_attempt() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    let store = &s.ports.store;
    let now = s.clock.now();
    let run =
        store.claim(&job.id, job.generation, now, now + chrono::Duration::seconds(60)).await.expect("claim");
    let later = now + chrono::Duration::minutes(3);
    let taken = store.recover(
        &run,
        later - chrono::Duration::seconds(30),
        later,
        later + chrono::Duration::seconds(60),
    );
    let taken = taken.await.expect("taken back");
    assert_eq!((taken.status, taken.attempts), (JobStatus::Retrying, 1));

    let mut stranger = run.clone();
    stranger.run_id = Some("another-run".into());
    assert!(store.renew_lease(&stranger, later + chrono::Duration::minutes(2)).await.is_err(), "not its run");
    store.renew_lease(&run, later + chrono::Duration::minutes(2)).await.expect("the run owns it again");
    let owned = s.job(&job.id).await;
    assert_eq!((owned.status, owned.attempts), (JobStatus::Processing, 1));
    let done = store
        .finish(&run, jobq::store::RunOutcome::Completed { result: None }, None, later)
        .await
        .expect("finish");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "no attempt spent on the outage");
}

/// Issue 25 (found by the hostile simulation, seed 1066): a claim took effect but AWS lost its
/// answer, so the worker sent the delivery again, not knowing it had started a run. The run
/// nobody runs held the job until its lease ended and the job was claimed again, on attempt 2.
/// The delivery sent again names the run its claim may have started, and takes it over on its
/// attempt.
#[tokio::test(start_paused = true)]
async fn a_claim_whose_answer_was_lost_is_taken_over_on_its_attempt() {
    let s = stack(Registry::default());
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(&s, job.tier).await;
    let now = s.clock.now();
    let store = &s.ports.store;
    let ghost =
        store.claim_as(&job.id, job.generation, "ghost-run", now, now + chrono::Duration::seconds(60));
    assert_eq!(ghost.await.expect("the claim took effect").attempts, 1);

    let again = Envelope {
        claimed: Some("ghost-run".into()),
        ..Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
    };
    s.ports.queues.send(&again, 0).await.expect("send");
    assert_eq!(s.drain().await, 1);
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1), "the lost answer cost no attempt");
}

/// A job whose run "lost-run" (attempt 1) was taken back at its lease end and then claimed again
/// by the take-back's message, on attempt 2; with a delivery resuming the lost run, as the
/// worker sends one when its finish is lost to AWS.
async fn claimed_again_after_a_take_back(s: &Stack) -> (Job, Job, Envelope) {
    let job = s.enqueue("noop", json!(null)).await;
    hide_enqueue_message(s, job.tier).await;
    let store = &s.ports.store;
    let (now, minutes) = (s.clock.now(), chrono::Duration::minutes);
    let t0 = now - minutes(5);
    let lost = store.claim_as(&job.id, job.generation, "lost-run", t0, t0 + minutes(1)).await.expect("claim");
    let taken =
        store.recover(&lost, t0 + minutes(2), t0 + minutes(3), t0 + minutes(4)).await.expect("take back");
    assert_eq!(taken.status, JobStatus::Retrying);
    let second = store.claim(&job.id, job.generation, now, now + minutes(2)).await.expect("claimed again");
    assert_eq!(second.attempts, 2);
    let resume = Envelope::new(&job.id, &job.job_type, job.tier, job.generation)
        .resuming(Some("lost-run".into()))
        .at_attempt(1);
    (job, second, resume)
}

/// Issue 25 (found by the hostile simulation, seed 1030): a run's finish was lost to a long
/// throttle; the delivery resuming it waited behind a deep queue while the scheduler took the
/// job back at its lease end, and the take-back's message claimed it first, on attempt 2. The
/// resuming delivery, finding that, gives the attempt back: the new run stands for the lost one.
#[tokio::test(start_paused = true)]
async fn a_resume_that_finds_its_job_claimed_after_the_take_back_gives_the_attempt_back() {
    let s = stack(Registry::default());
    let (job, second, resume) = claimed_again_after_a_take_back(&s).await;
    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    let running = s.job(&job.id).await;
    assert_eq!(
        (running.status, running.run_id.as_deref()),
        (JobStatus::Processing, second.run_id.as_deref())
    );
    assert_eq!(running.attempts, 1, "the attempt the take-back counted is given back");
    let outcome = jobq::store::RunOutcome::Completed { result: None };
    let done =
        s.ports.store.finish(&second, outcome, None, s.clock.now()).await.expect("the new run finishes");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 1));

    // The same resume delivered again gives nothing more back.
    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    assert_eq!(s.job(&job.id).await.attempts, 1);
}

/// The same, with the resuming delivery later still (held by a throttled invocation for its
/// visibility timeout, seed 1158): the run after the take-back has finished by then, and the
/// finished job is given its attempt back.
#[tokio::test(start_paused = true)]
async fn a_resume_later_than_the_run_after_the_take_back_still_gives_the_attempt_back() {
    let s = stack(Registry::default());
    let (job, second, resume) = claimed_again_after_a_take_back(&s).await;
    let (store, now) = (&s.ports.store, s.clock.now());
    store.renew_lease(&second, now + chrono::Duration::minutes(3)).await.expect("a heartbeat");
    let outcome = jobq::store::RunOutcome::Completed { result: None };
    let done = store.finish(&second, outcome, None, now).await.expect("the new run finishes");
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2));

    s.ports.queues.send(&resume, 0).await.expect("send");
    s.drain().await;
    let given_back = s.job(&job.id).await;
    assert_eq!((given_back.status, given_back.attempts), (JobStatus::Completed, 1));
}
