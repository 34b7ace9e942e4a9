//! `jobq`: drive a jobq API from a terminal or a script.

mod args;
mod client;
mod commands;
mod exit_codes;
mod proxy;
mod render;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, completions};
use client::{CliError, connect};
use exit_codes::error_exit_code;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // No API and no credentials needed.
    if let Command::Completions { shell } = cli.command {
        print!("{}", completions(shell));
        return ExitCode::SUCCESS;
    }
    let client = match connect(&cli.api, cli.token.clone(), cli.sigv4).await {
        Ok(client) => client,
        Err(err) => return fail(&err),
    };
    match commands::run(&client, cli.command, cli.json).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => fail(&err),
    }
}

fn fail(err: &CliError) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(error_exit_code(err))
}
