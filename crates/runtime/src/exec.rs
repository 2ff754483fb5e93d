//! Running another process in a running container (`runc exec`): join the init's namespaces
//! and cgroup, then apply the process's user, capabilities, rlimits, no_new_privs and the
//! container's seccomp filter, and exec. The same error pipe protocol as [`crate::launch`].

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use berth_cgroups::Manager;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxSeccomp, Process};

use crate::caps::CapSets;
use crate::error::{Error, Result};
use crate::launch::Launched;
use crate::process::Rlimit;

/// What to run and where.
pub struct ExecOptions<'a> {
    /// The container's init pid (host view).
    pub init_pid: i32,
    /// The process to run (args, env, cwd, user, capabilities, rlimits, terminal, noNewPrivileges).
    pub process: &'a Process,
    /// The container's seccomp section, applied to the new process too.
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// The container's cgroup, which the process joins.
    pub cgroup: Manager,
    /// Keep the caller's stdin.
    pub keep_stdin: bool,
}

struct Plan {
    ns: Joins,
    cwd: PathBuf,
    args: Vec<CString>,
    env: Vec<CString>,
    uid: u32,
    gid: u32,
    gids: Vec<u32>,
    caps: Option<CapSets>,
    last_cap: u8,
    rlimits: Vec<Rlimit>,
    nnp: bool,
    seccomp: Option<berth_seccomp::Program>,
    seccomp_flags: u32,
    tty: bool,
    keep_stdin: bool,
}

/// Namespaces to join, each with its type.
type Joins = Vec<(CloneFlags, OwnedFd)>;

/// Namespaces of `pid` that differ from ours: the pid namespace (joined by the parent, for its
/// children) and the others (joined by the child).
fn namespaces(pid: i32) -> Result<(Option<OwnedFd>, Joins)> {
    let mut pidns = None;
    let mut out = Vec::new();
    for (name, flag) in [
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        let theirs = format!("/proc/{pid}/ns/{name}");
        if std::fs::read_link(&theirs).ok() == std::fs::read_link(format!("/proc/self/ns/{name}")).ok() {
            continue;
        }
        let fd = OwnedFd::from(std::fs::File::open(&theirs).map_err(Error::io("open namespace", &theirs))?);
        if flag == CloneFlags::CLONE_NEWPID {
            pidns = Some(fd);
        } else {
            out.push((flag, fd));
        }
    }
    Ok((pidns, out))
}

/// Starts the process; the caller supervises it (or not, when detached).
pub fn exec(o: ExecOptions<'_>) -> Result<Launched> {
    let p = o.process;
    let (pidns, ns) = namespaces(o.init_pid)?;
    let (rlimits, notes) =
        crate::process::plan_rlimits(p.rlimits().as_deref().unwrap_or(&[]), crate::process::can_raise_rlimits());
    let plan = Plan {
        ns,
        cwd: p.cwd().clone(),
        args: crate::launch::cstrings(p.args().as_deref().unwrap_or(&[]), "argument")?,
        env: crate::launch::cstrings(p.env().as_deref().unwrap_or(&[]), "environment")?,
        uid: p.user().uid(),
        gid: p.user().gid(),
        gids: p.user().additional_gids().clone().unwrap_or_default(),
        caps: p.capabilities().as_ref().map(CapSets::from_spec).transpose()?,
        last_cap: crate::caps::last_cap(),
        rlimits,
        nnp: p.no_new_privileges().unwrap_or(false),
        seccomp: o.seccomp.map(berth_seccomp::compile).transpose()?,
        seccomp_flags: o.seccomp.map(berth_seccomp::filter_flags).unwrap_or(0),
        tty: p.terminal().unwrap_or(false),
        keep_stdin: o.keep_stdin,
    };
    if plan.args.is_empty() {
        return Err(Error::Spec("no command specified".into()));
    }
    let (sync_read, sync_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("pipe"))?;
    let (error_read, error_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::sys("pipe"))?;
    let console = if plan.tty {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        Some(
            socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
                .map_err(Error::sys("socketpair"))?,
        )
    } else {
        None
    };
    let old_mask = crate::launch::block_forwarded()?;
    // Children of this process are born in the container's pid namespace from here on.
    if let Some(fd) = &pidns {
        nix::sched::setns(fd.as_fd(), CloneFlags::CLONE_NEWPID).map_err(Error::sys("join pid namespace"))?;
    }
    let v2 = o.cgroup.v2_dir()?;
    let mut placed = v2.is_some();
    let res = crate::launch::clone3(CloneFlags::empty(), v2.as_ref().map(|f| f.as_raw_fd())).or_else(|_| {
        placed = false;
        crate::launch::clone_legacy(CloneFlags::empty())
    });
    let pid = match res {
        Ok(0) => {
            drop(sync_write);
            drop(error_read);
            let console = console.map(|(_, c)| c);
            let err = match child(&plan, &sync_read, console.as_ref()) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let msg = format!("{}\n{err}", err.exit_code());
            // SAFETY: write our buffer to the error pipe and leave without unwinding.
            unsafe {
                libc::write(error_write.as_raw_fd(), msg.as_ptr().cast(), msg.len());
                libc::_exit(err.exit_code())
            }
        }
        Ok(pid) => Pid::from_raw(pid),
        Err(e) => {
            let _ = old_mask.thread_set_mask();
            return Err(Error::Sys { op: "clone", source: e });
        }
    };
    drop(sync_read);
    drop(error_write);
    let fail = |e: Error| -> Error {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = old_mask.thread_set_mask();
        e
    };
    if !placed {
        if let Err(e) = o.cgroup.add_pid(pid.as_raw()) {
            return Err(fail(e.into()));
        }
    }
    if let Err(e) = nix::unistd::write(&sync_write, b"g") {
        return Err(fail(Error::Sys { op: "start exec", source: e }));
    }
    drop(sync_write);
    let mut msg = Vec::new();
    let _ = std::fs::File::from(error_read).read_to_end(&mut msg);
    if !msg.is_empty() {
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = old_mask.thread_set_mask();
        return Err(crate::launch::init_error(&msg));
    }
    let (pid, pty_master, old_mask) = crate::launch::finish(pid, console, old_mask, &fail)?;
    Ok(Launched { pid, cgroup: o.cgroup, pty_master, notes, old_mask, owns_cgroup: false })
}

enum Never {}

fn child(plan: &Plan, sync: &OwnedFd, console: Option<&OwnedFd>) -> Result<Never> {
    let mut b = [0u8; 1];
    if !matches!(nix::unistd::read(sync.as_fd(), &mut b), Ok(1)) {
        return Err(Error::Spec("parent went away before exec".into()));
    }
    for (flag, fd) in &plan.ns {
        nix::sched::setns(fd.as_fd(), *flag).map_err(Error::sys("join namespace"))?;
    }
    nix::unistd::chdir(&plan.cwd).map_err(|e| Error::Io {
        op: "chdir to",
        path: plan.cwd.clone(),
        source: e.into(),
    })?;
    match console {
        Some(sock) => crate::tty::setup_console(sock.as_fd(), crate::tty::winsize(0).as_ref(), false)?,
        None => {
            let _ = nix::unistd::setsid();
            if !plan.keep_stdin {
                let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
                    .map_err(|e| Error::Io { op: "open", path: "/dev/null".into(), source: e.into() })?;
                // SAFETY: dup2 onto fd 0 of our own table.
                unsafe { libc::dup2(null.as_raw_fd(), 0) };
            }
        }
    }
    crate::process::set_rlimits(&plan.rlimits)?;
    if let (Some(prog), false) = (&plan.seccomp, plan.nnp) {
        berth_seccomp::install(prog, plan.seccomp_flags)?;
    }
    if let Some(caps) = &plan.caps {
        crate::caps::drop_bounding(caps, plan.last_cap).map_err(Error::sys("drop bounding capabilities"))?;
        crate::caps::keep_caps(true).map_err(Error::sys("keep capabilities"))?;
    }
    crate::init::set_ids(plan.uid, plan.gid, &plan.gids)?;
    if let Some(caps) = &plan.caps {
        crate::caps::apply(caps).map_err(Error::sys("set capabilities"))?;
    }
    crate::process::lookup(&plan.args, &plan.env)?;
    if plan.nnp {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::Sys { op: "set no_new_privs", source: nix::Error::last() });
        }
        if let Some(prog) = &plan.seccomp {
            berth_seccomp::install(prog, plan.seccomp_flags)?;
        }
    }
    crate::init::restore_signals();
    // SAFETY: marks every descriptor from 3 up close-on-exec; nothing is closed now.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    Err(crate::process::exec(&plan.args, &plan.env))
}
