//! Terminals: the container's pty is allocated by its init inside the container's own devpts
//! (so `tty` shows `/dev/pts/N`), its master handed to the parent over a socket with
//! `SCM_RIGHTS`; the parent puts the user's terminal in raw mode and copies bytes both ways.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Error, Result};

/// Window size as the kernel keeps it.
pub type Winsize = libc::winsize;

/// The size of the terminal on `fd`, if it is one.
pub fn winsize(fd: RawFd) -> Option<Winsize> {
    // SAFETY: zeroed winsize is valid; TIOCGWINSZ fills it or fails.
    let mut ws: Winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl with a pointer to our struct.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some(ws)
}

/// Sets the window size of the pty behind `fd`.
pub fn set_winsize(fd: RawFd, ws: &Winsize) {
    // SAFETY: ioctl reading our struct.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws) };
}

/// In the container's init, after `pivot_root`: opens a pty in the container's devpts, makes its
/// slave the controlling terminal and stdio, binds it over `/dev/console`, and sends the master
/// to the parent over `sock`.
pub(crate) fn setup_console(sock: BorrowedFd<'_>, ws: Option<&Winsize>, bind_console: bool) -> Result<()> {
    let master = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::Io { op: "open", path: "/dev/ptmx".into(), source: e.into() })?;
    let m = master.as_raw_fd();
    let unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: ioctls on our own master fd with pointers to locals.
    let slave = unsafe {
        if libc::ioctl(m, libc::TIOCSPTLCK, &unlock) != 0 || libc::ioctl(m, libc::TIOCGPTN, &mut n) != 0 {
            return Err(Error::Sys { op: "unlock pty", source: nix::Error::last() });
        }
        libc::ioctl(m, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)
    };
    if slave < 0 {
        return Err(Error::Sys { op: "open pty slave", source: nix::Error::last() });
    }
    // SAFETY: TIOCGPTPEER returned a new descriptor we own.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some(ws) = ws {
        set_winsize(m, ws);
    }
    let pts = format!("/dev/pts/{n}");
    if bind_console && std::fs::symlink_metadata("/dev/console").is_err() {
        std::fs::write("/dev/console", b"").map_err(Error::io("create", "/dev/console"))?;
    }
    if bind_console {
        nix::mount::mount(Some(pts.as_str()), "/dev/console", None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| Error::Io { op: "bind console", path: "/dev/console".into(), source: e.into() })?;
    }
    let fds = [m];
    sendmsg::<()>(sock.as_raw_fd(), &[IoSlice::new(b"m")], &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map_err(Error::sys("send pty master"))?;
    drop(master);
    nix::unistd::setsid().map_err(Error::sys("setsid"))?;
    let s = slave.as_raw_fd();
    // SAFETY: ioctl/dup2 on descriptors we own; 0..2 are replaced atomically by dup2.
    unsafe {
        if libc::ioctl(s, libc::TIOCSCTTY, 0) != 0 {
            return Err(Error::Sys { op: "set controlling terminal", source: nix::Error::last() });
        }
        for target in 0..3 {
            if libc::dup2(s, target) < 0 {
                return Err(Error::Sys { op: "dup2 pty", source: nix::Error::last() });
            }
        }
    }
    Ok(())
}

/// In the parent: receives the master sent by [`setup_console`].
pub(crate) fn recv_master(sock: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(Error::sys("receive pty master"))?;
    for c in msg.cmsgs().map_err(Error::sys("receive pty master"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS installed a new descriptor in our table that nothing owns.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Spec("container init sent no pty master".into()))
}

/// Puts a terminal into raw mode and restores it when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// `None` when `fd` is not a terminal.
    pub fn enable(fd: BorrowedFd<'_>) -> Option<RawMode> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd: fd.as_raw_fd(), saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd is the caller's stdin, open for the program's lifetime.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// True if `fd` is a terminal.
pub fn is_tty(fd: impl AsFd) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}
