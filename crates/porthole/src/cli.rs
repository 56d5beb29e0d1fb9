//! The command line: `serve`, `console url|reset`, `list`, `audit`, `vncdisplay`, `sessions [kill]`.

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
    #[command(after_help = crate::config::store_path::help())]
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
    /// Finds VNC servers exposed beyond loopback and the management networks, QEMU listeners
    /// libvirt does not know, and listen addresses that drifted. Exit 0 clean, 1 findings, 2 error.
    Audit {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON document (`{"findings": [...]}`) instead of a table.
        #[arg(long)]
        json: bool,
        /// Rewrite the listen address of the persistent definitions to [vnc] server_listen.
        #[arg(long)]
        fix: bool,
        /// With --fix: really change them (without it, only show the changes).
        #[arg(long, requires = "fix")]
        yes: bool,
        /// With --fix --yes: also stop and start each domain so the change takes effect.
        #[arg(long, requires = "yes")]
        hard_reboot: bool,
        /// Instances to fix (names or UUIDs); all with findings when none is given.
        instances: Vec<String>,
    },
    /// Live console sessions on every `porthole serve` sharing the configured store (or, with
    /// --history, ended ones too); `porthole sessions kill` ends them wherever they run.
    #[command(args_conflicts_with_subcommands = true)]
    Sessions {
        #[command(subcommand)]
        action: Option<SessionsCommand>,
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON document (`{"sessions": [...]}`, as the API's) instead of a table.
        #[arg(long)]
        json: bool,
        /// Also the sessions that ended (newest first), with when and why.
        #[arg(long)]
        history: bool,
        /// At most this many (default: every live one; 100 with --history).
        #[arg(long)]
        limit: Option<u32>,
        /// Only this instance's sessions (a name or a UUID).
        #[arg(long)]
        instance: Option<String>,
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
pub enum SessionsCommand {
    /// End a session (by its id) or every session of an instance, on whichever `porthole serve`
    /// holds them; the browser is told "Session ended by an administrator". Tokens stay valid.
    Kill {
        #[command(flatten)]
        config: ConfigArg,
        /// The session's id (from `porthole sessions`).
        #[arg(required_unless_present = "instance")]
        id: Option<String>,
        /// Every live session of this instance (a name or a UUID) instead.
        #[arg(long, conflicts_with = "id")]
        instance: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Revoke every console URL of an instance and close its live sessions on every `porthole
    /// serve` sharing the store (as `DELETE /v2.1/servers/ID/remote-consoles` does).
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        /// Instance name or UUID.
        instance: String,
    },
    /// Mint a token for an instance and print its access URL alone on stdout.
    #[command(after_help = crate::config::store_path::help())]
    Url {
        #[command(flatten)]
        config: ConfigArg,
        /// Instance name or UUID.
        instance: String,
        /// Token lifetime in seconds (default: [consoleauth] token_ttl).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        ttl: Option<u64>,
        /// A console that can only be watched: the proxy drops keys, pointer and clipboard.
        #[arg(long, conflicts_with = "serial")]
        view_only: bool,
        /// The serial console (a WebSocket URL, as Nova's serial proxy gives; the terminal page's
        /// URL is printed on stderr) instead of the VNC one.
        #[arg(long)]
        serial: bool,
    },
}
