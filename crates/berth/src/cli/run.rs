//! `berth run`: create and start a container in the foreground, Docker's flags.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};

use super::Globals;
use crate::spec;

/// `berth run --rootfs DIR [OPTIONS] CMD [ARG...]`
#[derive(Args, Debug, Default, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Root filesystem directory to run (until the image store lands)
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Write the container ID to the file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Automatically remove the container when it exits (foreground runs leave nothing behind)
    #[arg(long)]
    pub rm: bool,
    /// Keep STDIN open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// Limit CPU CFS quota
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long)]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long)]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long)]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long)]
    pub device_write_iops: Vec<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long)]
    pub volume: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Size of /dev/shm
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Connect a container to a network (none: loopback only; host: the host's network)
    #[arg(long, default_value = "none")]
    pub network: String,
    /// Command to run and its arguments
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// A random 64-hex-digit container id.
fn new_id() -> Result<String> {
    let mut b = [0u8; 32];
    // SAFETY: getrandom fills the buffer we own, at most its length.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        bail!("getrandom: {}", std::io::Error::last_os_error());
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Removes the container's run directory when dropped, whatever happened.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the container; returns the exit code berth must exit with.
pub fn run(g: &Globals, a: &RunArgs) -> Result<i32> {
    let mut t = berth_runtime::Timings::new();
    if a.command.is_empty() {
        bail!("no command specified");
    }
    let rootfs =
        a.rootfs.as_ref().context("no image given: use --rootfs DIR (the image store arrives in a later release)")?;
    let rootfs = std::fs::canonicalize(rootfs).with_context(|| format!("rootfs {}", rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs {} is not a directory", rootfs.display());
    }
    let id = new_id()?;
    let run_dir = g.run_root().join("containers").join(&id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let _guard = RunDir(run_dir.clone());
    if let Some(f) = &a.cidfile {
        write_cidfile(f, &id)?;
    }
    let spec = spec::build(a, &id, &rootfs, &run_dir)?;
    t.mark("spec");

    let opts = berth_runtime::LaunchOptions {
        id: &id,
        spec: &spec,
        cgroup_root: Path::new(&g.cgroup_root),
        cgroup_path: format!("berth/{id}"),
        keep_stdin: a.interactive,
        exec_fifo: None,
        hooks: None,
        preserve_fds: 0,
    };
    let launched = berth_runtime::launch(&opts, &mut t).map_err(|e| {
        let code = e.exit_code();
        anyhow::Error::new(e).context(super::ExitCode(code))
    })?;
    if g.debug {
        for n in &launched.notes {
            eprintln!("berth: debug: {n}");
        }
        eprintln!("berth: debug: container {} started, pid {}: {}", &id[..12], launched.pid, t.line());
    }
    let res = berth_runtime::supervise(&launched, berth_runtime::SuperviseOptions { stdin: a.interactive });
    let destroyed = launched.destroy();
    let info = res.with_context(|| format!("supervising container {}", &id[..12]))?;
    destroyed.with_context(|| format!("removing cgroup of container {}", &id[..12]))?;
    if info.oom_killed {
        eprintln!("berth: container {} was OOM killed: the memory limit was reached", &id[..12]);
    }
    Ok(info.code)
}

fn write_cidfile(path: &Path, id: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).with_context(|| {
        format!("container ID file found, make sure the other container isn't running or delete {}", path.display())
    })?;
    f.write_all(id.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
