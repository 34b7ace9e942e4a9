//! The two-hour backlog (issue 25, defect 3), a scenario `make test` checks and `make bench`
//! reports: 2,400 two-minute jobs on the low tier, whose 4 invocations of 10 (as deployed) run 40
//! at a time, so the last of them waits about two hours in a legitimately deep queue. What it measures: the
//! messages sent per job. Every job gets one at its enqueue; a job whose message was lost gets
//! another; a job merely waiting in line should get none.

use std::time::Duration;

use jobq::{NewJob, Priority};
use serde_json::json;

use crate::script::{Action, Step};
use crate::world::Expect;
use crate::{Options, RunReport, run};

/// Jobs in the backlog.
pub const JOBS: usize = 2_400;
/// Messages per job the backlog may cost at most.
pub const TARGET: f64 = 1.05;

/// One run of the backlog under `seed`, with no random fault and no operator.
pub fn two_hour_backlog(seed: u64) -> RunReport {
    let long = NewJob {
        job_type: "sleep".into(),
        payload: json!({ "seconds": 120, "steps": 1 }),
        priority: Priority::LOW,
        ..NewJob::default()
    };
    let script = (0..JOBS / 24)
        .map(|_| {
            let batch = (0..24).map(|_| (long.clone(), Expect::completes(1))).collect();
            Step { at: Duration::from_secs(60), action: Action::EnqueueBatch(batch) }
        })
        .collect();
    let options = Options {
        jobs: 0,
        hours: 3,
        settle_hours: 1,
        faults: None,
        operator_every: None,
        restart_every: None,
        script,
        uploads: 0,
        ..Options::default()
    };
    run(seed, &options)
}
