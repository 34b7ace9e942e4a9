//! When a call is sent again: only a request that cannot do anything twice (a read, or an
//! enqueue with an idempotency key), after an answer that says "later" (429, 502, 503, 504) or
//! none at all, with backoff, and never sooner than the API's `Retry-After`.

use std::time::Duration;

/// How often, and how far apart, a call is tried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    /// Tries in all, the first included (1: never again).
    pub attempts: u32,
    /// The wait before the second try; each next wait doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries { attempts: 4, base: Duration::from_millis(200), cap: Duration::from_secs(10) }
    }
}

impl Retries {
    /// Never again: each call is tried once.
    pub fn none() -> Self {
        Retries { attempts: 1, ..Retries::default() }
    }
}

/// What came back from one try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// An HTTP status, and the `Retry-After` seconds it gave.
    Status { code: u16, retry_after: Option<u64> },
    /// No answer (connection refused, reset, timed out).
    Nothing,
}

/// The wait before try `tried + 1`, or `None` to stop: pure, so every branch is tested.
pub fn wait_before_next(retries: &Retries, repeatable: bool, tried: u32, answer: Answer) -> Option<Duration> {
    if !repeatable || tried >= retries.attempts {
        return None;
    }
    let backoff = retries.base.saturating_mul(2u32.saturating_pow(tried.saturating_sub(1))).min(retries.cap);
    match answer {
        Answer::Nothing => Some(backoff),
        Answer::Status { code: 429 | 502..=504, retry_after } => {
            let asked = Duration::from_secs(retry_after.unwrap_or(0));
            Some(backoff.max(asked).min(retries.cap))
        }
        Answer::Status { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Retries =
        Retries { attempts: 4, base: Duration::from_millis(200), cap: Duration::from_secs(10) };

    fn status(code: u16) -> Answer {
        Answer::Status { code, retry_after: None }
    }

    #[test]
    fn later_answers_and_no_answer_are_tried_again_with_doubling_waits() {
        assert_eq!(wait_before_next(&R, true, 1, Answer::Nothing), Some(Duration::from_millis(200)));
        assert_eq!(wait_before_next(&R, true, 2, status(503)), Some(Duration::from_millis(400)));
        assert_eq!(wait_before_next(&R, true, 3, status(429)), Some(Duration::from_millis(800)));
        assert_eq!(wait_before_next(&R, true, 4, status(502)), None, "four tries in all");
    }

    #[test]
    fn a_retry_after_is_waited_out_within_the_cap() {
        let throttled = Answer::Status { code: 429, retry_after: Some(3) };
        assert_eq!(wait_before_next(&R, true, 1, throttled), Some(Duration::from_secs(3)));
        let long = Answer::Status { code: 503, retry_after: Some(3600) };
        assert_eq!(wait_before_next(&R, true, 1, long), Some(Duration::from_secs(10)));
        let gateway = Answer::Status { code: 504, retry_after: Some(2) };
        assert_eq!(wait_before_next(&R, true, 1, gateway), Some(Duration::from_secs(2)));
    }

    #[test]
    fn refusals_and_requests_that_could_act_twice_are_not_tried_again() {
        for code in [200, 201, 400, 404, 409, 422, 500] {
            assert_eq!(wait_before_next(&R, true, 1, status(code)), None, "{code}");
        }
        assert_eq!(wait_before_next(&R, false, 1, Answer::Nothing), None, "an enqueue without a key");
        assert_eq!(wait_before_next(&Retries::none(), true, 1, Answer::Nothing), None);
    }
}
