//! One reader for every `JOBQ_*` setting: missing, empty, out of range and malformed values are
//! refused alike, and every error names its variable.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::ConfigError;

/// Settings read through a lookup: the process environment ([`Vars::from_env`]) or, in tests,
/// a map. Values are trimmed, and an empty value counts as unset.
#[derive(Clone, Copy)]
pub struct Vars<L> {
    lookup: L,
}

impl<L> fmt::Debug for Vars<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vars").finish_non_exhaustive()
    }
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Vars<fn(&str) -> Option<String>> {
    pub fn from_env() -> Self {
        Vars { lookup: process_env }
    }
}

impl<L: Fn(&str) -> Option<String>> Vars<L> {
    pub fn new(lookup: L) -> Self {
        Vars { lookup }
    }

    /// The value as set, untrimmed, when it is not empty (secrets are taken exactly as given).
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// The trimmed value, or `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    /// A whole number in `range`; `default` when unset.
    pub fn number(&self, name: &str, default: u64, range: RangeInclusive<u64>) -> Result<u64, ConfigError> {
        let Some(value) = self.optional(name) else { return Ok(default) };
        match value.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::invalid(
                name,
                value,
                format!("expected a whole number from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// A number of seconds in `range`; `default` seconds when unset.
    pub fn seconds(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, range).map(Duration::from_secs)
    }

    /// A number of milliseconds in `range`; `default` milliseconds when unset.
    pub fn millis(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, range).map(Duration::from_millis)
    }

    /// A JSON value, `None` when unset; `expected` says what the value should be when it is not.
    pub fn json<T: DeserializeOwned>(&self, name: &str, expected: &str) -> Result<Option<T>, ConfigError> {
        let Some(text) = self.optional(name) else { return Ok(None) };
        match serde_json::from_str(&text) {
            Ok(value) => Ok(Some(value)),
            Err(err) => Err(ConfigError::invalid(name, text, format!("expected {expected}: {err}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> Vars<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Vars::new(move |k: &str| map.get(k).cloned())
    }

    fn invalid_var(err: &ConfigError) -> Option<&str> {
        match err {
            ConfigError::Invalid { var, .. } => Some(var),
            ConfigError::Missing(_) => None,
        }
    }

    #[test]
    fn missing_and_blank_values_fall_back_or_are_named() {
        let v = vars(&[("JOBQ_BLANK", "  "), ("JOBQ_SET", " x ")]);
        assert_eq!(v.optional("JOBQ_SET").as_deref(), Some("x"));
        assert_eq!(v.optional("JOBQ_BLANK"), None);
        assert_eq!(v.raw("JOBQ_SET").as_deref(), Some(" x "), "raw keeps the value as given");
        assert_eq!(v.required("JOBQ_BLANK"), Err(ConfigError::Missing("JOBQ_BLANK".into())));
        let err = v.required("JOBQ_NONE").expect_err("missing");
        assert!(err.to_string().contains("JOBQ_NONE"), "{err}");
        assert_eq!(v.number("JOBQ_BLANK", 7, 1..=10), Ok(7));
        assert_eq!(v.seconds("JOBQ_NONE", 30, 1..=60), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn numbers_are_whole_and_in_range() {
        let v = vars(&[("JOBQ_N", " 42 "), ("JOBQ_BIG", "101"), ("JOBQ_NEG", "-1"), ("JOBQ_TEXT", "ten")]);
        assert_eq!(v.number("JOBQ_N", 1, 1..=100), Ok(42));
        assert_eq!(v.millis("JOBQ_N", 1, 0..=100), Ok(Duration::from_millis(42)));
        for name in ["JOBQ_BIG", "JOBQ_NEG", "JOBQ_TEXT"] {
            let err = v.number(name, 1, 1..=100).expect_err("refused");
            assert_eq!(invalid_var(&err), Some(name), "{err}");
            assert!(err.to_string().contains(name) && err.to_string().contains("1 to 100"), "{err}");
        }
        let err = v.number("JOBQ_N", 1, 50..=60).expect_err("below the range");
        assert!(err.to_string().contains("\"42\""), "the value is quoted: {err}");
    }

    #[test]
    fn json_values_decode_or_name_the_variable() {
        let v = vars(&[("JOBQ_LIST", "[1, 2]"), ("JOBQ_BAD", "[1,"), ("JOBQ_WRONG", "{\"a\": 1}")]);
        assert_eq!(v.json::<Vec<u8>>("JOBQ_LIST", "a list"), Ok(Some(vec![1, 2])));
        assert_eq!(v.json::<Vec<u8>>("JOBQ_NONE", "a list"), Ok(None));
        for name in ["JOBQ_BAD", "JOBQ_WRONG"] {
            let err = v.json::<Vec<u8>>(name, "a list of numbers").expect_err("malformed");
            assert_eq!(invalid_var(&err), Some(name), "{err}");
            assert!(err.to_string().contains("expected a list of numbers"), "{err}");
        }
    }
}
