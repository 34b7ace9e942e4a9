//! Bounds of a job's small fields. The rule: a longer value is truncated, never refused, so a
//! handler's long progress message or error cannot fail its job or its write. A truncated text
//! ends with a note saying how long it was; oversized error details become an excerpt.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::domain::model::JobFailure;

/// `current_step`, in bytes of UTF-8.
pub const STEP_MAX: usize = 256;
/// The progress `message`.
pub const MESSAGE_MAX: usize = 4 * 1024;
/// An error's `message`.
pub const ERROR_MESSAGE_MAX: usize = 8 * 1024;
/// An error's `details`, as JSON.
pub const ERROR_DETAILS_MAX: usize = 16 * 1024;
/// What an oversized `details` keeps of its JSON.
const EXCERPT: usize = 1024;

/// `text`, or its head (at a character boundary) and a note, `max` bytes at most in all.
pub fn text(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let note = format!("… [truncated from {} bytes]", text.len());
    let head = floor_char_boundary(text, max.saturating_sub(note.len()));
    Cow::Owned(format!("{}{note}", &text[..head]))
}

/// `failure` with its message and details within their bounds.
pub fn failure(failure: &JobFailure) -> JobFailure {
    let details = failure.details.as_ref().map(|details| {
        let json = serde_json::to_string(details).unwrap_or_default();
        if json.len() <= ERROR_DETAILS_MAX {
            return details.clone();
        }
        let head = floor_char_boundary(&json, EXCERPT);
        json!({ "truncated": true, "bytes": json.len(), "excerpt": &json[..head] })
    });
    JobFailure { message: text(&failure.message, ERROR_MESSAGE_MAX).into_owned(), details }
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0)
}

/// `value` is within `max` bytes of JSON.
pub fn fits(value: &Value, max: usize) -> bool {
    serde_json::to_vec(value).map(|v| v.len() <= max).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_a_character_with_a_note() {
        assert_eq!(text("short", 10), "short");
        let long = "é".repeat(3000);
        let cut = text(&long, MESSAGE_MAX);
        assert!(cut.len() <= MESSAGE_MAX, "{}", cut.len());
        assert!(cut.ends_with("… [truncated from 6000 bytes]"), "{}", &cut[cut.len() - 40..]);
        assert!(cut.starts_with("éé"));
    }

    #[test]
    fn oversized_error_details_become_an_excerpt() {
        let small = JobFailure { message: "boom".into(), details: Some(json!({"a": 1})) };
        assert_eq!(failure(&small), small);
        let big = JobFailure { message: "x".repeat(20_000), details: Some(json!("y".repeat(20_000))) };
        let bounded = failure(&big);
        assert!(bounded.message.len() <= ERROR_MESSAGE_MAX);
        let details = bounded.details.expect("kept as an excerpt");
        assert_eq!(details["truncated"], true);
        assert_eq!(details["bytes"], 20_002);
        assert!(fits(&details, ERROR_DETAILS_MAX));
    }
}
