//! The command line: `serve` and `console url` (more roles arrive with their issues).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Porthole: browser consoles for virtual machines, without exposing their VNC servers.
#[derive(Debug, Parser)]
#[command(name = "porthole", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration file option shared by every command.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Configuration file (TOML). Without one: defaults, listening on 127.0.0.1:6080.
    #[arg(short = 'c', long = "config", env = "PORTHOLE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process: console pages, WebSocket proxy and token store.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Also start the built-in demo VNC server as target "demo" and print its console URL.
        #[arg(long)]
        demo: bool,
    },
    /// Console URLs.
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// Every instance (libvirt domains and static targets), its state and VNC endpoint, like
    /// `virsh list --all` across nodes; EXPOSED marks VNC servers listening beyond loopback.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Where an instance's VNC server listens, exactly as `virsh vncdisplay` prints it.
    Vncdisplay {
        #[command(flatten)]
        config: ConfigArg,
        /// Instance name or UUID.
        instance: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Mint a token for an instance and print its access URL alone on stdout.
    Url {
        #[command(flatten)]
        config: ConfigArg,
        /// Instance name or UUID.
        instance: String,
        /// Token lifetime in seconds (default: [consoleauth] token_ttl).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        ttl: Option<u64>,
    },
}
