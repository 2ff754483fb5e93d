//! `berth runtime kill [--all] ID [SIGNAL]` and `berth runtime delete [--force] ID`.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::state::{self, Saved};
use super::Ctx;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to all processes in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number; default SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Forcibly delete the container if it is still running (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("unknown signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    name.parse::<Signal>().map_err(|_| anyhow!("unknown signal {s:?}"))
}

fn signal_all(s: &Saved, sig: Signal) {
    let pids = s.cgroup().pids().unwrap_or_default();
    for p in pids {
        let _ = nix::sys::signal::kill(Pid::from_raw(p), sig);
    }
}

pub fn kill(c: &Ctx, a: &KillArgs) -> Result<i32> {
    let s = Saved::load(&c.root, &a.id)?;
    let sig = parse_signal(&a.signal)?;
    if s.status(&c.root) == "stopped" {
        bail!("container not running");
    }
    if a.all {
        signal_all(&s, sig);
    } else {
        nix::sys::signal::kill(Pid::from_raw(s.pid), sig).map_err(|e| anyhow!("kill container {}: {e}", a.id))?;
    }
    Ok(0)
}

pub fn delete(c: &Ctx, a: &DeleteArgs) -> Result<i32> {
    let s = match Saved::load(&c.root, &a.id) {
        Ok(s) => s,
        Err(_) if a.force && state::valid_id(&a.id).is_ok() => return Ok(0),
        Err(e) => return Err(e),
    };
    let status = s.status(&c.root);
    match status {
        "stopped" => {}
        "created" => stop(&s),
        "paused" if a.force => {
            // Frozen tasks cannot die: thaw first.
            let _ = s.cgroup().freeze(false);
            stop(&s)
        }
        _ if a.force => stop(&s),
        other => bail!("cannot delete container {} that is not stopped: {other}", a.id),
    }
    let m = s.cgroup();
    m.destroy()?;
    super::create::after_hooks(&s, "poststop", "stopped");
    if s.cgroup_path.starts_with("berth/") {
        m.remove_empty_parents();
    }
    std::fs::remove_dir_all(state::dir(&c.root, &a.id))?;
    Ok(0)
}

/// SIGKILL everything in the container and wait (bounded) for the init to be gone.
fn stop(s: &Saved) {
    let _ = nix::sys::signal::kill(Pid::from_raw(s.pid), Signal::SIGKILL);
    signal_all(s, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.alive() && Instant::now() < deadline {
        // Our own child (e.g. `run` in this process) must be reaped to stop being alive.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(s.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("BOGUS").is_err());
    }
}
