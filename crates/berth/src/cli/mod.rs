//! Command-line definition: global options and one module per subcommand.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod run;
pub mod runtime;

/// berth: a secure, fast, daemonless container engine.
#[derive(Parser, Debug)]
#[command(name = "berth", version = concat!("version ", env!("CARGO_PKG_VERSION")), about)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(clap::Args, Debug, Clone)]
pub struct Globals {
    /// Data root (images, containers, volumes)
    #[arg(long, global = true, env = "BERTH_ROOT", default_value = "/var/lib/berth", value_name = "DIR")]
    pub root: PathBuf,
    /// Runtime state directory (default: /run/berth, or <root>/run when --root is not the default)
    #[arg(long, global = true, env = "BERTH_RUN_ROOT", value_name = "DIR")]
    pub run_root: Option<PathBuf>,
    /// cgroup file system root
    #[arg(long, global = true, env = "BERTH_CGROUP_ROOT", default_value = "/sys/fs/cgroup", hide = true)]
    pub cgroup_root: String,
    /// Print debug information (stage timings)
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
}

impl Globals {
    pub fn run_root(&self) -> PathBuf {
        match &self.run_root {
            Some(p) => p.clone(),
            None if self.root == std::path::Path::new("/var/lib/berth") => PathBuf::from("/run/berth"),
            None => self.root.join("run"),
        }
    }
}

// Built once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container
    Run(run::RunArgs),
    /// berth as an OCI runtime (runc's command-line contract)
    Runtime {
        #[command(flatten)]
        opts: runtime::RuntimeOpts,
        #[command(subcommand)]
        command: runtime::RuntimeCommand,
    },
}

/// Marks an error with the exit code berth must end with (Docker's 125/126/127).
#[derive(Debug, Clone, Copy)]
pub struct ExitCode(pub i32);

impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}
