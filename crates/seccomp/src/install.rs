//! Installing a compiled filter with seccomp(2).
//!
//! [`install`] runs in the container's init process right before `execve`, in a child that
//! was cloned from a multi-threaded runtime: it allocates nothing, takes no lock and only
//! makes the one system call. The caller must have set `PR_SET_NO_NEW_PRIVS` first (or hold
//! `CAP_SYS_ADMIN`), as the kernel requires.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libc::c_ulong;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};

use crate::bpf::Program;
use crate::error::Error;

/// The `SECCOMP_FILTER_FLAG_*` bits for the OCI `flags` of `seccomp`.
pub fn filter_flags(seccomp: &LinuxSeccomp) -> u32 {
    seccomp
        .flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|f| match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        } as u32)
        .fold(0, |acc, bit| acc | bit)
}

/// Installs `prog` on the calling thread with seccomp(2) `SECCOMP_SET_MODE_FILTER` and
/// `flags` (see [`filter_flags`]).
///
/// When the program [needs a listener](Program::needs_listener), `SECCOMP_FILTER_FLAG_NEW_LISTENER`
/// is added (plus `SECCOMP_FILTER_FLAG_TSYNC_ESRCH` if `TSYNC` is asked for, since the kernel
/// refuses TSYNC with a listener otherwise) and the listener is returned; otherwise
/// `WAIT_KILLABLE_RECV`, which only makes sense with a listener, is dropped and `None` is
/// returned. A TSYNC failure (another thread could not be synchronised) is reported as ESRCH.
///
/// Allocation-free: safe to call between fork/clone and execve.
pub fn install(prog: &Program, flags: u32) -> Result<Option<OwnedFd>, Error> {
    let mut flags = flags as c_ulong;
    if prog.needs_listener() {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    } else {
        flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    let insns = prog.instructions();
    let fprog = libc::sock_fprog {
        len: insns.len() as libc::c_ushort,
        // The kernel only reads the filter; the field is `*mut` for historical reasons.
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `fprog` and the `len` instructions it
    // points to, both of which outlive the call; it writes no user memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as c_ulong,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(Error::Install(std::io::Error::last_os_error()));
    }
    if prog.needs_listener() {
        // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new file descriptor that
        // nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }))
    } else if rc > 0 {
        // TSYNC without TSYNC_ESRCH returns the id of the thread that could not be synchronised.
        Err(Error::Install(std::io::Error::from_raw_os_error(libc::ESRCH)))
    } else {
        Ok(None)
    }
}
