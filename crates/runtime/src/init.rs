//! The container's init: what the cloned child does between `clone3` and `execve`.
//!
//! Everything was computed by the parent into an [`InitPlan`]; this code only makes system calls,
//! in runc's order, except that the cgroup tree is mounted late (mounts → pivot → sysctls →
//! console → wait for the cgroup attach → cgroup namespace and tree → masks → rlimits → seccomp if
//! privileged → user and capabilities → no_new_privs → seccomp → exec). A failure is written to
//! the error pipe as `CODE\nMESSAGE` and the child exits with CODE.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::mount::MsFlags;

use crate::caps::CapSets;
use crate::devices::DevicePlan;
use crate::error::{Error, Result};
use crate::process::Rlimit;
use crate::rootfs::{CgroupEntry, MountPlan};
use crate::tty::Winsize;

/// Everything the child needs, prepared by the parent.
pub struct InitPlan {
    pub rootfs: PathBuf,
    pub root_propagation: MsFlags,
    pub mounts: Vec<MountPlan>,
    pub cgroups: Vec<CgroupEntry>,
    pub devices: Vec<DevicePlan>,
    pub masked: Vec<PathBuf>,
    pub readonly: Vec<PathBuf>,
    pub readonly_root: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctls: Vec<(String, String)>,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub caps: Option<CapSets>,
    pub last_cap: u8,
    pub no_new_privs: bool,
    pub seccomp: Option<berth_seccomp::Program>,
    pub seccomp_flags: u32,
    pub cwd: PathBuf,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub tty: bool,
    pub winsize: Option<Winsize>,
    pub keep_stdin: bool,
    /// The exec FIFO (`O_PATH`) of a created-but-not-started container.
    pub gate: Option<OwnedFd>,
    /// Caller descriptors 3..3+N kept open across exec.
    pub preserve_fds: u32,
    /// An LSM exec label: (attr file, value), written just before exec.
    pub exec_label: Option<(PathBuf, String)>,
    /// Hooks: wait for the parent (createRuntime hooks) before pivot_root, then run the
    /// createContainer hooks there; startContainer hooks run just before exec.
    pub hold_before_pivot: bool,
    pub create_container_hooks: Vec<oci_spec::runtime::Hook>,
    pub start_container_hooks: Vec<oci_spec::runtime::Hook>,
    pub hook_state: String,
    /// Namespaces to join by path (type flag, open fd), entered before anything else.
    pub join: Vec<(nix::sched::CloneFlags, OwnedFd)>,
    /// Enter a new cgroup namespace after the parent placed us in the cgroup (v1/hybrid).
    pub unshare_cgroup: bool,
    pub new_netns: bool,
}

/// Descriptors shared with the parent.
pub struct InitFds {
    pub sync_read: OwnedFd,
    pub error_write: OwnedFd,
    pub console: Option<OwnedFd>,
}

/// Runs in the cloned child; never returns.
pub fn run(plan: &InitPlan, fds: InitFds) -> ! {
    let err = match setup_and_exec(plan, &fds) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let code = err.exit_code();
    let msg = format!("{code}\n{err}");
    // SAFETY: writing our own buffer to the error pipe, then leaving without running any
    // destructors or atexit handlers of the parent's copy of the program.
    unsafe {
        libc::write(fds.error_write.as_raw_fd(), msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

enum Never {}

fn setup_and_exec(plan: &InitPlan, fds: &InitFds) -> Result<Never> {
    for (kind, fd) in &plan.join {
        nix::sched::setns(fd.as_fd(), *kind).map_err(Error::sys("join namespace"))?;
    }
    if plan.new_netns {
        crate::process::loopback_up()?;
    }
    let root = crate::rootfs::prepare(&plan.rootfs, plan.root_propagation, &plan.mounts, &plan.cgroups)?;
    crate::devices::create(&root, &plan.devices)?;
    crate::devices::symlinks(&root)?;
    crate::fsutil::mkdir_all_in_root(root.as_fd(), &plan.cwd)
        .map_err(Error::io("create working directory", &plan.cwd))?;
    drop(root);
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).map_err(Error::sys("sethostname"))?;
    }
    if let Some(d) = &plan.domainname {
        // SAFETY: pointer and length of our own string.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(Error::Sys { op: "setdomainname", source: nix::Error::last() });
        }
    }
    if plan.hold_before_pivot {
        wait_for_parent(fds)?;
        crate::hooks::run("createContainer", &plan.create_container_hooks, &plan.hook_state)?;
    }
    crate::rootfs::pivot(&plan.rootfs)?;
    for (k, v) in &plan.sysctls {
        crate::process::set_sysctl(k, v)?;
    }
    if plan.tty {
        let sock =
            fds.console.as_ref().ok_or_else(|| Error::Spec("terminal requested without console socket".into()))?;
        crate::tty::setup_console(sock.as_fd(), plan.winsize.as_ref(), true)?;
    } else {
        // Leave berth's process group so terminal signals reach berth, which forwards them.
        let _ = nix::unistd::setsid();
        if !plan.keep_stdin {
            let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
                .map_err(|e| Error::Io { op: "open", path: "/dev/null".into(), source: e.into() })?;
            // SAFETY: dup2 onto fd 0 of our own table.
            if unsafe { libc::dup2(null.as_raw_fd(), 0) } < 0 {
                return Err(Error::Sys { op: "dup2 stdin", source: nix::Error::last() });
            }
        }
    }
    // Wait until the parent has put us into the cgroup. On cgroup v1 that attach costs the
    // kernel an RCU grace period (~10 ms), which is why everything above runs before it.
    wait_for_parent(fds)?;
    if plan.unshare_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).map_err(Error::sys("unshare cgroup namespace"))?;
    }
    crate::rootfs::mount_cgroup_tree(&plan.mounts, &plan.cgroups)?;
    crate::rootfs::mask_paths(&plan.masked)?;
    crate::rootfs::readonly_paths(&plan.readonly)?;
    if plan.readonly_root {
        crate::rootfs::readonly_root()?;
    }
    if let Some(v) = plan.oom_score_adj {
        crate::process::set_oom_score_adj(v)?;
    }
    crate::process::set_rlimits(&plan.rlimits)?;
    nix::unistd::chdir(&plan.cwd).map_err(|e| Error::Io {
        op: "chdir to",
        path: plan.cwd.clone(),
        source: e.into(),
    })?;

    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we still hold it.
    if let (Some(prog), false) = (&plan.seccomp, plan.no_new_privs) {
        berth_seccomp::install(prog, plan.seccomp_flags)?;
    }
    if let Some(caps) = &plan.caps {
        crate::caps::drop_bounding(caps, plan.last_cap).map_err(Error::sys("drop bounding capabilities"))?;
        crate::caps::keep_caps(true).map_err(Error::sys("keep capabilities"))?;
    }
    set_ids(plan.uid, plan.gid, &plan.additional_gids)?;
    if let Some(caps) = &plan.caps {
        crate::caps::apply(caps).map_err(Error::sys("set capabilities"))?;
    }
    if let Some(fifo) = &plan.gate {
        // Report the command missing now (at create), not after start.
        crate::process::lookup(&plan.args, &plan.env)?;
        // SAFETY: one byte from a local buffer to our error pipe: "ready".
        unsafe { libc::write(fds.error_write.as_raw_fd(), c"".as_ptr().cast(), 1) };
        let path = crate::fsutil::proc_fd_path(fifo);
        // Blocks until `start` opens the FIFO for reading.
        let w = nix::fcntl::open(
            path.as_c_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(Error::sys("open exec fifo"))?;
        let _ = nix::unistd::write(&w, b"0");
    }
    if !plan.start_container_hooks.is_empty() {
        crate::hooks::run(
            "startContainer",
            &plan.start_container_hooks,
            &plan.hook_state.replace("\"creating\"", "\"created\""),
        )?;
    }
    if plan.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::Sys { op: "set no_new_privs", source: nix::Error::last() });
        }
        if let Some(prog) = &plan.seccomp {
            berth_seccomp::install(prog, plan.seccomp_flags)?;
        }
    }
    if let Some((attr, value)) = &plan.exec_label {
        std::fs::write(attr, value).map_err(Error::io("set LSM exec label", attr))?;
    }
    restore_signals();
    let first = 3 + plan.preserve_fds;
    for fd in 3..first {
        // SAFETY: clears FD_CLOEXEC on a descriptor the caller asked to pass on.
        unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
    }
    // SAFETY: marks every other descriptor close-on-exec; nothing is closed now.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    Err(crate::process::exec(&plan.args, &plan.env))
}

fn wait_for_parent(fds: &InitFds) -> Result<()> {
    let mut b = [0u8; 1];
    match nix::unistd::read(fds.sync_read.as_fd(), &mut b) {
        Ok(1) => Ok(()),
        _ => Err(Error::Spec("parent went away before start".into())),
    }
}

pub(crate) fn set_ids(uid: u32, gid: u32, additional_gids: &[u32]) -> Result<()> {
    let groups: Vec<libc::gid_t> = additional_gids.to_vec();
    // SAFETY: pointer and length of our own vector.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err(Error::Sys { op: "setgroups", source: nix::Error::last() });
    }
    // SAFETY: plain id syscalls. Raw syscalls, not glibc's wrappers, which would signal every
    // thread (there is one) through a mechanism that assumes glibc created this process.
    unsafe {
        if libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0 {
            return Err(Error::Sys { op: "setresgid", source: nix::Error::last() });
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
            return Err(Error::Sys { op: "setresuid", source: nix::Error::last() });
        }
    }
    Ok(())
}

/// Unblocks every signal and resets dispositions the parent changed (Rust ignores SIGPIPE),
/// so the container starts with a clean signal state.
pub(crate) fn restore_signals() {
    // SAFETY: sigset manipulation on a local, then sigprocmask/signal on our own process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}
