//! Job types defined outside `jobq`, as a user's crate defines them: each a [`Task`], collected
//! in one [`registry`] that every binary of the deployment uses, so the API accepts exactly the
//! types the worker runs.

use jobq::domain::context::JobContext;
use jobq::domain::task::{JobError, Registry, Task, TaskOutput};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// The built-in job types and this crate's: what the worker, the API, ingest, the scheduler and
/// the local stack are all given.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    registry.register(WordCount).register(ThumbnailSize);
    registry
}

/// `word_count` `{text}`: the words and lines of a text, with progress line by line.
#[derive(Debug, Clone, Copy)]
pub struct WordCount;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Text {
    pub text: String,
}

impl Task for WordCount {
    type Input = Text;

    fn job_type(&self) -> &'static str {
        "word_count"
    }

    async fn run(&self, ctx: &JobContext, input: Text) -> Result<TaskOutput, JobError> {
        let lines: Vec<&str> = input.text.lines().collect();
        let mut words = 0;
        for (done, line) in lines.iter().enumerate() {
            words += count_words(line);
            let message = format!("line {} of {}", done + 1, lines.len());
            // Reports are coalesced by the context; `?` stops the run if the job was cancelled.
            ctx.progress(percent(done + 1, lines.len()), Some("counting"), Some(&message)).await?;
        }
        Ok(TaskOutput::completed(json!({ "words": words, "lines": lines.len() })))
    }
}

/// Words are runs of characters between whitespace.
pub fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn percent(done: usize, total: usize) -> u8 {
    (done * 100).checked_div(total).map_or(100, |p| p.min(100) as u8)
}

/// `thumbnail_size` `{width, height, max = 256}`: the size of a thumbnail that fits in a
/// `max` x `max` box, keeping the aspect ratio and never enlarging.
#[derive(Debug, Clone, Copy)]
pub struct ThumbnailSize;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    #[serde(default = "default_max")]
    pub max: u32,
}

fn default_max() -> u32 {
    256
}

impl Task for ThumbnailSize {
    type Input = Image;

    fn job_type(&self) -> &'static str {
        "thumbnail_size"
    }

    async fn run(&self, _ctx: &JobContext, image: Image) -> Result<TaskOutput, JobError> {
        // No retry can fix an empty image: fatal.
        let (width, height) = fit(image.width, image.height, image.max)
            .ok_or_else(|| JobError::fatal("width, height and max must all be above 0"))?;
        Ok(TaskOutput::completed(json!({ "width": width, "height": height })))
    }
}

/// The largest size within `max` x `max` with the aspect ratio of `width` x `height` (each side
/// at least 1, never larger than the original); `None` for an empty image or box.
pub fn fit(width: u32, height: u32, max: u32) -> Option<(u32, u32)> {
    if width == 0 || height == 0 || max == 0 {
        return None;
    }
    let longest = width.max(height);
    if longest <= max {
        return Some((width, height));
    }
    let scale =
        |side: u32| ((u64::from(side) * u64::from(max) + u64::from(longest) / 2) / u64::from(longest)).max(1);
    Some((scale(width) as u32, scale(height) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_between_any_whitespace() {
        assert_eq!(count_words("one  two\tthree\n four "), 4);
        assert_eq!(count_words("   "), 0);
        assert_eq!(count_words("naïve café"), 2);
    }

    #[test]
    fn progress_reaches_100_on_the_last_line_and_for_no_lines() {
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(3, 3), 100);
        assert_eq!(percent(0, 0), 100);
    }

    #[test]
    fn thumbnails_fit_the_box_keep_the_ratio_and_never_grow() {
        assert_eq!(fit(4000, 3000, 256), Some((256, 192)));
        assert_eq!(fit(1080, 1920, 256), Some((144, 256)));
        assert_eq!(fit(100, 50, 256), Some((100, 50)), "small images stay as they are");
        assert_eq!(fit(10_000, 1, 100), Some((100, 1)), "a side never rounds down to 0");
        assert_eq!(fit(u32::MAX, u32::MAX, u32::MAX - 1), Some((u32::MAX - 1, u32::MAX - 1)));
        assert_eq!(fit(0, 10, 256), None);
        assert_eq!(fit(10, 10, 0), None);
    }

    #[test]
    fn the_registry_has_the_builtins_and_this_crate_s_types() {
        let registry = registry();
        for job_type in ["word_count", "thumbnail_size", "echo", "noop", "sleep", "fail"] {
            assert!(registry.contains(job_type), "{job_type}");
        }
    }
}
