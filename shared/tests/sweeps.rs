//! The scheduler's sweeps at scale over time, on the in-memory ports under tokio's paused clock:
//! each finds exactly what is due, whatever the table keeps; paused jobs wait parked at no cost.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobq::adapters::memory::{MemoryBlobs, MemoryQueues, MemoryTable};
use jobq::domain::task::Registry;
use jobq::handlers::scheduler::{RecurringJob, ScheduleExpr, Scheduler, SchedulerSettings, TickPart};
use jobq::handlers::service::JobService;
use jobq::handlers::worker::{Worker, WorkerSettings, drain};
use jobq::ports::{Clock, TokioClock};
use jobq::store::PauseScope;
use jobq::{Job, JobStatus, NewJob, Ports, PriorityTier};
use serde_json::json;

struct Stack {
    clock: Arc<dyn Clock>,
    table: MemoryTable,
    queues: Arc<MemoryQueues>,
    ports: Ports,
    service: JobService,
    worker: Worker,
    scheduler: Scheduler,
}

fn stack() -> Stack {
    stack_with(Vec::new(), None)
}

/// The stack with these recurring jobs, and a bucket for large parts when given one.
fn stack_with(recurring: Vec<(RecurringJob, ScheduleExpr)>, bucket: Option<&MemoryBlobs>) -> Stack {
    let base = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(base));
    let (mut ports, aws) = Ports::memory(clock.clone()).expect("memory ports");
    if let Some(blobs) = bucket {
        ports = ports.with_blobs(Arc::new(blobs.clone()));
    }
    let registry = Registry::with_builtins();
    let types = registry.job_types();
    let service = ports.service(&aws.config, types.clone());
    let settings =
        SchedulerSettings { recurring, ..SchedulerSettings::from_lookup(|_| None).expect("defaults") };
    let scheduler = ports.scheduler(&aws.config, types, settings).expect("scheduler");
    let worker = ports.worker(registry, WorkerSettings::default());
    Stack { clock, table: aws.table, queues: aws.queues, ports, service, worker, scheduler }
}

impl Stack {
    async fn drain(&self) -> usize {
        drain(&self.ports.queues, &self.worker).await.expect("drain")
    }

    async fn job(&self, id: &str) -> Job {
        self.service.get(id).await.expect("get").expect("exists")
    }

    /// Table and queue requests so far.
    fn requests(&self) -> (u64, u64) {
        let table: u64 = self.table.requests().values().sum();
        let queues: u64 = self.queues.requests().snapshot().values().sum();
        (table, queues)
    }

    /// A job-moving request (a write, or a message sent) of the table or the queues, so far.
    fn moves(&self) -> u64 {
        let table = self.table.requests();
        let writes: u64 = ["UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem"]
            .iter()
            .map(|op| table.get(*op).copied().unwrap_or(0))
            .sum();
        let sent = self.queues.requests().snapshot();
        let sends: u64 = ["SQS:SendMessage", "SQS:SendMessageBatch"]
            .iter()
            .map(|k| sent.get(*k).copied().unwrap_or(0))
            .sum();
        writes + sends
    }
}

fn noop_at(at: DateTime<Utc>) -> NewJob {
    NewJob { job_type: "noop".into(), run_at: Some(at), ..NewJob::default() }
}

#[tokio::test(start_paused = true)]
async fn a_job_due_in_an_hour_among_3000_due_in_30_days_is_released_on_time_at_a_constant_cost() {
    let s = stack();
    let now = s.clock.now();
    let (table_before, _) = s.requests();
    s.scheduler.tick(now).await.expect("tick");
    let empty_tick = s.requests().0 - table_before;

    let far: Vec<Job> = (0..3_000)
        .map(|i| Job::new(noop_at(now + chrono::Duration::days(30) + chrono::Duration::seconds(i)), now))
        .collect();
    s.ports.store.create_many(&far).await.expect("3,000 jobs due in 30 days");
    let (near, _) = s.service.enqueue(noop_at(now + chrono::Duration::hours(1))).await.expect("enqueue");
    assert_eq!(near.status, JobStatus::Scheduled);
    let reach = near.run_at.expect("run_at") - chrono::Duration::minutes(15);

    // Each job is read once, by the lost-message walk a period after its creation; every other
    // tick with nothing due costs what a tick on an empty table does.
    let walked_past = now + chrono::Duration::minutes(16);
    let released_at = loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let at = s.clock.now();
        let before = s.requests().0;
        let report = s.scheduler.tick(at).await.expect("tick");
        if report.released == 0 {
            let cost = s.requests().0 - before;
            if at == walked_past {
                // 8 shard queries per page of 200 rows each, a BatchGetItem per 100 jobs, the
                // walk's new position.
                assert!(cost <= empty_tick + 3 * 8 + 31 + 1, "walked past 3,001 jobs in {cost} requests");
            } else {
                assert_eq!(cost, empty_tick, "a tick with nothing due reads nothing more");
            }
            assert!(at < reach + chrono::Duration::minutes(1), "not released in time");
            continue;
        }
        assert_eq!(report.released, 1, "only the job due");
        break at;
    };
    assert!(released_at >= reach && released_at - reach <= chrono::Duration::minutes(1), "{released_at}");
    tokio::time::sleep(Duration::from_secs(15 * 60 + 1)).await;
    assert_eq!(s.drain().await, 1);
    assert_eq!(s.job(&near.id).await.status, JobStatus::Completed);
}

fn every_five_minutes(name: &str, payload: serde_json::Value) -> (RecurringJob, ScheduleExpr) {
    let schedule = "rate(5 minutes)";
    let job = RecurringJob {
        name: name.into(),
        schedule: schedule.into(),
        job_type: "echo".into(),
        payload,
        priority: jobq::Priority::default(),
    };
    (job, schedule.parse().expect("schedule"))
}

/// A recurring job that cannot be enqueued (its payload too large for a job record, and a bucket
/// that refuses writes besides) is reported by name, and the run goes on: the other recurring
/// job is enqueued and a scheduled job is released. The scheduler never writes to the bucket.
#[tokio::test(start_paused = true)]
async fn a_recurring_job_that_cannot_be_enqueued_stops_neither_the_others_nor_the_sweeps() {
    let blobs = MemoryBlobs::default();
    let big = json!({ "text": "x".repeat(40 * 1024) });
    let recurring = vec![every_five_minutes("big", big), every_five_minutes("small", json!({"n": 1}))];
    let s = stack_with(recurring, Some(&blobs));
    let now = s.clock.now();
    let (scheduled, _) = s.service.enqueue(noop_at(now + chrono::Duration::hours(1))).await.expect("enqueue");
    blobs.set_refusing(true);

    // Fifty minutes on, one minute of each schedule is due (the 50th) and the job within reach.
    tokio::time::sleep(Duration::from_secs(50 * 60)).await;
    let report = s.scheduler.tick(s.clock.now()).await.expect("a failing part fails no run");
    assert_eq!(report.enqueued, 1, "the small one: {report:?}");
    assert_eq!(report.released, 1, "the sweeps ran: {report:?}");
    let parts: Vec<&TickPart> = report.failures.iter().map(|f| &f.part).collect();
    assert!(
        matches!(parts.as_slice(), [TickPart::Schedule { name, .. }] if name == "big"),
        "{:?}",
        report.failures
    );
    assert!(report.failures[0].error.contains("payload"), "{}", report.failures[0].error);
    assert!(blobs.requests().is_empty(), "the scheduler keeps nothing in the bucket");
    assert_eq!(s.job(&scheduled.id).await.status, JobStatus::Queued);
    let metrics = jobq::handlers::scheduler::failure_metrics(&report);
    let emf = metrics.iter().map(|m| m.to_emf_in("jobq", 0).to_string()).collect::<String>();
    assert!(emf.contains(r#""SchedulerFailures":1.0"#) && emf.contains(r#""Part":"schedule""#), "{emf}");
}

/// One sweep that fails (here the paused sweep: the pause flags could not be read) leaves the
/// others to run: a scheduled job due is released all the same.
#[tokio::test(start_paused = true)]
async fn a_sweep_that_fails_leaves_the_others_to_run() {
    let s = stack();
    let now = s.clock.now();
    let (scheduled, _) = s.service.enqueue(noop_at(now + chrono::Duration::hours(1))).await.expect("enqueue");
    tokio::time::sleep(Duration::from_secs(50 * 60)).await;
    // The run's first two table requests (the walk's checkpoint, the pause flags) are throttled.
    s.table.throttle_next(2);
    let report = s.scheduler.tick(s.clock.now()).await.expect("a failing part fails no run");
    assert_eq!(report.released, 1, "{report:?}");
    assert_eq!(s.job(&scheduled.id).await.status, JobStatus::Queued);
    let parts: Vec<&TickPart> = report.failures.iter().map(|f| &f.part).collect();
    assert_eq!(parts, [&TickPart::Sweep { watch: "paused" }, &TickPart::LostWalk], "{:?}", report.failures);
    assert_eq!(report.depths.len(), 3, "every queue's depth read");
}

#[tokio::test(start_paused = true)]
async fn a_retry_whose_message_was_lost_is_sent_again_once() {
    let s = stack();
    let spec = NewJob { job_type: "fail".into(), payload: json!({"times": 1}), ..NewJob::default() };
    let (job, _) = s.service.enqueue(spec).await.expect("enqueue");
    s.drain().await;
    assert_eq!(s.job(&job.id).await.status, JobStatus::Retrying);
    // The retry's message is lost (deleted unread once it is visible).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let got = s.ports.queues.receive(job.tier, 10, 0, None).await.expect("receive");
    assert_eq!(got.len(), 1);
    s.ports.queues.delete_batch(job.tier, &[got[0].receipt_handle.clone()]).await.expect("delete");

    let mut resent = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        resent += s.scheduler.tick(s.clock.now()).await.expect("tick").resent;
    }
    assert_eq!(resent, 1, "sent again once, after the resend period");
    s.drain().await;
    let done = s.job(&job.id).await;
    assert_eq!((done.status, done.attempts), (JobStatus::Completed, 2));
}

#[tokio::test(start_paused = true)]
async fn a_paused_job_waits_parked_at_no_cost_for_a_day_and_runs_once_after_resume() {
    let s = stack();
    s.service.set_paused(&PauseScope::Type("echo".into()), true, "ops").await.expect("pause");
    let mut ids = Vec::new();
    for i in 0..20 {
        let spec = NewJob { job_type: "echo".into(), payload: json!({ "n": i }), ..NewJob::default() };
        ids.push(s.service.enqueue(spec).await.expect("enqueue").0.id);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(s.drain().await, 20, "each delivery parks its job");
    let parked = s.moves();

    // A day of scheduler runs and polling: no job is written or sent again while paused.
    for _ in 0..(24 * 6) {
        tokio::time::sleep(Duration::from_secs(600)).await;
        s.scheduler.tick(s.clock.now()).await.expect("tick");
        s.drain().await;
    }
    // The lost-message walk looked at each job once, a period after its creation, and kept its
    // new position: one write for all of them.
    assert_eq!(s.moves() - parked, 1, "a parked job costs nothing while the pause lasts");
    for id in &ids {
        assert_eq!(s.job(id).await.status, JobStatus::Queued);
    }

    s.service.set_paused(&PauseScope::Type("echo".into()), false, "ops").await.expect("resume");
    assert_eq!(s.scheduler.tick(s.clock.now()).await.expect("tick").released, 20);
    assert_eq!(s.scheduler.tick(s.clock.now()).await.expect("tick").released, 0, "released once");
    assert_eq!(s.drain().await, 20);
    for id in &ids {
        let job = s.job(id).await;
        assert_eq!((job.status, job.attempts), (JobStatus::Completed, 1), "{id} ran once");
    }
    for tier in PriorityTier::ALL {
        let depth = s.ports.queues.depth(tier).await.expect("depth");
        assert_eq!(depth.visible + depth.in_flight + depth.delayed, 0, "no copy left cycling");
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_item_that_does_not_decode_does_not_stop_a_sweep() {
    let s = stack();
    let now = s.clock.now();
    let due = now + chrono::Duration::minutes(20);
    let jobs: Vec<Job> = (0..5).map(|_| Job::new(noop_at(due), now)).collect();
    s.ports.store.create_many(&jobs).await.expect("create");
    // One item, due first, that is not a job any more (written by hand, or by a bad migration).
    let mut bad = jobq::store::keys::Watch::Release.as_str().to_owned();
    bad.push_str("#0");
    let item = jobq::ports::table::Item::from([
        ("pk".to_owned(), jobq::ports::table::Attr::s("job#bad")),
        ("id".to_owned(), jobq::ports::table::Attr::s("bad")),
        ("status".to_owned(), jobq::ports::table::Attr::s("exploded")),
        ("d_pk".to_owned(), jobq::ports::table::Attr::s(&bad)),
        ("d_sk".to_owned(), jobq::ports::table::Attr::s(jobq::store::keys::due_sort_key(now, "bad"))),
    ]);
    jobq::ports::table::Table::put(&s.table, item, None).await.expect("put");
    let report = s.scheduler.tick(now + chrono::Duration::minutes(6)).await.expect("the tick goes on");
    assert_eq!(report.released, 5);
}

/// Issue 25, defect 3: a job waiting in a deep queue (its message visible there, nobody
/// draining it) is never sent a copy: it used to get one each quarter hour. It is looked at once
/// a period, at one write each (no more than before), and nothing else.
#[tokio::test(start_paused = true)]
async fn a_job_waiting_in_line_is_never_sent_a_copy() {
    let s = stack();
    let (job, _) =
        s.service.enqueue(NewJob { job_type: "noop".into(), ..NewJob::default() }).await.expect("enqueue");
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    let updates = |s: &Stack| s.table.requests().get("UpdateItem").copied().unwrap_or(0);
    let before = updates(&s);
    let (mut resent, mut in_line) = (0, 0);
    for _ in 0..45 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let report = s.scheduler.tick(s.clock.now()).await.expect("tick");
        (resent, in_line) = (resent + report.resent, in_line + report.in_line);
    }
    assert_eq!(resent, 0, "its message waits in the queue");
    assert_eq!(in_line, 3, "looked at once every 15 minutes");
    assert_eq!(updates(&s) - before, 3, "one write each time, none refused in between");
    assert_eq!(s.queues.messages_sent(s.ports.queues.url(job.tier)), 1, "its own message only");
    assert_eq!(s.drain().await, 1);
    assert_eq!(s.job(&job.id).await.status, JobStatus::Completed);
}

/// A job whose message was lost while its tier is busy (a message always waiting) is sent again
/// once the tier's consumers are past it: a job enqueued after it has run.
#[tokio::test(start_paused = true)]
async fn a_lost_message_in_a_busy_queue_is_sent_again_once_consumers_are_past_it() {
    let s = stack();
    let noop = || NewJob { job_type: "noop".into(), ..NewJob::default() };
    let (lost, _) = s.service.enqueue(noop()).await.expect("enqueue");
    let got = s.ports.queues.receive(lost.tier, 10, 0, None).await.expect("receive");
    s.ports.queues.delete_batch(lost.tier, &[got[0].receipt_handle.clone()]).await.expect("lost");
    tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    let (ran, _) = s.service.enqueue(noop()).await.expect("enqueue");
    assert_eq!(s.drain().await, 1);
    assert_eq!(s.job(&ran.id).await.status, JobStatus::Completed);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (waiting, _) = s.service.enqueue(noop()).await.expect("enqueue");

    let mut resent = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        resent += s.scheduler.tick(s.clock.now()).await.expect("tick").resent;
    }
    assert_eq!(resent, 1, "the lost one, within two periods; not the one in line");
    let url = s.ports.queues.url(lost.tier);
    assert_eq!(s.queues.messages_sent(url), 4, "three jobs, one copy");
    assert_eq!(s.drain().await, 2);
    for id in [&lost.id, &waiting.id] {
        assert_eq!(s.job(id).await.status, JobStatus::Completed);
    }
}

#[tokio::test(start_paused = true)]
async fn a_delayed_job_whose_message_was_lost_is_sent_again_a_period_after_it_was_due() {
    let s = stack();
    let now = s.clock.now();
    let (job, _) = s.service.enqueue(noop_at(now + chrono::Duration::minutes(10))).await.expect("enqueue");
    assert_eq!(job.status, JobStatus::Queued, "within SQS's delay");
    // Its message is lost: received once due, then deleted unread.
    tokio::time::sleep(Duration::from_secs(601)).await;
    let got = s.ports.queues.receive(job.tier, 10, 0, None).await.expect("receive");
    assert_eq!(got.len(), 1);
    s.ports.queues.delete_batch(job.tier, &[got[0].receipt_handle.clone()]).await.expect("delete");

    // The walk looks at it a period after its creation, not yet a period past due: it is
    // watched as sent from its due time, and sent again a period after that.
    let mut resent = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        resent += s.scheduler.tick(s.clock.now()).await.expect("tick").resent;
    }
    assert_eq!(resent, 1);
    assert_eq!(s.drain().await, 1);
    assert_eq!(s.job(&job.id).await.status, JobStatus::Completed);
}

/// One `by-due` shard is hot (its partition throttled while the rest of the table is served):
/// the release sweep goes on for the other shards, releasing their jobs on time, and the hot
/// shard's once it is served again.
#[tokio::test(start_paused = true)]
async fn a_hot_due_shard_holds_back_only_its_own_jobs() {
    let s = stack();
    let now = s.clock.now();
    let mut jobs = Vec::new();
    for i in 0..24 {
        let at = now + chrono::Duration::hours(1) + chrono::Duration::seconds(i);
        jobs.push(s.service.enqueue(noop_at(at)).await.expect("enqueue").0);
    }
    let shard = |job: &Job| jobq::store::keys::shard_of(&job.id);
    let hot_shard = shard(&jobs[0]);
    let hot = jobq::adapters::memory::HotPartition::Index {
        index: jobq::store::keys::BY_DUE.name,
        partition: format!("{}#{hot_shard}", jobq::store::keys::Watch::Release.as_str()),
    };
    s.table.set_hot(hot.clone(), true);
    tokio::time::sleep(Duration::from_secs(50 * 60)).await;
    let mut released = 0;
    for _ in 0..3 {
        released += s.scheduler.tick(s.clock.now()).await.expect("tick").released;
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let (held, others): (Vec<&Job>, Vec<&Job>) = jobs.iter().partition(|j| shard(j) == hot_shard);
    assert!(!others.is_empty() && !held.is_empty());
    assert_eq!(released, others.len(), "every other shard's jobs are released");
    for job in &held {
        assert_eq!(s.job(&job.id).await.status, JobStatus::Scheduled, "the hot shard's wait");
    }
    s.table.set_hot(hot, false);
    let report = s.scheduler.tick(s.clock.now()).await.expect("tick");
    assert_eq!(report.released, held.len(), "the hot shard's, once it is served");
}

/// One `by-created` shard hot: the lost-message walk reads the other shards all the same and
/// leaves the hot one where it was, for the next run.
#[tokio::test(start_paused = true)]
async fn a_hot_created_shard_holds_back_only_its_own_part_of_the_walk() {
    let s = stack();
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(
            s.service
                .enqueue(NewJob { job_type: "noop".into(), ..NewJob::default() })
                .await
                .expect("enqueue")
                .0
                .id,
        );
    }
    let shard = |id: &str| jobq::store::keys::shard_of(id);
    let hot_shard = shard(&ids[0]);
    let partition = format!("{}#{hot_shard}", jobq::store::keys::CREATED_VALUE);
    let hot =
        jobq::adapters::memory::HotPartition::Index { index: jobq::store::keys::BY_CREATED.name, partition };
    s.table.set_hot(hot.clone(), true);
    let mut walk = s.ports.store.created_walk().await.expect("walk");
    let later = s.clock.now() + chrono::Duration::minutes(1);
    let mut read = s.ports.store.created_rows(later, 100, &mut walk).await.expect("the other shards");
    read.sort();
    let mut others: Vec<String> = ids.iter().filter(|id| shard(id) != hot_shard).cloned().collect();
    others.sort();
    assert_eq!(read, others);
    s.table.set_hot(hot, false);
    let mut walk = s.ports.store.created_walk().await.expect("walk");
    let all = s.ports.store.created_rows(later, 100, &mut walk).await.expect("every shard");
    assert_eq!(all.len(), ids.len());
}
