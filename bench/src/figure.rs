//! What every figure shares: the JSON line, the error type, small statistics.

use serde_json::Value;

/// Why a figure could not be measured. A figure that fails prints a line with `error` and
/// `"met": false`, and the run goes on with the next one.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Http { what: String, source: reqwest::Error },
    #[error("{what}: {reason}")]
    Unexpected { what: String, reason: String },
    #[error("{what} did not finish within {seconds} s")]
    Timeout { what: String, seconds: u64 },
}

impl BenchError {
    pub fn unexpected(what: impl Into<String>, reason: impl ToString) -> Self {
        BenchError::Unexpected { what: what.into(), reason: reason.to_string() }
    }

    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }

    pub fn http(what: impl Into<String>) -> impl FnOnce(reqwest::Error) -> Self {
        let what = what.into();
        move |source| BenchError::Http { what, source }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Print one figure as one JSON line.
pub fn emit(figure: &Value) {
    println!("{figure}");
}

/// The line of a figure that could not be measured.
pub fn failed(figure: &str, err: &BenchError) -> Value {
    serde_json::json!({"figure": figure, "error": err.to_string(), "met": false})
}

/// Three decimals: enough for every figure here, and lines stay readable.
pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted samples; `None` when there are none.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median (mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] })
}

/// Milliseconds of a duration, as a float.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The directory holding this binary: the release function binaries are built next to it.
pub fn binary_dir() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe().map_err(BenchError::io("locating jobq-bench"))?;
    exe.parent()
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| BenchError::Setup("jobq-bench has no parent directory".into()))
}

/// A free TCP port on 127.0.0.1 (bound, then released for the child that will use it).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(BenchError::io("finding a port"))?;
    let port = listener.local_addr().map_err(BenchError::io("finding a port"))?.port();
    Ok(port)
}

/// The last `keep` lines a child writes to its (piped) stderr, kept for error messages.
pub fn keep_stderr_tail(child: &mut tokio::process::Child, keep: usize) -> StderrTail {
    let log = StderrTail::default();
    if let Some(stderr) = child.stderr.take() {
        let log = log.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut log) = log.lock() {
                    log.push(line);
                    let excess = log.len().saturating_sub(keep);
                    log.drain(..excess);
                }
            }
        });
    }
    log
}

/// A child's last stderr lines.
pub type StderrTail = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }
}
