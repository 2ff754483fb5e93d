//! Supervising a started container in the foreground: forward signals, copy terminal bytes,
//! reap the init, and report the exit like Docker (128+signal, OOM kills flagged).
//!
//! A plain `poll` loop over a signalfd and, with a terminal, the user's stdin and the pty
//! master: no threads, no async runtime.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::error::{Error, Result};
use crate::launch::{Launched, FORWARDED};
use crate::tty::{set_winsize, winsize, RawMode};

/// How the foreground session is wired.
#[derive(Debug, Clone, Copy, Default)]
pub struct SuperviseOptions {
    /// Copy the user's stdin into the container's terminal (`-i -t`).
    pub stdin: bool,
}

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Docker's exit code: the status, or 128+signal.
    pub code: i32,
    /// The signal that killed the init, if any.
    pub signal: Option<i32>,
    /// The memory cgroup killed something in the container.
    pub oom_killed: bool,
}

fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) => return false,
            Ok(n) => buf = &buf[n..],
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::EAGAIN) => {
                let mut p = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut p, PollTimeout::NONE);
            }
            Err(_) => return false,
        }
    }
    true
}

/// Runs until the container's init exits; returns its exit information.
pub fn supervise(c: &Launched, opts: SuperviseOptions) -> Result<ExitInfo> {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(*s);
    }
    let sfd =
        SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).map_err(Error::sys("signalfd"))?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match (&c.pty_master, opts.stdin) {
        (Some(_), true) => RawMode::enable(stdin.as_fd()),
        _ => None,
    };
    let mut stdin_open = opts.stdin && c.pty_master.is_some();
    let mut master_open = c.pty_master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    let status = loop {
        // The init may already be gone (signal merged or delivered before the signalfd existed).
        if let Some(st) = reap(c)? {
            break st;
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &c.pty_master {
            if master_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Error::Sys { op: "poll", source: e }),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().map(|r| !r.is_empty()).unwrap_or(false)).collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    continue;
                }
                if sig == libc::SIGWINCH {
                    if let (Some(m), Some(ws)) = (&c.pty_master, winsize(0).or_else(|| winsize(1))) {
                        set_winsize(m.as_raw_fd(), &ws);
                    }
                    continue;
                }
                if let Ok(s) = Signal::try_from(sig) {
                    let _ = nix::sys::signal::kill(c.pid, s);
                }
            }
        }
        if let Some(m) = &c.pty_master {
            let mut i = 1;
            if master_open {
                if ready[i] {
                    match nix::unistd::read(m.as_fd(), &mut buf) {
                        Ok(0) | Err(nix::Error::EIO) => master_open = false,
                        Ok(n) => {
                            write_all(stdout.as_fd(), &buf[..n]);
                        }
                        Err(_) => {}
                    }
                }
                i += 1;
            }
            if stdin_open && ready[i] {
                match nix::unistd::read(stdin.as_fd(), &mut buf) {
                    Ok(0) | Err(nix::Error::EIO) => stdin_open = false,
                    Ok(n) => {
                        write_all(m.as_fd(), &buf[..n]);
                    }
                    Err(_) => {}
                }
            }
        }
    };
    // Drain what the container wrote to its terminal before it exited.
    if let Some(m) = &c.pty_master {
        let _ = nix::fcntl::fcntl(m.as_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        while let Ok(n) = nix::unistd::read(m.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            write_all(stdout.as_fd(), &buf[..n]);
        }
    }
    let _ = c.old_mask.thread_set_mask();
    let (code, signal) = match status {
        WaitStatus::Exited(_, code) => (code, None),
        WaitStatus::Signaled(_, sig, _) => (128 + sig as i32, Some(sig as i32)),
        _ => (125, None),
    };
    let oom_killed = signal == Some(libc::SIGKILL) && c.cgroup.oom_kill_count() > 0;
    Ok(ExitInfo { code, signal, oom_killed })
}

fn reap(c: &Launched) -> Result<Option<WaitStatus>> {
    match waitpid(c.pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => Ok(None),
        Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => Ok(Some(st)),
        Ok(_) => Ok(None),
        Err(nix::Error::EINTR) => Ok(None),
        Err(e) => Err(Error::Sys { op: "waitpid", source: e }),
    }
}
