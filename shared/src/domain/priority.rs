//! Priorities (0..=10, higher is more urgent) and the three SQS tiers they map to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// A job's priority, 0 (least urgent) to 10 (most urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    pub const MAX: u8 = 10;
    pub const HIGH: Priority = Priority(9);
    pub const NORMAL: Priority = Priority(5);
    pub const LOW: Priority = Priority(1);

    pub fn new(value: i64) -> Result<Self, PriorityError> {
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= Self::MAX)
            .map(Priority)
            .ok_or(PriorityError::OutOfRange(value))
    }

    pub fn value(self) -> u8 {
        self.0
    }

    pub fn tier(self) -> PriorityTier {
        match self.0 {
            8..=10 => PriorityTier::High,
            4..=7 => PriorityTier::Normal,
            _ => PriorityTier::Low,
        }
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::NORMAL
    }
}

impl From<PriorityTier> for Priority {
    /// A named tier stands for a priority in the middle of its band.
    fn from(tier: PriorityTier) -> Self {
        match tier {
            PriorityTier::High => Priority::HIGH,
            PriorityTier::Normal => Priority::NORMAL,
            PriorityTier::Low => Priority::LOW,
        }
    }
}

impl FromStr for Priority {
    type Err = PriorityError;

    /// `"0"`..`"10"` or a tier name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(tier) = s.parse::<PriorityTier>() {
            return Ok(tier.into());
        }
        match s.trim().parse::<i64>() {
            Ok(n) => Priority::new(n),
            Err(_) => Err(PriorityError::Invalid(s.to_owned())),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Priority {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.0)
    }
}

/// Accepts a number 0..=10 or one of `"high" | "normal" | "low"`.
impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Name(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "priority must be an integer 0-10 or one of \"high\", \"normal\", \"low\"",
            )
        })? {
            Raw::Number(n) => Priority::new(n).map_err(serde::de::Error::custom),
            Raw::Name(name) => {
                name.parse::<PriorityTier>().map(Priority::from).map_err(serde::de::Error::custom)
            }
        }
    }
}

/// What a priority is read from, as its `Deserialize` takes it: written by hand, as that is.
/// (A job's own `priority` is written as the number alone.)
impl PartialSchema for Priority {
    fn schema() -> RefOr<Schema> {
        let number =
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(Priority::MAX));
        OneOfBuilder::new()
            .description(Some(
                "0 (least urgent) to 10 (most urgent), or a tier: high (9), normal (5), low (1)",
            ))
            .item(number)
            .item(Ref::from_schema_name(PriorityTier::name()))
            .into()
    }
}

impl ToSchema for Priority {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((PriorityTier::name().into_owned(), PriorityTier::schema()));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("priority {0} is out of range 0-10")]
    OutOfRange(i64),
    #[error("priority {0:?} is neither a number 0-10 nor one of high, normal, low")]
    Invalid(String),
}

/// One SQS queue (and its dead-letter queue) per tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PriorityTier {
    High,
    Normal,
    Low,
}

impl PriorityTier {
    /// Most urgent first.
    pub const ALL: [PriorityTier; 3] = [PriorityTier::High, PriorityTier::Normal, PriorityTier::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            PriorityTier::High => "high",
            PriorityTier::Normal => "normal",
            PriorityTier::Low => "low",
        }
    }
}

impl fmt::Display for PriorityTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PriorityTier {
    type Err = UnknownTier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(PriorityTier::High),
            "normal" => Ok(PriorityTier::Normal),
            "low" => Ok(PriorityTier::Low),
            other => Err(UnknownTier(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier {0:?} (expected high, normal or low)")]
pub struct UnknownTier(pub String);

/// A value per tier, e.g. queue URLs or per-tier concurrency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerTier<T> {
    pub high: T,
    pub normal: T,
    pub low: T,
}

impl<T> PerTier<T> {
    pub fn from_fn(mut f: impl FnMut(PriorityTier) -> T) -> Self {
        PerTier { high: f(PriorityTier::High), normal: f(PriorityTier::Normal), low: f(PriorityTier::Low) }
    }

    pub fn get(&self, tier: PriorityTier) -> &T {
        match tier {
            PriorityTier::High => &self.high,
            PriorityTier::Normal => &self.normal,
            PriorityTier::Low => &self.low,
        }
    }

    pub fn get_mut(&mut self, tier: PriorityTier) -> &mut T {
        match tier {
            PriorityTier::High => &mut self.high,
            PriorityTier::Normal => &mut self.normal,
            PriorityTier::Low => &mut self.low,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (PriorityTier, &T)> {
        PriorityTier::ALL.into_iter().map(move |t| (t, self.get(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_priority_maps_to_its_band() {
        let tiers: Vec<_> = (0..=10)
            .map(|p| Priority::new(p).map(Priority::tier))
            .collect::<Result<_, _>>()
            .expect("0..=10 are valid");
        use PriorityTier::*;
        assert_eq!(tiers, [Low, Low, Low, Low, Normal, Normal, Normal, Normal, High, High, High]);
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(Priority::new(11), Err(PriorityError::OutOfRange(11)));
        assert_eq!(Priority::new(-1), Err(PriorityError::OutOfRange(-1)));
        assert!(serde_json::from_str::<Priority>("11").is_err());
        assert!(serde_json::from_str::<Priority>("2.5").is_err());
        assert!(serde_json::from_str::<Priority>("\"urgent\"").is_err());
    }

    #[test]
    fn tier_names_are_accepted_wherever_a_priority_is() {
        for (name, value) in [("high", 9), ("normal", 5), ("low", 1)] {
            let from_json: Priority = serde_json::from_str(&format!("\"{name}\"")).expect("tier name");
            assert_eq!(from_json.value(), value);
            assert_eq!(name.parse::<Priority>().map(Priority::value), Ok(value));
            assert_eq!(from_json.tier().as_str(), name);
        }
        assert_eq!("7".parse::<Priority>().map(Priority::value), Ok(7));
        assert_eq!(serde_json::to_string(&Priority::HIGH).ok().as_deref(), Some("9"));
    }
}
