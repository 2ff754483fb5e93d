//! `berth runtime …`: berth as an OCI runtime with runc's command-line contract, so containerd,
//! dockerd and podman can use it. Also reached when the binary is invoked under a name
//! containing `runc` (e.g. a `berth-runc` symlink).
//!
//! This first slice has the bundle-less commands (`spec`, `features`); the container commands
//! (`create`, `start`, `state`, `kill`, `delete`, …) follow.

use anyhow::Result;
use clap::Subcommand;

mod features;
mod spec;

#[derive(Subcommand, Debug)]
pub enum RuntimeCommand {
    /// Create a new specification file (config.json) in the bundle directory
    Spec(spec::SpecArgs),
    /// Show the enabled features (JSON, runtime-spec features.md)
    Features,
}

/// Runs one runtime command; returns the exit code.
pub fn run(cmd: &RuntimeCommand) -> Result<i32> {
    match cmd {
        RuntimeCommand::Spec(a) => spec::run(a),
        RuntimeCommand::Features => features::run(),
    }
}
