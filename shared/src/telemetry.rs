//! Logging: JSON lines in Lambda (CloudWatch parses them), readable text locally.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once; `RUST_LOG` overrides the default `info` level.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // Logs go to stderr (stdout is for what a command prints), coloured only on a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = if in_lambda {
        // Lambda adds its own timestamps; the request id arrives as a span field.
        builder.json().flatten_event(true).with_current_span(true).without_time().try_init()
    } else {
        builder.compact().try_init()
    };
    // A second init (tests, embedding) keeps the first subscriber.
    drop(result);
}
