//! A deterministic simulation of the whole queue (issue 16): the real API service, worker,
//! scheduler, dead-letter handler and counter, on the in-memory ports, under tokio's paused
//! clock, with faults drawn from one seed. A run:
//!
//! 1. **Turbulent phase** (`Options::hours`): API clients enqueue a mix of built-in jobs, a
//!    client uploads objects whose S3 notifications the ingest function makes jobs of
//!    ([`uploads`]), an operator cancels, retries, pauses and resumes (and restarts running jobs), faults strike
//!    ([`faults`]) and a named scenario's script plays ([`script`]), while the simulated Lambda
//!    event source mappings ([`lambda`]), the every-minute scheduler, the dead-letter function
//!    and the counter run. The [`ownership`] witness watches the change stream as the counter
//!    reads it.
//! 2. At its end, faults stop, every pause is lifted, and [`invariants::way_forward`] is checked.
//! 3. **Calm phase** (`Options::settle_hours`): the functions run on; then every invariant is
//!    checked ([`invariants`]).
//!
//! Everything runs on one current-thread runtime with a paused clock, and every random choice
//! comes from the seed (ids, tokens and jitter too, through `SeededIds`), so a seed replays.

pub mod actors;
pub mod backlog;
pub mod faults;
pub mod hot;
pub mod invariants;
pub mod lambda;
pub mod latency;
pub mod ownership;
pub mod report;
pub mod script;
pub mod unwatched;
pub mod uploads;
pub mod world;

use std::sync::Arc;
use std::time::Duration;

use jobq::PriorityTier;
use tokio::task::JoinHandle;

pub use invariants::Violation;
pub use report::{RunReport, summary};
pub use world::World;

/// The shape of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub hours: u64,
    pub settle_hours: u64,
    pub faults: Option<faults::Faults>,
    /// Mean time between two operator actions (cancel, retry, pause); none: no operator.
    pub operator_every: Option<Duration>,
    /// Mean time between two restarts of a running job (cancel and retry at once); none: none.
    pub restart_every: Option<Duration>,
    /// Check [`invariants::attempts`]: jobs untouched by crashes and the operator take exactly the
    /// attempts their payload asks.
    pub check_attempts: bool,
    /// Deliberate breaks of the harness, to show the invariants catch them.
    pub breaks: Breaks,
    /// A named scenario's scripted actions ([`script`]), played from the start.
    pub script: Vec<script::Step>,
    /// How often the idle pollers look (the event source mappings, the counter).
    pub polling: Polling,
    /// Objects uploaded to the bucket over the turbulent phase, each to become a job through S3's
    /// notifications and the ingest function ([`uploads`]); none: no ingest function runs.
    pub uploads: usize,
    /// A client's job goes on, one time in four, with a next step (a pipeline): made by the
    /// worker when the job completes, as the API makes jobs ([`invariants::next_steps`]). Off by
    /// default, so the seeds of the default mix replay as they always did.
    pub pipelines: bool,
}

/// How often idle pollers look. Less often means fewer empty requests and a cheaper run; a
/// message or a change waits longer to be seen, as it would behind a longer long-poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// An idle tier queue's event source mapping, between two empty receives.
    pub idle_receive: Duration,
    /// The counter function, between two reads of the change stream.
    pub counter_every: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling { idle_receive: lambda::IDLE_POLL, counter_every: actors::COUNTER_EVERY }
    }
}

impl Polling {
    /// For the many runs of `make test`: SQS's longest long-poll (20 s) and a counter every 30 s.
    pub fn lean() -> Self {
        Polling { idle_receive: Duration::from_secs(20), counter_every: Duration::from_secs(30) }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 500,
            hours: 6,
            settle_hours: 3,
            faults: Some(faults::Faults::default()),
            operator_every: Some(Duration::from_secs(15 * 60)),
            restart_every: Some(Duration::from_secs(20 * 60)),
            check_attempts: true,
            breaks: Breaks::default(),
            script: Vec::new(),
            polling: Polling::default(),
            uploads: 50,
            pipelines: false,
        }
    }
}

/// Ways to break the deployment on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Breaks {
    /// No scheduler runs: nothing recovers a run that died or sends a lost message again.
    pub no_scheduler: bool,
    /// The counter function never runs after the turbulent phase, and skips what came before.
    pub no_counter: bool,
    /// The worker's run writes (progress, lease, outcome) name neither their generation nor their
    /// run, only the `processing` status: a run that lost the job can still write
    /// ([`ownership::Careless`]).
    pub careless_runs: bool,
    /// Every scheduler tick runs in a fresh environment (a cold start), remembering nothing of
    /// the ticks before.
    pub cold_scheduler: bool,
    /// The harness forgets which jobs a killed invocation held: the attempts a crash cost them
    /// look spent outside any crashed process.
    pub forget_kills: bool,
    /// No job is ever filed under a `by-due` watch ([`unwatched::Unwatched`]): scheduled and
    /// retrying jobs wait for a release that never comes.
    pub unwatched: bool,
    /// The tier queues send a message to their dead-letter queue on its second receive
    /// (maxReceiveCount 1): a delivery that met a throttle and came back is dead-lettered.
    pub one_receive: bool,
    /// Jobs are kept one minute after they end (retention of a minute, not days): the table's
    /// TTL deletes records the API accepted.
    pub minute_retention: bool,
    /// Runs renew their lease every second (a 3-second lease): writes per job outgrow the budget.
    pub chatty_leases: bool,
}

/// Run one seed to its end on a runtime of its own; the report carries any broken invariant.
pub fn run(seed: u64, options: &Options) -> RunReport {
    quiet_simulated_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("a runtime: {e}"));
    runtime.block_on(simulate(seed, options.clone()))
}

/// The `fail` jobs' panics are part of the simulation (the worker contains them): the default
/// hook would print each, with a backtrace when `RUST_BACKTRACE` is set. Any other panic is
/// still printed.
fn quiet_simulated_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<String>().map(String::as_str);
            if message != Some(actors::SIMULATED_PANIC) {
                default(info);
            }
        }));
    });
}

/// The functions that run for the whole run.
fn start_functions(
    world: &World,
    invocations: &Arc<lambda::Invocations>,
    rng: &mut fastrand::Rng,
    options: &Options,
) -> Vec<JoinHandle<()>> {
    let (breaks, polling) = (options.breaks, options.polling);
    let mut tasks = Vec::new();
    for tier in PriorityTier::ALL {
        let source =
            lambda::event_source(world.clone(), invocations.clone(), tier, rng.fork(), polling.idle_receive);
        tasks.push(tokio::spawn(source));
    }
    tasks.push(tokio::spawn(lambda::dead_letters(world.clone())));
    tasks.push(tokio::spawn(actors::ttl(world.clone())));
    if !breaks.no_scheduler {
        tasks.push(tokio::spawn(actors::scheduler(world.clone(), breaks.cold_scheduler, rng.fork())));
    }
    if !breaks.no_counter {
        // Its draws apart from the others', so the rest of a seed's run stays as it was.
        let draws = fastrand::Rng::with_seed(rng.get_seed() ^ 0x0063_6f75_6e74_6572);
        tasks.push(tokio::spawn(actors::counter(world.clone(), polling.counter_every, draws)));
    }
    tasks
}

/// The clients, the operator and the faults of the turbulent phase.
fn start_turbulence(
    world: &World,
    invocations: &Arc<lambda::Invocations>,
    rng: &mut fastrand::Rng,
    options: &Options,
) -> Vec<JoinHandle<()>> {
    let over = Duration::from_secs(options.hours * 3600 * 9 / 10);
    let clients = actors::clients(world.clone(), rng.fork(), options.jobs, over, options.pipelines);
    let mut tasks = vec![tokio::spawn(clients)];
    // The random run's job mix includes a backlog now and then; a quiet scenario's does not.
    if options.jobs > 0 && options.faults.is_some() {
        tasks.push(tokio::spawn(actors::burst(world.clone(), rng.fork(), over)));
    }
    if !options.script.is_empty() {
        tasks.push(tokio::spawn(script::play(world.clone(), options.script.clone())));
    }
    if let Some(every) = options.operator_every {
        tasks.push(tokio::spawn(actors::operator(world.clone(), rng.fork(), every)));
    }
    if let Some(f) = options.faults {
        tasks.push(tokio::spawn(faults::inject(world.clone(), invocations.clone(), rng.fork(), f)));
    }
    if let Some(every) = options.restart_every {
        tasks.push(tokio::spawn(actors::restarter(world.clone(), rng.fork(), every)));
    }
    if options.uploads > 0 {
        tasks.push(tokio::spawn(uploads::uploader(world.clone(), rng.fork(), options.uploads, over)));
    }
    tasks
}

async fn simulate(seed: u64, options: Options) -> RunReport {
    let world = World::new(seed, options.breaks);
    let started = world.now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let invocations = Arc::new(lambda::Invocations::new(options.breaks));
    let mut functions = start_functions(&world, &invocations, &mut rng, &options);
    // The bucket versioned or not, by the seed (apart from its other draws).
    let ingest = (options.uploads > 0).then(|| uploads::deploy(&world, seed.is_multiple_of(2)));
    if let Some(ingest) = &ingest {
        let idle = options.polling.idle_receive;
        functions.push(tokio::spawn(uploads::function(world.clone(), ingest.clone(), idle)));
    }
    let turbulence = start_turbulence(&world, &invocations, &mut rng, &options);

    tokio::time::sleep(Duration::from_secs(options.hours * 3600)).await;
    turbulence.iter().for_each(JoinHandle::abort);
    faults::clear(&world);
    invocations.calm();
    actors::resume_everything(&world).await;
    let mut violations = match invariants::all_jobs(&world).await {
        Ok(jobs) => invariants::way_forward(&world, &jobs).await,
        Err(err) => vec![Violation { invariant: "readable", detail: err.to_string() }],
    };

    tokio::time::sleep(Duration::from_secs(options.settle_hours * 3600)).await;
    invocations.kill_all();
    functions.iter().for_each(JoinHandle::abort);
    if !options.breaks.no_counter {
        // The counter's last batch: what the stream holds past its last read.
        let _ = jobq::handlers::counter::drain(&world.counter, &actors::observed(&world), None).await;
    }
    if let Some(ingest) = &ingest {
        violations.extend(uploads::check(&world, ingest).await);
    }
    let mut report = check_end(seed, &world, &mut violations, options.check_attempts).await;
    report.faults.insert("slow_legs", world.latency.slow_legs());
    report.simulated = world.now() - started;
    report.violations = violations;
    report
}

async fn check_end(
    seed: u64,
    world: &World,
    violations: &mut Vec<Violation>,
    check_attempts: bool,
) -> RunReport {
    let jobs = match invariants::all_jobs(world).await {
        Ok(jobs) => jobs,
        Err(err) => {
            violations.push(Violation { invariant: "readable", detail: err.to_string() });
            Vec::new()
        }
    };
    let requests = script::requests(world);
    violations.extend(invariants::counters(world, &jobs).await);
    let log = world.log();
    violations.extend(invariants::accepted_kept(&log, &jobs));
    violations.extend(invariants::settled(&jobs));
    violations.extend(invariants::next_steps(&jobs));
    violations.extend(invariants::outcomes(&log, &jobs));
    if check_attempts {
        violations.extend(invariants::attempts(&log, &jobs));
    }
    violations.extend(invariants::crash_costs(&log, &jobs));
    violations.extend(invariants::letters(&log, &jobs));
    violations.extend(invariants::read_your_writes(&log));
    violations.extend(invariants::still_while_paused(&log, &jobs));
    let deployment = script::less(&requests, &log.harness_requests);
    let made = log.accepted.len() + invariants::steps_made(&jobs);
    violations.extend(invariants::budget(&deployment, made, invariants::heartbeats(&jobs)));
    let (unowned, owned_writes) = world.witness.verdict();
    violations.extend(unowned);
    let write_units = world.table.write_units();
    let blob_keys = world.blobs.keys().len();
    let messages_sent =
        PriorityTier::ALL.iter().map(|t| world.queues.messages_sent(world.config.queues.get(*t))).sum();
    let report = RunReport::new(seed, &log, &jobs, requests);
    let conflicts = world.table.conflicts();
    RunReport { owned_writes, write_units, blob_keys, messages_sent, conflicts, ..report }
}

/// The seeds a test runs: `JOBQ_SIM_SEED` alone when set (to replay one), else `first..first+n`.
pub fn seeds(first: u64, n: u64) -> Vec<u64> {
    match std::env::var("JOBQ_SIM_SEED").ok().and_then(|s| s.trim().parse().ok()) {
        Some(seed) => vec![seed],
        None => (first..first + n).collect(),
    }
}
