//! `porthole`: parse the command line, load the configuration, run the command, and turn any
//! error into one line on stderr with a non-zero exit.

// A binary: nothing here is public API, so `pub` only marks what sibling modules use.
#![allow(unreachable_pub)]

mod cli;
mod commands;
mod config;
mod telemetry;

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("porthole: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("porthole: {e:#}");
            ExitCode::FAILURE
        }
    }
}
