//! Starting a container: the parent's side of the start path.
//!
//! 1. turn the spec into an [`InitPlan`] (parse mounts, capability masks, rlimits, compile the
//!    seccomp filter) so errors surface before anything is created;
//! 2. create the cgroup and apply the limits;
//! 3. one `clone3` with every new namespace (on cgroup v2 straight into the cgroup with
//!    `CLONE_INTO_CGROUP`; elsewhere the parent writes the pid to the cgroup and then lets the
//!    child go);
//! 4. wait on the error pipe: EOF means the child's `execve` succeeded (the pipe is
//!    close-on-exec), a message means it failed and carries Docker's exit code.
//!
//! No re-exec of the binary, no threads, no async runtime: the child is a copy of this process.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_cgroups::{Layout, Manager};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::init::{InitFds, InitPlan};
use crate::timing::Timings;

/// Signals the parent blocks before the clone and later reads from a signalfd.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGWINCH,
    Signal::SIGCHLD,
];

/// Blocks the signals the parent forwards (read later from a signalfd), returning the old mask.
pub(crate) fn block_forwarded() -> Result<SigSet> {
    let mut block = SigSet::empty();
    for s in FORWARDED {
        block.add(*s);
    }
    block.thread_swap_mask(SigmaskHow::SIG_BLOCK).map_err(Error::sys("sigprocmask"))
}

/// The error a child wrote to its error pipe as `CODE\nMESSAGE`.
pub(crate) fn init_error(msg: &[u8]) -> Error {
    let text = String::from_utf8_lossy(msg);
    let (code, message) = text.split_once('\n').unwrap_or(("125", &text));
    Error::Init { code: code.parse().unwrap_or(125), message: message.to_string() }
}

/// How to start a container.
pub struct LaunchOptions<'a> {
    /// Container id (names the cgroup).
    pub id: &'a str,
    /// The OCI spec; `root.path` is the prepared root filesystem.
    pub spec: &'a Spec,
    /// cgroupfs root, normally `/sys/fs/cgroup`.
    pub cgroup_root: &'a Path,
    /// The container cgroup relative to each hierarchy, e.g. `berth/<id>`. Its parents are
    /// berth's own: they are removed when the last container in them is gone.
    pub cgroup_path: String,
    /// Keep the caller's stdin as the container's (`-i`); otherwise it reads /dev/null.
    pub keep_stdin: bool,
    /// `create` without `start`: an exec FIFO (runc's contract). The init resolves its command,
    /// reports ready, then blocks opening this FIFO for writing until `start` opens it for
    /// reading; `launch` returns as soon as the init is ready.
    pub exec_fifo: Option<&'a Path>,
    /// Run the spec's lifecycle hooks (OCI runtime mode): the bundle and annotations (JSON)
    /// that go into the state hooks read. `None` ignores hooks.
    pub hooks: Option<(&'a Path, String)>,
    /// Descriptors 3..3+N of the caller stay open in the container (runc's `--preserve-fds`).
    pub preserve_fds: u32,
}

/// A started container.
pub struct Launched {
    /// The container's init, as seen from the host.
    pub pid: Pid,
    /// The container's cgroup (destroy it when done).
    pub cgroup: Manager,
    /// The pty master when the spec asked for a terminal.
    pub pty_master: Option<OwnedFd>,
    /// Things berth adjusted, for `--debug` (e.g. clamped rlimits, ignored blkio weight).
    pub notes: Vec<String>,
    pub(crate) old_mask: SigSet,
    /// False for a process exec'd into a running container: its cgroup is the container's.
    pub(crate) owns_cgroup: bool,
}

impl Launched {
    /// Kills whatever is left in the cgroup and removes it.
    pub fn destroy(&self) -> Result<()> {
        if !self.owns_cgroup {
            return Ok(());
        }
        self.cgroup.destroy()?;
        self.cgroup.remove_empty_parents();
        Ok(())
    }
}

fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

pub(crate) fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_str()).map_err(|_| Error::Spec(format!("{what} contains a NUL byte: {s:?}"))))
        .collect()
}

/// Everything derived from the spec, plus the clone flags.
fn plan(opts: &LaunchOptions<'_>, layout: Layout, notes: &mut Vec<String>) -> Result<(InitPlan, CloneFlags)> {
    let spec = opts.spec;
    let root = spec.root().as_ref().ok_or_else(|| Error::Spec("no root".into()))?;
    let rootfs = root.path().clone();
    if !rootfs.is_dir() {
        return Err(Error::Io {
            op: "rootfs",
            path: rootfs,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let process = spec.process().as_ref().ok_or_else(|| Error::Spec("no process".into()))?;
    let linux = spec.linux().clone().unwrap_or_default();

    let mut flags = CloneFlags::empty();
    let mut join = Vec::new();
    for ns in linux.namespaces().iter().flatten() {
        let f = ns_flag(ns.typ());
        match ns.path() {
            None => flags |= f,
            Some(p) if f == CloneFlags::CLONE_NEWPID || f == CloneFlags::CLONE_NEWUSER => {
                return Err(Error::Spec(format!(
                    "joining a {:?} namespace by path ({}) is not supported yet",
                    ns.typ(),
                    p.display()
                )));
            }
            Some(p) => {
                let fd = std::fs::File::open(p).map_err(Error::io("open namespace", p))?;
                join.push((f, OwnedFd::from(fd)));
            }
        }
    }
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        return Err(Error::Spec("user namespaces are not supported yet".into()));
    }
    let mounts = crate::rootfs::plan_mounts(spec.mounts().as_deref().unwrap_or(&[]))?;
    let cgroups = if mounts.iter().any(|m| m.kind == crate::rootfs::MountKind::Cgroup) {
        crate::rootfs::host_cgroup_entries(layout, opts.cgroup_root)
    } else {
        Vec::new()
    };
    let devices = crate::devices::plan_devices(linux.devices().as_deref().unwrap_or(&[]))?;
    let caps = process.capabilities().as_ref().map(crate::caps::CapSets::from_spec).transpose()?;
    let (rlimits, clamp_notes) =
        crate::process::plan_rlimits(process.rlimits().as_deref().unwrap_or(&[]), crate::process::can_raise_rlimits());
    notes.extend(clamp_notes);
    let (seccomp, seccomp_flags) = match linux.seccomp() {
        Some(s) => (Some(berth_seccomp::compile(s)?), berth_seccomp::filter_flags(s)),
        None => (None, 0),
    };
    let propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") | Some("rslave") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some("slave") => MsFlags::MS_SLAVE,
        Some("rprivate") => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some("private") => MsFlags::MS_PRIVATE,
        Some("rshared") => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Some("shared") => MsFlags::MS_SHARED,
        Some("unbindable") => MsFlags::MS_UNBINDABLE,
        Some("runbindable") => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        Some(o) => return Err(Error::Spec(format!("unknown rootfsPropagation {o}"))),
    };
    let exec_label = lsm_label(process)?;
    let user = process.user();
    let tty = process.terminal().unwrap_or(false);
    let p = |v: &Option<Vec<String>>| v.iter().flatten().map(PathBuf::from).collect::<Vec<_>>();
    let plan = InitPlan {
        rootfs,
        root_propagation: propagation,
        mounts,
        cgroups,
        devices,
        masked: p(linux.masked_paths()),
        readonly: p(linux.readonly_paths()),
        readonly_root: root.readonly().unwrap_or(false),
        hostname: spec.hostname().clone().filter(|_| flags.contains(CloneFlags::CLONE_NEWUTS)),
        domainname: spec.domainname().clone().filter(|d| !d.is_empty() && flags.contains(CloneFlags::CLONE_NEWUTS)),
        sysctls: linux.sysctl().clone().unwrap_or_default().into_iter().collect(),
        rlimits,
        oom_score_adj: process.oom_score_adj(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        caps,
        last_cap: crate::caps::last_cap(),
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        seccomp,
        seccomp_flags,
        cwd: process.cwd().clone(),
        args: cstrings(process.args().as_deref().unwrap_or(&[]), "argument")?,
        env: cstrings(process.env().as_deref().unwrap_or(&[]), "environment")?,
        tty,
        winsize: if tty { crate::tty::winsize(0).or_else(|| crate::tty::winsize(1)) } else { None },
        keep_stdin: opts.keep_stdin,
        gate: match opts.exec_fifo {
            Some(p) => Some(OwnedFd::from(
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_PATH)
                    .open(p)
                    .map_err(Error::io("open exec fifo", p))?,
            )),
            None => None,
        },
        join,
        exec_label,
        preserve_fds: opts.preserve_fds,
        hold_before_pivot: false,
        create_container_hooks: Vec::new(),
        start_container_hooks: Vec::new(),
        hook_state: String::new(),
        unshare_cgroup: false,
        new_netns: flags.contains(CloneFlags::CLONE_NEWNET),
    };
    if plan.args.is_empty() {
        return Err(Error::Spec("no command specified".into()));
    }
    Ok((plan, flags))
}

/// The LSM label to exec with: the spec's AppArmor profile or SELinux label, which must be
/// applied when that LSM is active and is a clear error when it is not.
fn lsm_label(p: &oci_spec::runtime::Process) -> Result<Option<(PathBuf, String)>> {
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
        let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y");
        if !enabled {
            return Err(Error::Spec(format!(
                "apparmor profile {profile:?} requested but AppArmor is not enabled on this host"
            )));
        }
        let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        return Ok(Some((PathBuf::from(attr), format!("exec {profile}"))));
    }
    if let Some(label) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
        if !Path::new("/sys/fs/selinux/enforce").exists() {
            return Err(Error::Spec(format!(
                "selinux label {label:?} requested but SELinux is not enabled on this host"
            )));
        }
        return Ok(Some((PathBuf::from("/proc/self/attr/exec"), label.to_string())));
    }
    Ok(None)
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork-like clone3 (no new stack: the child continues on a copy of ours). Returns 0 in the
/// child, the pid in the parent.
pub(crate) fn clone3(flags: CloneFlags, cgroup_fd: Option<i32>) -> std::result::Result<i32, nix::Error> {
    let mut args = CloneArgs { flags: flags.bits() as u64, exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the child gets a
    // copy-on-write copy of this single-threaded process and returns 0 here. `args` outlives
    // the call.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    Ok(rc as i32)
}

/// The classic clone(2) fallback for kernels or seccomp filters without clone3.
pub(crate) fn clone_legacy(flags: CloneFlags) -> std::result::Result<i32, nix::Error> {
    // SAFETY: as for clone3: fork semantics, null stack, no CLONE_VM.
    let rc = unsafe {
        libc::syscall(libc::SYS_clone, (flags.bits() | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize)
    };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    Ok(rc as i32)
}

/// Starts the container described by `opts`. On success the process has exec'd the spec's
/// command; the caller supervises it and calls [`Launched::destroy`] afterwards.
pub fn launch(opts: &LaunchOptions<'_>, t: &mut Timings) -> Result<Launched> {
    let mut notes = Vec::new();
    let layout = Layout::detect(opts.cgroup_root)?;
    let (mut plan, mut flags) = plan(opts, layout, &mut notes)?;
    let hooks = match (&opts.hooks, opts.spec.hooks()) {
        (Some((bundle, ann)), Some(h)) => {
            plan.create_container_hooks = h.create_container().clone().unwrap_or_default();
            plan.start_container_hooks = h.start_container().clone().unwrap_or_default();
            let runtime: Vec<oci_spec::runtime::Hook> =
                h.prestart().iter().flatten().chain(h.create_runtime().iter().flatten()).cloned().collect();
            plan.hold_before_pivot = !runtime.is_empty() || !plan.create_container_hooks.is_empty();
            plan.hook_state = crate::hooks::state_json(opts.id, "creating", 0, bundle, ann);
            Some((runtime, bundle.to_path_buf(), ann.clone()))
        }
        _ => None,
    };
    t.mark("plan");

    let cgroup = Manager::new(opts.cgroup_root, layout, &opts.cgroup_path);
    let mut resources = opts.spec.linux().as_ref().and_then(|l| l.resources().clone()).unwrap_or_default();
    if let Some(rules) = resources.devices().clone().filter(|r| !r.is_empty()) {
        let mut all = rules;
        all.extend(crate::devices::default_allowed_rules());
        resources.set_devices(Some(all));
    }
    cgroup.create(&resources)?;
    notes.extend(cgroup.warnings());
    t.mark("cgroup");

    let id = opts.id;
    let before_go = move |pid: Pid| -> Result<()> {
        if let Some((runtime, bundle, ann)) = &hooks {
            crate::hooks::run(
                "createRuntime",
                runtime,
                &crate::hooks::state_json(id, "creating", pid.as_raw(), bundle, ann),
            )?;
        }
        Ok(())
    };
    match start(&mut plan, &mut flags, &cgroup, t, &before_go) {
        Ok((pid, pty_master, old_mask)) => Ok(Launched { pid, cgroup, pty_master, notes, old_mask, owns_cgroup: true }),
        Err(e) => {
            let _ = cgroup.destroy();
            cgroup.remove_empty_parents();
            Err(e)
        }
    }
}

fn start(
    plan: &mut InitPlan,
    flags: &mut CloneFlags,
    cgroup: &Manager,
    t: &mut Timings,
    before_go: &dyn Fn(Pid) -> Result<()>,
) -> Result<(Pid, Option<OwnedFd>, SigSet)> {
    let (sync_read, sync_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("pipe"))?;
    let (error_read, error_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("pipe"))?;
    let console = if plan.tty {
        let (a, b) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(Error::sys("socketpair"))?;
        Some((a, b))
    } else {
        None
    };

    // Block the signals we forward so none is lost between now and the supervise loop; the
    // child unblocks them just before exec.
    let old_mask = block_forwarded()?;

    let v2_dir = cgroup.v2_dir()?;
    let want_cgroupns = flags.contains(CloneFlags::CLONE_NEWCGROUP);
    // Entering the cgroup namespace at clone time is only right if the clone also enters the cgroup.
    let mut clone_flags = *flags;
    if v2_dir.is_none() {
        clone_flags.remove(CloneFlags::CLONE_NEWCGROUP);
    }
    plan.unshare_cgroup = want_cgroupns && v2_dir.is_none();
    let mut placed = v2_dir.is_some();
    let res = clone3(clone_flags, v2_dir.as_ref().map(|f| f.as_raw_fd())).or_else(|e| {
        if matches!(e, nix::Error::ENOSYS | nix::Error::EPERM | nix::Error::E2BIG | nix::Error::EINVAL) {
            placed = false;
            let mut f = *flags;
            f.remove(CloneFlags::CLONE_NEWCGROUP);
            plan.unshare_cgroup = want_cgroupns;
            clone_legacy(f)
        } else {
            Err(e)
        }
    });
    let pid = match res {
        Ok(0) => {
            drop(sync_write);
            drop(error_read);
            let console = console.map(|(_, child)| child);
            crate::init::run(&*plan, InitFds { sync_read, error_write, console });
        }
        Ok(pid) => Pid::from_raw(pid),
        Err(e) => {
            let _ = old_mask.thread_set_mask();
            return Err(Error::Sys { op: "clone3", source: e });
        }
    };
    drop(v2_dir);
    drop(sync_read);
    drop(error_write);
    t.mark("clone");

    let fail = |e: Error| -> Error {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = old_mask.thread_set_mask();
        e
    };
    if !placed {
        if let Err(e) = cgroup.add_pid(pid.as_raw()) {
            return Err(fail(e.into()));
        }
    }
    if let Err(e) = before_go(pid) {
        return Err(fail(e));
    }
    let go: &[u8] = if plan.hold_before_pivot { b"gg" } else { b"g" };
    if let Err(e) = nix::unistd::write(&sync_write, go) {
        return Err(fail(Error::Sys { op: "start container init", source: e }));
    }
    drop(sync_write);

    // EOF: exec'd. A single NUL: ready at the exec gate (create). Anything else: an error.
    let mut msg = Vec::new();
    let mut errors = std::fs::File::from(error_read);
    if plan.gate.is_some() {
        let mut b = [0u8; 1];
        if let Ok(1) = errors.read(&mut b) {
            if b[0] == 0 {
                drop(errors);
                t.mark("init");
                return finish(pid, console, old_mask, &fail);
            }
            msg.push(b[0]);
        }
    }
    let _ = errors.read_to_end(&mut msg);
    if !msg.is_empty() {
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = old_mask.thread_set_mask();
        return Err(init_error(&msg));
    }
    t.mark("init");
    finish(pid, console, old_mask, &fail)
}

pub(crate) type ConsolePair = Option<(OwnedFd, OwnedFd)>;

/// Receives the pty master (if any) once the init is past its console setup.
pub(crate) fn finish(
    pid: Pid,
    console: ConsolePair,
    old_mask: SigSet,
    fail: &dyn Fn(Error) -> Error,
) -> Result<(Pid, Option<OwnedFd>, SigSet)> {
    let pty_master = match console {
        Some((parent, child)) => {
            drop(child);
            match crate::tty::recv_master(parent.as_fd()) {
                Ok(m) => Some(m),
                Err(e) => return Err(fail(e)),
            }
        }
        None => None,
    };
    Ok((pid, pty_master, old_mask))
}
