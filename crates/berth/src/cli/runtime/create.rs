//! `berth runtime create ID`: sets the container up from the bundle and leaves its init blocked
//! at the exec FIFO until `start`; the pid file is written before this returns.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::state::{self, Saved};
use super::Ctx;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the process id to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket that receives the pty master of a terminal container
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (accepted; berth always pivots)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring (accepted; berth creates none)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3..3+N) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Set by `run`: start at once and stay in the foreground (not a flag of `create`)
    #[arg(skip)]
    pub foreground_run: bool,
}

/// `run` in the foreground: start without the FIFO, supervise (signals, terminal), then remove
/// the container, exiting with its code.
fn run_in(c: &Ctx, a: &CreateArgs, bundle: &Path, spec: &oci_spec::runtime::Spec) -> Result<i32> {
    let launched = launch_and_record(c, a, bundle, spec, None)?;
    let saved = Saved::load(&c.root, &a.id)?;
    after_hooks(&saved, "poststart", "running");
    let info = berth_runtime::supervise(&launched, berth_runtime::SuperviseOptions { stdin: true });
    let destroyed = launched.destroy();
    after_hooks(&saved, "poststop", "stopped");
    let _ = std::fs::remove_dir_all(state::dir(&c.root, &a.id));
    let info = info.with_context(|| format!("supervising container {}", a.id))?;
    destroyed?;
    Ok(info.code)
}

/// Runs a runtime-side hook list (poststart, poststop) of the container's bundle; failures are
/// warnings, as the runtime-spec wants for these two.
pub fn after_hooks(s: &Saved, kind: &str, status: &str) {
    let Ok((_, spec)) = load_bundle(&s.bundle) else { return };
    let Some(h) = spec.hooks() else { return };
    let list = if kind == "poststart" { h.poststart() } else { h.poststop() };
    let Some(list) = list else { return };
    let ann = serde_json::to_string(&annotations(&spec)).unwrap_or_else(|_| "{}".into());
    let pid = if status == "stopped" { 0 } else { s.pid };
    let state = berth_runtime::hooks::state_json(&s.id, status, pid, &s.bundle, &ann);
    if let Err(e) = berth_runtime::hooks::run(kind, list, &state) {
        eprintln!("berth: warning: {e}");
    }
}

fn annotations(spec: &oci_spec::runtime::Spec) -> serde_json::Value {
    spec.annotations()
        .as_ref()
        .map(|a| serde_json::to_value(a).unwrap_or_default())
        .unwrap_or_else(|| serde_json::json!({}))
}

/// The bundle's spec with an absolute root path.
pub fn load_bundle(bundle: &Path) -> Result<(PathBuf, oci_spec::runtime::Spec)> {
    let bundle = std::fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let cfg = bundle.join("config.json");
    let mut spec = oci_spec::runtime::Spec::load(&cfg).with_context(|| format!("loading {}", cfg.display()))?;
    let mut root = spec.root().clone().context("config.json has no root")?;
    if root.path().is_relative() {
        root.set_path(bundle.join(root.path()));
    }
    spec.set_root(Some(root));
    Ok((bundle, spec))
}

/// The cgroup path relative to each hierarchy: the spec's `cgroupsPath` (a path, or systemd's
/// `slice:prefix:name`, mapped to `slice/prefix-name.scope`), else `berth/<id>`.
pub fn cgroup_path(spec: &oci_spec::runtime::Spec, id: &str) -> String {
    match spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) {
        Some(p) => {
            let s = p.to_string_lossy().into_owned();
            let parts: Vec<&str> = s.split(':').collect();
            if let [slice, prefix, name] = parts.as_slice() {
                let slice = if slice.is_empty() { "system.slice" } else { slice };
                format!("{slice}/{prefix}-{name}.scope")
            } else {
                s.trim_start_matches('/').to_string()
            }
        }
        None => format!("berth/{id}"),
    }
}

pub fn send_console(socket: &Path, master: &std::os::fd::OwnedFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let s = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("connecting to console socket {}", socket.display()))?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        s.as_raw_fd(),
        &[std::io::IoSlice::new(b"/dev/ptmx")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("sending the pty master to the console socket")?;
    Ok(())
}

pub fn run(c: &Ctx, a: &CreateArgs) -> Result<i32> {
    state::valid_id(&a.id)?;
    let (bundle, spec) = load_bundle(&a.bundle)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if terminal && a.console_socket.is_none() && !a.foreground_run {
        bail!("cannot allocate tty if runc will detach without setting console socket");
    }
    std::fs::create_dir_all(&c.root).with_context(|| format!("creating state root {}", c.root.display()))?;
    let dir = state::dir(&c.root, &a.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("container with id exists: {}", a.id),
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let res = if a.foreground_run { run_in(c, a, &bundle, &spec) } else { create_in(c, a, &bundle, &spec) };
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    res
}

fn create_in(c: &Ctx, a: &CreateArgs, bundle: &Path, spec: &oci_spec::runtime::Spec) -> Result<i32> {
    let fifo = state::fifo(&c.root, &a.id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622)).context("creating the exec fifo")?;
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))?;
    launch_and_record(c, a, bundle, spec, Some(&fifo))?;
    Ok(0)
}

/// Starts the container (held at `fifo` when given), records its state, hands the pty master
/// to the console socket and writes the pid file. On failure the container is gone again.
pub fn launch_and_record(
    c: &Ctx,
    a: &CreateArgs,
    bundle: &Path,
    spec: &oci_spec::runtime::Spec,
    fifo: Option<&Path>,
) -> Result<berth_runtime::Launched> {
    let cgroup_path = cgroup_path(spec, &a.id);
    let opts = berth_runtime::LaunchOptions {
        id: &a.id,
        spec,
        cgroup_root: &c.cgroup_root,
        cgroup_path: cgroup_path.clone(),
        keep_stdin: true,
        exec_fifo: fifo,
        preserve_fds: a.preserve_fds,
        hooks: Some((bundle, serde_json::to_string(&annotations(spec)).unwrap_or_else(|_| "{}".into()))),
    };
    let mut t = berth_runtime::Timings::new();
    let launched = berth_runtime::launch(&opts, &mut t)?;
    let saved = Saved {
        id: a.id.clone(),
        pid: launched.pid.as_raw(),
        pid_start: state::proc_stat(launched.pid.as_raw()).map(|s| s.0).unwrap_or(0),
        bundle: bundle.to_path_buf(),
        rootfs: spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default(),
        created: state::now_rfc3339(),
        cgroup_root: c.cgroup_root.clone(),
        cgroup_path,
        annotations: annotations(spec),
    };
    let after = (|| -> Result<()> {
        if let (Some(sock), Some(m)) = (&a.console_socket, &launched.pty_master) {
            send_console(sock, m)?;
        }
        saved.save(&c.root)?;
        if let Some(p) = &a.pid_file {
            let tmp = p.with_extension("tmp-berth");
            std::fs::write(&tmp, launched.pid.as_raw().to_string())
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("writing pid file {}", p.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = after {
        let _ = nix::sys::signal::kill(launched.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(launched.pid, None);
        let _ = launched.destroy();
        return Err(e);
    }
    Ok(launched)
}
