//! DynamoDB's TTL deletion, late ([`super::MemoryTable::expire`]).
//!
//! DynamoDB deletes an item whose TTL attribute has passed in the background, "typically within a
//! few days" of its expiry (within 48 hours, as the guide long said), and until then "items that
//! have expired, but haven't yet been deleted by TTL, still appear in reads, queries, and scans"
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html>). So an
//! expired item here is deleted a lag after its expiry: fixed, or drawn per item from a seed
//! between [`SEEDED_MIN_HOURS`] and [`SEEDED_MAX_HOURS`]; until then every read still sees it.

use chrono::Duration;

/// The shortest lag a seeded table draws.
pub const SEEDED_MIN_HOURS: i64 = 1;
/// The longest.
pub const SEEDED_MAX_HOURS: i64 = 48;

/// How late an expired item is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlLag {
    /// Every item the same lag after its expiry.
    Fixed(Duration),
    /// Each item its own lag, drawn from the seed, its key and its expiry.
    Seeded(u64),
}

impl Default for TtlLag {
    fn default() -> Self {
        TtlLag::Fixed(Duration::hours(1))
    }
}

impl TtlLag {
    /// The lag of the item at `key` expiring at `expires_at` (epoch seconds).
    pub fn of(self, key: &str, expires_at: i64) -> Duration {
        match self {
            TtlLag::Fixed(lag) => lag,
            TtlLag::Seeded(seed) => {
                let span = (SEEDED_MAX_HOURS - SEEDED_MIN_HOURS) * 3600;
                let draw = mix(seed ^ fnv(key) ^ expires_at as u64) % (span as u64 + 1);
                Duration::hours(SEEDED_MIN_HOURS) + Duration::seconds(draw as i64)
            }
        }
    }
}

/// FNV-1a over the key's bytes: the same key draws the same lag in every run of a seed.
fn fnv(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// splitmix64's finaliser: spreads nearby inputs over the whole range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_lags_spread_over_hours_to_two_days_and_replay() {
        let lags: Vec<Duration> =
            (0..500).map(|i| TtlLag::Seeded(7).of(&format!("job#{i}"), 1_800_000_000)).collect();
        assert!(lags.iter().all(|l| *l >= Duration::hours(1) && *l <= Duration::hours(48)));
        assert!(lags.iter().any(|l| *l < Duration::hours(6)), "some within hours");
        assert!(lags.iter().any(|l| *l > Duration::hours(40)), "some nearly two days");
        assert_eq!(TtlLag::Seeded(7).of("job#3", 1_800_000_000), lags[3], "the same draw again");
        assert_eq!(TtlLag::Fixed(Duration::hours(6)).of("job#3", 0), Duration::hours(6));
    }
}
