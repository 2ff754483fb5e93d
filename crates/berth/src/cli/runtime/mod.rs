//! `berth runtime …`: berth as an OCI runtime with runc's command-line contract, so containerd,
//! dockerd and podman can use it. Also reached when the binary is invoked under a name
//! containing `runc` (e.g. a `berth-runc` symlink).
//!
//! Done so far: `spec`, `features`, `create` (init blocked at the exec FIFO, pid file, console
//! socket), `start`, `run`, `state`, `kill`, `pause`, `resume`, `update`, `ps`, `exec`, `events`, `delete`, `list`. Lifecycle hooks (all six, state on stdin, timeouts) run. To come:
//! user namespaces, joining pid/user namespaces by path, seccomp notify hand-off.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

mod create;
mod events;
mod exec;
mod features;
mod kill;
mod pause;
mod spec;
mod start;
mod state;
mod update;

/// runc's global options.
#[derive(Args, Debug, Clone)]
pub struct RuntimeOpts {
    /// Log file (the last error is written there too)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, default_value = "text")]
    pub log_format: String,
    /// Use systemd for cgroups (accepted: cgroupfs is used where systemd is absent)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// CRIU binary (accepted: checkpointing is not supported yet)
    #[arg(long, global = true)]
    pub criu: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RuntimeCommand {
    /// Create a new specification file (config.json) in the bundle directory
    Spec(spec::SpecArgs),
    /// Show the enabled features (JSON, runtime-spec features.md)
    Features,
    /// Create a container (its init waits for `start`)
    Create(create::CreateArgs),
    /// Start a created container
    Start { id: String },
    /// Create and start a container (foreground; --detach leaves it running)
    Run {
        #[command(flatten)]
        create: create::CreateArgs,
        /// Detach from the container's process
        #[arg(short = 'd', long)]
        detach: bool,
    },
    /// Output the state of a container (runtime-spec JSON)
    State { id: String },
    /// Send a signal to the container's init (or all its processes with --all)
    Kill(kill::KillArgs),
    /// Delete a container and its resources
    Delete(kill::DeleteArgs),
    /// Suspend all processes of a container
    Pause { id: String },
    /// Resume a paused container
    Resume { id: String },
    /// Resource usage events (once with --stats)
    Events(events::EventsArgs),
    /// Run a new process inside a running container
    Exec(exec::ExecArgs),
    /// Update a container's resource limits
    Update(update::UpdateArgs),
    /// Show the processes of a container
    Ps {
        /// table or json
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        id: String,
    },
    /// List containers
    List {
        /// table or json
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        /// Display only container IDs
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

/// Where state lives and which cgroupfs is used.
pub struct Ctx {
    pub root: PathBuf,
    pub cgroup_root: PathBuf,
}

/// Runs one runtime command; returns the exit code. Errors also go to `--log`.
pub fn run(g: &super::Globals, opts: &RuntimeOpts, cmd: &RuntimeCommand) -> Result<i32> {
    let root = if g.root == std::path::Path::new("/var/lib/berth") {
        PathBuf::from("/run/berth/runtime")
    } else {
        g.root.clone()
    };
    let c = Ctx { root, cgroup_root: PathBuf::from(&g.cgroup_root) };
    let res = dispatch(&c, cmd);
    if let (Err(e), Some(log)) = (&res, &opts.log) {
        let msg = format!("{e:#}");
        let line = if opts.log_format == "json" {
            serde_json::json!({"level": "error", "msg": msg, "time": state::now_rfc3339()}).to_string()
        } else {
            format!("time=\"{}\" level=error msg={:?}", state::now_rfc3339(), msg)
        };
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{line}");
        }
    }
    res
}

fn dispatch(c: &Ctx, cmd: &RuntimeCommand) -> Result<i32> {
    match cmd {
        RuntimeCommand::Spec(a) => spec::run(a),
        RuntimeCommand::Features => features::run(),
        RuntimeCommand::Create(a) => create::run(c, a),
        RuntimeCommand::Start { id } => start::run(c, id),
        RuntimeCommand::Run { create, detach } => {
            if *detach {
                create::run(c, create)?;
                start::run(c, &create.id)
            } else {
                let a = create::CreateArgs { foreground_run: true, ..create.clone() };
                create::run(c, &a)
            }
        }
        RuntimeCommand::State { id } => {
            let s = state::Saved::load(&c.root, id)?;
            println!("{}", serde_json::to_string_pretty(&s.oci_state(&c.root))?);
            Ok(0)
        }
        RuntimeCommand::Kill(a) => kill::kill(c, a),
        RuntimeCommand::Events(a) => events::run(c, a),
        RuntimeCommand::Exec(a) => exec::run(c, a),
        RuntimeCommand::Update(a) => update::run(c, a),
        RuntimeCommand::Ps { format, id } => ps(c, format, id),
        RuntimeCommand::Pause { id } => pause::pause(c, id, true),
        RuntimeCommand::Resume { id } => pause::pause(c, id, false),
        RuntimeCommand::Delete(a) => kill::delete(c, a),
        RuntimeCommand::List { format, quiet } => list(c, format, *quiet),
    }
}

/// The container's processes: pids as JSON, or the host's `ps -ef` lines for them.
fn ps(c: &Ctx, format: &str, id: &str) -> Result<i32> {
    let s = state::Saved::load(&c.root, id)?;
    let pids = s.cgroup().pids()?;
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let out = std::process::Command::new("ps").arg("-ef").output().map_err(|e| anyhow::anyhow!("running ps: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        println!("{h}");
    }
    for l in lines {
        if l.split_whitespace().nth(1).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(0)
}

fn list(c: &Ctx, format: &str, quiet: bool) -> Result<i32> {
    let states: Vec<serde_json::Value> = state::ids(&c.root)
        .iter()
        .filter_map(|id| state::Saved::load(&c.root, id).ok())
        .map(|s| s.oci_state(&c.root))
        .collect();
    if quiet {
        for s in &states {
            println!("{}", s["id"].as_str().unwrap_or_default());
        }
    } else if format == "json" {
        println!("{}", serde_json::to_string(&states)?);
    } else {
        println!("{:<12} {:<10} {:<10} {:<40} {:<31} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for s in &states {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            let pid = s["pid"].as_i64().unwrap_or(0);
            println!("{:<12} {:<10} {:<10} {:<40} {:<31} root", f("id"), pid, f("status"), f("bundle"), f("created"));
        }
    }
    Ok(0)
}
