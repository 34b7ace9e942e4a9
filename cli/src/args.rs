//! The command line: its flags and subcommands as clap parses them, and the shell completions
//! clap generates from them.

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::exit_codes::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(name = "jobq", version, about = "Enqueue, watch and manage jobq jobs", after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The jobq API.
    #[arg(long, global = true, env = "JOBQ_API_URL", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// Bearer token (the local stack's JOBQ_API_TOKEN).
    #[arg(long, global = true, env = "JOBQ_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Sign requests with the default AWS credentials (IAM-protected API Gateway).
    #[arg(long, global = true, env = "JOBQ_SIGV4")]
    pub sigv4: bool,
    /// Print the API's JSON instead of text: one document on stdout, for scripts. With --wait
    /// or watch, the jobs as they ended (an array for watch, the batch summary for --batch).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the dashboard through a local proxy that adds these credentials (token or --sigv4),
    /// for APIs a browser cannot authenticate to.
    Dashboard {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8090)]
        port: u16,
    },
    /// Enqueue a job.
    Enqueue(EnqueueArgs),
    /// Show one job.
    Status { id: String },
    /// Live progress bars until the jobs (or the batch) end, then how each ended and why; exit 0
    /// only if all completed.
    Watch {
        #[arg(required_unless_present = "batch")]
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        batch: Option<String>,
    },
    /// List jobs, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "type")]
        job_type: Option<String>,
        #[arg(long)]
        batch: Option<String>,
        /// One owner's jobs.
        #[arg(long, conflicts_with = "mine")]
        owner: Option<String>,
        /// Only the jobs enqueued as the caller (its owner, as `GET /me` says).
        #[arg(long)]
        mine: bool,
        /// One group's jobs (`channel:abc`).
        #[arg(long)]
        group: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// The next page: `next_cursor` of the page before.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Counts, success rates, timings, queue depths and pause state.
    Stats {
        #[arg(long = "type")]
        job_type: Option<String>,
    },
    /// Cancel a job that has not ended.
    Cancel { id: String },
    /// Retry a failed, partial or cancelled job, or all failed jobs.
    Retry {
        #[arg(required_unless_present = "failed")]
        id: Option<String>,
        /// Retry every failed job (of --type).
        #[arg(long, conflicts_with = "id")]
        failed: bool,
        #[arg(long = "type", requires = "failed")]
        job_type: Option<String>,
        #[arg(long, conflicts_with = "failed")]
        priority: Option<String>,
    },
    /// Pause all jobs, a tier (queue:high) or a type (type:resize).
    Pause {
        #[arg(default_value = "all")]
        scope: String,
    },
    /// Resume what `pause` paused.
    Resume {
        #[arg(default_value = "all")]
        scope: String,
    },
    /// Print a shell completion script, e.g. `source <(jobq completions bash)`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The job type, e.g. noop, echo, sleep, fail.
    pub job_type: String,
    /// JSON payload, or @file to read it from a file.
    #[arg(long)]
    pub payload: Option<String>,
    /// 0-10 or high, normal, low.
    #[arg(long)]
    pub priority: Option<String>,
    /// Idempotency key: enqueueing the same key again returns the first job.
    #[arg(long)]
    pub key: Option<String>,
    /// Seconds before the job may run.
    #[arg(long)]
    pub delay: Option<u64>,
    #[arg(long)]
    pub max_attempts: Option<u32>,
    #[arg(long)]
    pub timeout: Option<u32>,
    /// Watch it with a progress bar until it ends (exit code as for `watch`).
    #[arg(long)]
    pub wait: bool,
}

/// The completion script for `shell`, from clap's generator.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jobq", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "jobq",
            "enqueue",
            "sleep",
            "--payload",
            "{}",
            "--priority",
            "high",
            "--wait",
        ])
        .expect("valid");
        assert!(matches!(cli.command, Command::Enqueue(EnqueueArgs { wait: true, .. })));
        assert!(Cli::try_parse_from(["jobq", "watch"]).is_err(), "watch needs ids or --batch");
        assert!(Cli::try_parse_from(["jobq", "retry"]).is_err(), "retry needs an id or --failed");
        assert!(Cli::try_parse_from(["jobq", "retry", "--type", "x"]).is_err(), "--type goes with --failed");
    }

    #[test]
    fn completions_cover_every_subcommand() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let script = completions(shell);
            for name in ["enqueue", "watch", "cancel", "retry", "pause", "resume", "completions", "json"] {
                assert!(script.contains(name), "{shell}: {name} missing");
            }
        }
    }

    #[test]
    fn the_help_lists_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for code in ["0  ", "1  ", "2  ", "3  ", "4  ", "5  "] {
            assert!(help.contains(&format!("  {code}")), "--help lists exit code {code}: {help}");
        }
    }
}
