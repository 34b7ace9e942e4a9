//! What the property tests of the decoders share (test builds only).

use proptest::prelude::*;

/// 10,000 cases, drawn with XorShift: the default ChaCha generator, unoptimized in test builds,
/// would take most of the time.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(10_000)
    }
}

/// Any characters (control ones too), cheaper than a `\PC` regex.
pub fn text(len: std::ops::Range<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(any::<char>(), len).prop_map(String::from_iter).boxed()
}

/// A regex strategy parsed once (a `&str` strategy is parsed again for every case).
pub fn re(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern).expect("valid regex").boxed()
}
