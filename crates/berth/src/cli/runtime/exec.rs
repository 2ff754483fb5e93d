//! `berth runtime exec ID [COMMAND…] | --process FILE`: runs a new process in a running
//! container, joining its namespaces and cgroup; by default with the container's own process
//! settings (user, capabilities, env, cwd, rlimits) and seccomp filter.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{Capability, Process};

use super::state::Saved;
use super::Ctx;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Path to a process.json (runtime-spec process) to run instead of COMMAND
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// AF_UNIX socket that receives the pty master
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set environment variables
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// UID[:GID] to run as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Detach from the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true)]
    pub command: Vec<String>,
}

fn process(s: &Saved, a: &ExecArgs) -> Result<Process> {
    if let Some(f) = &a.process {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("decoding {}", f.display()));
    }
    if a.command.is_empty() {
        bail!("exec: no command given (args or --process)");
    }
    let (_, spec) = super::create::load_bundle(&s.bundle)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(c) = &a.cwd {
        p.set_cwd(c.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let mut user = p.user().clone();
        user.set_uid(uid.parse().map_err(|_| anyhow!("invalid --user {u:?}"))?);
        user.set_gid(gid.parse().map_err(|_| anyhow!("invalid --user {u:?}"))?);
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let up = c.to_ascii_uppercase();
            let cap: Capability =
                up.trim_start_matches("CAP_").parse().map_err(|_| anyhow!("unknown capability {c:?}"))?;
            let with = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut v = set.clone().unwrap_or_default();
                v.insert(cap);
                Some(v)
            };
            let (b, e, pm) = (with(caps.bounding()), with(caps.effective()), with(caps.permitted()));
            caps.set_bounding(b);
            caps.set_effective(e);
            caps.set_permitted(pm);
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

pub fn run(c: &Ctx, a: &ExecArgs) -> Result<i32> {
    let s = Saved::load(&c.root, &a.id)?;
    if !matches!(s.status(&c.root), "running" | "created") {
        bail!("cannot exec in a stopped container");
    }
    let p = process(&s, a)?;
    if p.terminal().unwrap_or(false) && a.detach && a.console_socket.is_none() {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    let (_, spec) = super::create::load_bundle(&s.bundle)?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let launched = berth_runtime::exec(berth_runtime::ExecOptions {
        init_pid: s.pid,
        process: &p,
        seccomp: seccomp.as_ref(),
        cgroup: s.cgroup(),
        keep_stdin: true,
    })?;
    if let (Some(sock), Some(m)) = (&a.console_socket, &launched.pty_master) {
        super::create::send_console(sock, m)?;
    }
    if let Some(f) = &a.pid_file {
        let tmp = f.with_extension("tmp-berth");
        std::fs::write(&tmp, launched.pid.as_raw().to_string())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, f).with_context(|| format!("writing pid file {}", f.display()))?;
    }
    if a.detach {
        return Ok(0);
    }
    let info = berth_runtime::supervise(&launched, berth_runtime::SuperviseOptions { stdin: true })?;
    Ok(info.code)
}
