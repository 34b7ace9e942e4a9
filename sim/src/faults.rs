//! Seeded faults: at random moments, one of DynamoDB throttled for a window (up to
//! [`Faults::max_outage`]), the answers of the next writes lost after they took effect, SQS
//! throttled for a window, a duplicate delivery, a burst of failed DynamoDB or SQS requests (5xx),
//! a delivery held back behind later ones, a copy of a message a delete missed (delivered again),
//! one whole invocation killed mid-batch, invocations throttled, an invocation's function
//! error (both: [`crate::lambda`]), or one hot partition throttled for a window
//! ([`crate::hot`]). (Handlers that overrun their timeout and that panic
//! come from the job mix, [`crate::actors::draw_job`].) While faults strike, the queues also act
//! as SQS does where moto differs: a delete by a stale receipt deletes nothing, and depths count
//! a message only a minute after its send.

use std::sync::Arc;
use std::time::Duration;

use jobq::PriorityTier;

use crate::lambda::Invocations;
use crate::world::World;

/// How late depths count a message: SQS's counts "may not achieve consistency until at least 1
/// minute after the producers stop sending messages"
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>).
const DEPTH_LAG: Duration = Duration::from_secs(60);

/// How often and how hard faults strike.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Mean time between two faults.
    pub mean_gap: Duration,
    /// The longest window DynamoDB or SQS is unavailable (the product promises to ride out
    /// anything under 10 minutes without failing a job).
    pub max_outage: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { mean_gap: Duration::from_secs(8 * 60), max_outage: Duration::from_secs(5 * 60) }
    }
}

/// Strike faults until aborted.
pub async fn inject(world: World, invocations: Arc<Invocations>, mut rng: fastrand::Rng, faults: Faults) {
    world.queues.set_stale_receipts_kept(true);
    world.queues.set_depth_lag(DEPTH_LAG);
    loop {
        let gap = -faults.mean_gap.as_secs_f64() * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        let kind = match rng.u8(..13) {
            0 => throttle_table(&world, &mut rng, faults.max_outage).await,
            1 => {
                world.table.lose_next_responses(rng.u32(1..=3));
                "lost_responses"
            }
            2 => throttle_queues(&world, &mut rng, faults.max_outage / 2).await,
            3 => {
                let tier = PriorityTier::ALL[rng.usize(..3)];
                let _ = world.queues.duplicate_next(world.config.queues.get(tier));
                "duplicate_delivery"
            }
            // A burst of failed requests (a 500, a dropped connection): the in-memory ports give
            // them as throttles, which the product treats as the same transient class.
            4 => {
                world.table.throttle_next(rng.u32(1..=5));
                "dynamodb_5xx"
            }
            5 => {
                world.queues.throttle_next(rng.u32(1..=5));
                "sqs_5xx"
            }
            6 => {
                invocations.hold_back_next(rng.u32(1..=3));
                "reordered_delivery"
            }
            7 => {
                let tier = PriorityTier::ALL[rng.usize(..3)];
                let _ = world.queues.keep_next_deletes(world.config.queues.get(tier), rng.u32(1..=3));
                "delivered_after_delete"
            }
            10 => {
                invocations.throttle_next(rng.u32(1..=3));
                "invocation_throttle"
            }
            11 => {
                invocations.fail_next(1);
                "function_error"
            }
            12 => crate::hot::strike(&world, &mut rng, faults.max_outage).await,
            _ => crash(&world, &invocations, &mut rng).await,
        };
        *world.log().faults.entry(kind).or_default() += 1;
    }
}

/// Kill an invocation: the next one running within 10 minutes.
async fn crash(world: &World, invocations: &Invocations, rng: &mut fastrand::Rng) -> &'static str {
    for _ in 0..120 {
        if let Some(jobs) = invocations.kill_one(|n| rng.usize(..n)) {
            invocations.record_kill(world, &jobs);
            return "crash";
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    "crash_missed"
}

fn outage(rng: &mut fastrand::Rng, max: Duration) -> Duration {
    Duration::from_secs(rng.u64(5..=max.as_secs().max(5)))
}

fn note_outage(world: &World, length: Duration) {
    let length = chrono::Duration::from_std(length).unwrap_or_default();
    let mut log = world.log();
    log.longest_outage = log.longest_outage.max(length);
}

async fn throttle_table(world: &World, rng: &mut fastrand::Rng, max: Duration) -> &'static str {
    let length = outage(rng, max);
    note_outage(world, length);
    world.table.set_throttled(true);
    tokio::time::sleep(length).await;
    world.table.set_throttled(false);
    "dynamodb_throttled"
}

async fn throttle_queues(world: &World, rng: &mut fastrand::Rng, max: Duration) -> &'static str {
    let length = outage(rng, max);
    note_outage(world, length);
    world.queues.set_throttled(true);
    tokio::time::sleep(length).await;
    world.queues.set_throttled(false);
    "sqs_throttled"
}

/// End every fault now (the end of the turbulent phase).
pub fn clear(world: &World) {
    world.table.set_throttled(false);
    world.table.clear_hot();
    world.queues.set_throttled(false);
    world.queues.set_stale_receipts_kept(false);
    world.queues.set_depth_lag(Duration::ZERO);
    for tier in PriorityTier::ALL {
        let _ = world.queues.keep_next_deletes(world.config.queues.get(tier), 0);
    }
    world.table.lose_next_responses(0);
    world.table.throttle_next(0);
}
