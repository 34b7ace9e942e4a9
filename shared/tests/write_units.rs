//! Write units of one `noop` job through the real service and worker on the in-memory ports, by
//! step and by index: where an index redesign (issue 15) shows its effect, one write at a time.

use jobq::adapters::memory::capacity::{Charge, job_step};
use jobq::domain::task::Registry;
use jobq::handlers::worker::drain;
use jobq::memory_stack::MemoryStack;
use jobq::ports::table::{Attr, Cond, Item, TableError};
use jobq::{JobStatus, NewJob};

fn stack() -> MemoryStack {
    let stack = MemoryStack::new(Registry::with_builtins()).expect("memory stack");
    stack.aws.table.classify_writes(job_step);
    stack
}

/// A `noop` job of an owner, in a group: as a submitter enqueues it.
fn noop() -> NewJob {
    NewJob {
        job_type: "noop".into(),
        owner: Some("alice".into()),
        group: Some("channel:abc".into()),
        ..NewJob::default()
    }
}

fn charge(table: u64, indexes: &[(&'static str, u64)]) -> Charge {
    Charge { table, indexes: indexes.iter().copied().collect() }
}

/// A `noop` job without a batch: three table writes (create, claim, finish) and one index entry,
/// `by-created` at its creation, which lists it by owner and group too. Neither `queued`, `processing` nor `completed` is in `by-status`,
/// and a run shorter than a third of its lease never enters `by-due` (issue 15, defect 6: at most
/// five, with room for one more index). The worker writes no statistics (the counters come from
/// the change stream).
#[tokio::test]
async fn one_noop_job_by_step() {
    let s = stack();
    let (job, _) = s.service.enqueue(noop()).await.expect("enqueue");
    drain(&s.ports.queues, &s.worker).await.expect("drain");
    assert_eq!(s.service.get(&job.id).await.expect("get").expect("exists").status, JobStatus::Completed);
    let units = s.aws.table.write_units();
    let steps = &units.by_step;
    assert_eq!(steps["enqueue"], charge(1, &[("by-created", 1)]), "{units:#?}");
    assert_eq!(steps["claim"], charge(1, &[]), "{units:#?}");
    assert_eq!(steps["finish"], charge(1, &[]), "{units:#?}");
    assert_eq!(steps.len(), 3, "no other writes: {units:#?}");
    assert_eq!((units.total(), units.refused), (4, 0));
    assert_eq!(units.by_operation, [("PutItem", 2), ("UpdateItem", 2)].into(), "{units:#?}");
}

/// Off that path a job pays for its listing: a failure enters `by-status`; a retry's backoff
/// enters `by-due` and leaves it with the next run's outcome.
#[tokio::test]
async fn a_job_that_fails_once_then_completes_pays_for_its_watch() {
    let s = stack();
    let spec =
        NewJob { job_type: "fail".into(), payload: serde_json::json!({"times": 1}), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    drain(&s.ports.queues, &s.worker).await.expect("first run");
    let units = s.aws.table.write_units();
    assert_eq!(units.by_step["finish"], charge(1, &[("by-status", 1), ("by-due", 1)]), "{units:#?}");
    s.clock.advance(chrono::Duration::seconds(30));
    drain(&s.ports.queues, &s.worker).await.expect("second run");
    assert_eq!(s.service.get(&job.id).await.expect("get").expect("exists").status, JobStatus::Completed);
    let units = s.aws.table.write_units();
    // The second claim leaves `by-status`; the watch stays until the run's outcome removes it.
    assert_eq!(units.by_step["claim"], charge(2, &[("by-status", 1)]), "{units:#?}");
    assert_eq!(units.by_step["finish"], charge(2, &[("by-status", 1), ("by-due", 2)]), "{units:#?}");
}

/// A batch's job enters no index of its own: it is listed from `by-created` (its batch is
/// projected there), so a batch job pays what a lone one pays.
#[tokio::test]
async fn a_batch_job_enters_by_created_only() {
    let s = stack();
    let jobs = s.service.enqueue_batch(vec![noop(), noop()], "b1").await.expect("batch");
    assert_eq!(jobs.len(), 2);
    let units = s.aws.table.write_units();
    assert_eq!(units.by_step["enqueue"], charge(2, &[("by-created", 2)]));
    // And the batch's note of the jobs it made, on its counter item: one unit per batch.
    assert_eq!(units.by_operation, [("BatchWriteItem", 4), ("UpdateItem", 1)].into());
}

/// Refused writes cost the table; throttled ones and TTL deletions cost nothing; a reset starts
/// again from zero.
#[tokio::test]
async fn refusals_cost_and_throttles_do_not() {
    let s = stack();
    let (job, _) = s.service.enqueue(noop()).await.expect("enqueue");
    s.aws.table.reset_write_units();
    let table = s.ports.store.table_port();
    let key = format!("job#{}", job.id);
    let never = Cond::not_exists("pk");
    let refused = table.delete(&key, Some(&never)).await.expect_err("the job exists");
    assert!(matches!(refused, TableError::ConditionFailed { .. }));
    s.aws.table.throttle_next(1);
    table.delete(&key, None).await.expect_err("throttled");
    let units = s.aws.table.write_units();
    assert_eq!((units.total(), units.refused), (1, 1), "{units:#?}");
    assert_eq!(units.by_step["refused"], charge(1, &[]));
    table.delete(&key, None).await.expect("delete");
    assert_eq!(s.aws.table.write_units().by_step["other"], charge(1, &[("by-created", 1)]));

    let expired = Item::from([("pk".to_owned(), Attr::s("job#old")), ("expires_at".to_owned(), Attr::n(0))]);
    table.put(expired, None).await.expect("put");
    let before = s.aws.table.write_units();
    assert_eq!(s.aws.table.expire(), 1);
    assert_eq!(s.aws.table.write_units(), before, "TTL deletions are free");
}
