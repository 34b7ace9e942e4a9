//! One seed, with the product's log lines when `RUST_LOG` is set:
//! `RUST_LOG=info cargo run -p jobq-sim --example one -- SEED [pipelines]`.

/// Log lines stamped with the simulated time since the run's start.
struct SimTime(std::sync::OnceLock<tokio::time::Instant>);

impl tracing_subscriber::fmt::time::FormatTime for SimTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let start = *self.0.get_or_init(tokio::time::Instant::now);
        let s = start.elapsed().as_secs();
        write!(w, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

fn main() {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(SimTime(std::sync::OnceLock::new()))
            .with_ansi(false)
            .init();
    }
    let seed: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let started = std::time::Instant::now();
    let pipelines = std::env::args().skip(2).any(|arg| arg == "pipelines");
    let options =
        jobq_sim::Options { polling: jobq_sim::Polling::lean(), pipelines, ..jobq_sim::Options::default() };
    let report = jobq_sim::run(seed, &options);
    println!("seed {seed}: {:.2?} of CPU", started.elapsed());
    print!("{}", jobq_sim::summary(std::slice::from_ref(&report)));
    println!("  by status: {:?}", report.by_status);
    print!("{}", report.failures());
}
