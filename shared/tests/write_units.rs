//! Write units of one `noop` job through the real service and worker on the in-memory ports, by
//! step and by index: where an index redesign (issue 15) shows its effect, one write at a time.

use jobq::memory::capacity::{Charge, job_step};
use jobq::ports::table::{Attr, Cond, Item, TableError};
use jobq::task::Registry;
use jobq::wiring::MemoryStack;
use jobq::worker::drain;
use jobq::{JobStatus, NewJob};

fn stack() -> MemoryStack {
    let stack = MemoryStack::new(Registry::with_builtins()).expect("memory stack");
    stack.aws.table.classify_writes(job_step);
    stack
}

fn noop() -> NewJob {
    NewJob { job_type: "noop".into(), ..NewJob::default() }
}

fn charge(table: u64, indexes: &[(&'static str, u64)]) -> Charge {
    Charge { table, indexes: indexes.iter().copied().collect() }
}

/// Today's design: enqueue puts the job in `by-status` and `by-type`; claim and finish each move
/// it within `by-status` (a delete and a put) and put it in or take it out of `by-due` (its
/// lease). The worker writes no statistics (the counters come from the change stream).
#[tokio::test]
async fn one_noop_job_by_step() {
    let s = stack();
    let (job, _) = s.service.enqueue(noop()).await.expect("enqueue");
    drain(&s.ports.queues, &s.worker).await.expect("drain");
    assert_eq!(s.service.get(&job.id).await.expect("get").expect("exists").status, JobStatus::Completed);
    let units = s.aws.table.write_units();
    let steps = &units.by_step;
    assert_eq!(steps["enqueue"], charge(1, &[("by-status", 1), ("by-type", 1)]), "{units:#?}");
    assert_eq!(steps["claim"], charge(1, &[("by-status", 2), ("by-due", 1)]), "{units:#?}");
    assert_eq!(steps["finish"], charge(1, &[("by-status", 2), ("by-due", 1)]), "{units:#?}");
    assert_eq!(steps.len(), 3, "no other writes: {units:#?}");
    assert_eq!((units.total(), units.refused), (11, 0));
    assert_eq!(units.by_operation, [("PutItem", 3), ("UpdateItem", 8)].into());
}

/// A batch puts each job in `by-batch` too, by BatchWriteItem.
#[tokio::test]
async fn a_batch_job_enters_the_batch_index() {
    let s = stack();
    let jobs = s.service.enqueue_batch(vec![noop(), noop()], "b1").await.expect("batch");
    assert_eq!(jobs.len(), 2);
    let units = s.aws.table.write_units();
    assert_eq!(units.by_step["enqueue"], charge(2, &[("by-status", 2), ("by-type", 2), ("by-batch", 2)]));
    assert_eq!(units.by_operation, [("BatchWriteItem", 8)].into());
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
    assert_eq!(s.aws.table.write_units().by_step["other"], charge(1, &[("by-status", 1), ("by-type", 1)]));

    let expired = Item::from([("pk".to_owned(), Attr::s("job#old")), ("expires_at".to_owned(), Attr::n(0))]);
    table.put(expired, None).await.expect("put");
    let before = s.aws.table.write_units();
    assert_eq!(s.aws.table.expire(), 1);
    assert_eq!(s.aws.table.write_units(), before, "TTL deletions are free");
}
