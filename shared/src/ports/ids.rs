//! The ids-and-randomness port: new job ids, write tokens and backoff jitter come from here
//! instead of the OS or a global generator, so a seeded run (the simulation) replays exactly.

use std::sync::{Arc, Mutex};

use uuid::{Builder, Uuid};

/// Where fresh ids and random numbers come from.
pub trait Ids: Send + Sync + std::fmt::Debug {
    /// A fresh id for a job without an idempotency key: a hyphenated uuid, unique per draw.
    fn job_id(&self) -> String;
    /// A fresh token (32 lowercase hex digits): write tokens, a stats writer's id.
    fn token(&self) -> String;
    /// A random number in `[0, 1)`, for backoff jitter.
    fn unit(&self) -> f64;
}

/// The OS's randomness: time-ordered uuid v7 job ids, uuid v4 tokens, fastrand's jitter.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl Ids for RandomIds {
    fn job_id(&self) -> String {
        crate::domain::model::new_job_id()
    }

    fn token(&self) -> String {
        Uuid::new_v4().simple().to_string()
    }

    fn unit(&self) -> f64 {
        fastrand::f64()
    }
}

/// The process-wide default: the OS's randomness.
pub fn random() -> Arc<dyn Ids> {
    Arc::new(RandomIds)
}

/// Ids and numbers from a seed: the same seed gives the same sequence of each kind.
///
/// Job ids, tokens and jitter each have their own stream, so how many tokens a run draws does not
/// shift its job ids. A job id is a uuid (version 8, "custom") whose first 48 bits count the draws:
/// unique however the random rest falls, and sorting in the order drawn, as v7 ids do.
#[derive(Debug)]
pub struct SeededIds {
    streams: Mutex<Streams>,
}

#[derive(Debug)]
struct Streams {
    job_ids: fastrand::Rng,
    tokens: fastrand::Rng,
    units: fastrand::Rng,
    drawn: u64,
}

/// Distinct offsets of the three streams' seeds (arbitrary odd constants).
const TOKEN_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;
const UNIT_STREAM: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// The count takes the first 48 bits of a seeded job id.
const COUNT_BITS: u32 = 48;

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        SeededIds {
            streams: Mutex::new(Streams {
                job_ids: fastrand::Rng::with_seed(seed),
                tokens: fastrand::Rng::with_seed(seed ^ TOKEN_STREAM),
                units: fastrand::Rng::with_seed(seed ^ UNIT_STREAM),
                drawn: 0,
            }),
        }
    }

    fn with<T>(&self, draw: impl FnOnce(&mut Streams) -> T) -> T {
        // A panic elsewhere while holding the lock leaves the streams usable: keep drawing.
        let mut streams = self.streams.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        draw(&mut streams)
    }
}

impl Ids for SeededIds {
    fn job_id(&self) -> String {
        self.with(|s| {
            s.drawn += 1;
            let count = u128::from(s.drawn & ((1 << COUNT_BITS) - 1));
            let rest = s.job_ids.u128(..) >> COUNT_BITS;
            let bytes = ((count << (128 - COUNT_BITS)) | rest).to_be_bytes();
            Builder::from_custom_bytes(bytes).into_uuid().to_string()
        })
    }

    fn token(&self) -> String {
        self.with(|s| format!("{:032x}", s.tokens.u128(..)))
    }

    fn unit(&self) -> f64 {
        self.with(|s| s.units.f64())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn draws(ids: &dyn Ids, n: usize) -> Vec<(String, String, u64)> {
        (0..n).map(|_| (ids.job_id(), ids.token(), ids.unit().to_bits())).collect()
    }

    #[test]
    fn the_same_seed_replays_the_same_sequence_and_another_seed_differs() {
        let first = draws(&SeededIds::new(7), 50);
        assert_eq!(first, draws(&SeededIds::new(7), 50));
        let other = draws(&SeededIds::new(8), 50);
        for ((id_a, token_a, unit_a), (id_b, token_b, unit_b)) in first.iter().zip(&other) {
            assert_ne!(id_a, id_b);
            assert_ne!(token_a, token_b);
            assert_ne!(unit_a, unit_b);
        }
    }

    #[test]
    fn job_ids_do_not_depend_on_how_many_tokens_were_drawn() {
        let quiet = SeededIds::new(3);
        let busy = SeededIds::new(3);
        for _ in 0..5 {
            busy.token();
            busy.unit();
        }
        assert_eq!(quiet.job_id(), busy.job_id());
    }

    #[test]
    fn seeded_ids_are_unique_uuids_sorting_in_draw_order() {
        let ids = SeededIds::new(42);
        let drawn: Vec<String> = (0..100_000).map(|_| ids.job_id()).collect();
        assert_eq!(drawn.iter().collect::<HashSet<_>>().len(), drawn.len());
        assert!(drawn.windows(2).all(|pair| pair[0] < pair[1]));
        for id in drawn.iter().step_by(997) {
            let parsed = Uuid::parse_str(id).expect("a uuid");
            assert_eq!(parsed.get_version_num(), 8);
            assert_eq!(parsed.to_string(), *id);
        }
        let tokens: HashSet<String> = (0..100_000).map(|_| ids.token()).collect();
        assert_eq!(tokens.len(), 100_000);
        assert!(tokens.iter().all(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn units_stay_in_the_half_open_unit_interval() {
        for ids in [&SeededIds::new(1) as &dyn Ids, &RandomIds] {
            let units: Vec<f64> = (0..10_000).map(|_| ids.unit()).collect();
            assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
            // Spread over the interval, not stuck at one value.
            assert!(units.iter().any(|u| *u < 0.1) && units.iter().any(|u| *u > 0.9));
        }
    }

    #[test]
    fn random_ids_keep_todays_shapes() {
        let id = Uuid::parse_str(&RandomIds.job_id()).expect("a uuid");
        assert_eq!(id.get_version_num(), 7);
        let token = RandomIds.token();
        assert_eq!(Uuid::parse_str(&token).expect("a uuid").get_version_num(), 4);
        assert_ne!(RandomIds.token(), token);
    }
}
