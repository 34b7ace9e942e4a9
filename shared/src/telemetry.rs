//! Logging: JSON lines in Lambda (CloudWatch parses them), readable text locally.
//!
//! In Lambda every span's fields are lifted to the top level of each line: the runtime's
//! `requestId` span and the worker's job span (`job_id`, `job_type`, `tier`, `queue`, `attempt`),
//! so one Logs Insights filter finds a job's or an invocation's whole story.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the global subscriber once; `RUST_LOG` overrides the default `info` level.
pub fn init() {
    let directives = std::env::var("RUST_LOG").ok();
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // Logs go to stderr (stdout is for what a command prints, and for EMF metric lines).
    let result = if in_lambda {
        let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
        let filter = lambda_filter(lambda_directives(directives.as_deref(), level.as_deref()).as_deref());
        tracing_subscriber::registry().with(filter).with(lambda_json(std::io::stderr)).try_init()
    } else {
        let filter =
            EnvFilter::try_new(directives.unwrap_or_default()).unwrap_or_else(|_| EnvFilter::new("info"));
        let ansi = coloured(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .compact()
            .finish()
            .try_init()
    };
    // A second init (tests, embedding) keeps the first subscriber.
    drop(result);
}

/// Log lines are coloured only on a terminal, and never when `NO_COLOR` is set to anything but
/// the empty string (no-color.org).
pub fn coloured(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// The log directives in Lambda: `RUST_LOG` when set, else the function's log level as Lambda
/// passes it (`AWS_LAMBDA_LOG_LEVEL`, from the template's `LogLevel`; FATAL is `error`).
pub fn lambda_directives(rust_log: Option<&str>, lambda_level: Option<&str>) -> Option<String> {
    if let Some(directives) = rust_log.map(str::trim).filter(|d| !d.is_empty()) {
        return Some(directives.to_owned());
    }
    let level = match lambda_level?.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => return None,
    };
    Some(level.to_owned())
}

/// `RUST_LOG` (default `info`), always keeping the runtime's per-invocation span: a filter such as
/// `jobq=debug` would otherwise drop it, and the `requestId` with it.
pub fn lambda_filter(directives: Option<&str>) -> EnvFilter {
    let directives = directives.map(str::trim).filter(|d| !d.is_empty()).unwrap_or("info");
    let keep = if directives.contains("lambda_runtime") { "" } else { ",lambda_runtime=info" };
    EnvFilter::try_new(format!("{directives}{keep}")).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The Lambda log layer: one flat JSON object per line. Lambda stamps each line itself.
pub fn lambda_json<S, W>(writer: W) -> json_subscriber::fmt::Layer<S, W>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    json_subscriber::fmt::layer()
        .with_writer(writer)
        .without_time()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_span_list_on_top_level(true)
}

/// Lines written to memory, for tests that read what was logged.
#[derive(Debug, Clone, Default)]
pub struct CapturedLines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLines {
    /// Every line so far, parsed; panics on a line that is not a JSON object.
    pub fn json_lines(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| match serde_json::from_str(line) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => panic!("not a JSON object: {line}"),
            })
            .collect()
    }
}

impl std::io::Write for CapturedLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLines {
    type Writer = CapturedLines;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_honours_its_log_level_unless_rust_log_says_otherwise() {
        assert_eq!(lambda_directives(None, Some("DEBUG")).as_deref(), Some("debug"));
        assert_eq!(lambda_directives(None, Some("FATAL")).as_deref(), Some("error"));
        assert_eq!(lambda_directives(Some("jobq=trace"), Some("WARN")).as_deref(), Some("jobq=trace"));
        assert_eq!(lambda_directives(Some(" "), Some("WARN")).as_deref(), Some("warn"));
        assert_eq!(lambda_directives(None, Some("loud")), None, "unknown: the default (info)");
        assert_eq!(lambda_directives(None, None), None);
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        use std::ffi::OsStr;
        assert!(coloured(true, None));
        assert!(coloured(true, Some(OsStr::new(""))), "an empty NO_COLOR does not count");
        assert!(!coloured(true, Some(OsStr::new("1"))));
        assert!(!coloured(false, None), "never into a pipe or a file");
    }

    #[test]
    fn lambda_lines_carry_the_request_id_and_the_job_fields_at_the_top_level() {
        let captured = CapturedLines::default();
        let subscriber = tracing_subscriber::registry()
            .with(lambda_filter(Some("jobq=debug")))
            .with(lambda_json(captured.clone()));
        tracing::subscriber::with_default(subscriber, || {
            // The span lambda_runtime opens around each invocation, then the worker's job span.
            let invoke =
                tracing::info_span!(target: "lambda_runtime", "Lambda runtime invoke", requestId = "req-1");
            let _invoke = invoke.enter();
            let job = tracing::info_span!(
                target: "jobq::worker",
                "job",
                job_id = "j1",
                job_type = "noop",
                tier = "high",
                queue = "jobq-high",
                attempt = tracing::field::Empty
            );
            let _job = job.enter();
            tracing::Span::current().record("attempt", 2);
            tracing::info!(target: "jobq::worker", outcome = "completed", "job finished");
            tracing::info!(target: "other_crate", "filtered out by jobq=debug");
        });
        let lines = captured.json_lines();
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        for (field, value) in [
            ("requestId", "\"req-1\""),
            ("job_id", "\"j1\""),
            ("job_type", "\"noop\""),
            ("tier", "\"high\""),
            ("queue", "\"jobq-high\""),
            ("attempt", "2"),
            ("outcome", "\"completed\""),
            ("message", "\"job finished\""),
            ("level", "\"INFO\""),
        ] {
            assert_eq!(line.get(field).map(|v| v.to_string()).as_deref(), Some(value), "{field} in {line:?}");
        }
        assert!(!line.contains_key("span") && !line.contains_key("spans"), "{line:?}");
    }
}
