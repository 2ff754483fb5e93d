//! Process attributes set by the container's init: rlimits, OOM score, sysctls, the loopback
//! interface and finally the `execve` with Docker's PATH search and exit codes.

use std::ffi::{CStr, CString};

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{Error, Result};

/// One resource limit, ready for `setrlimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub soft: u64,
    pub hard: u64,
}

fn resource_of(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Turns the spec's rlimits into `setrlimit` calls. Without CAP_SYS_RESOURCE a hard limit cannot
/// be raised above the current one (podman and runc fail here); berth clamps to what is allowed
/// and returns a note for each clamp, shown at debug level.
pub fn plan_rlimits(limits: &[PosixRlimit], can_raise: bool) -> (Vec<Rlimit>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for l in limits {
        let resource = resource_of(l.typ());
        let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into the struct we own.
        let known = unsafe { libc::getrlimit(resource, &mut cur) } == 0;
        let (mut soft, mut hard) = (l.soft(), l.hard());
        if known && !can_raise && hard > cur.rlim_max {
            notes.push(format!(
                "rlimit {:?} hard {} above the allowed {} (no CAP_SYS_RESOURCE): clamped",
                l.typ(),
                hard,
                cur.rlim_max
            ));
            hard = cur.rlim_max;
            soft = soft.min(hard);
        }
        out.push(Rlimit { resource, soft, hard });
    }
    (out, notes)
}

/// Whether this process may raise hard rlimits (holds CAP_SYS_RESOURCE).
pub fn can_raise_rlimits() -> bool {
    caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap_or(false)
}

pub(crate) fn set_rlimits(limits: &[Rlimit]) -> Result<()> {
    for l in limits {
        let r = libc::rlimit { rlim_cur: l.soft, rlim_max: l.hard };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(l.resource, &r) } != 0 {
            return Err(Error::Sys { op: "setrlimit", source: nix::Error::last() });
        }
    }
    Ok(())
}

pub(crate) fn set_oom_score_adj(v: i32) -> Result<()> {
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(Error::io("write", "/proc/self/oom_score_adj"))
}

/// Writes `key=value` under /proc/sys (dots become slashes, as sysctl(8) does).
pub(crate) fn set_sysctl(key: &str, value: &str) -> Result<()> {
    if key.contains("..") || key.starts_with('/') {
        return Err(Error::Spec(format!("invalid sysctl {key}")));
    }
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(Error::io("sysctl", path))
}

/// Brings the loopback interface of the current network namespace up.
pub(crate) fn loopback_up() -> Result<()> {
    // SAFETY: plain socket creation; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::Sys { op: "socket for loopback", source: nix::Error::last() });
    }
    // SAFETY: zeroed ifreq is a valid value; we fill the name and flags we use.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS on our own socket.
    let rc = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) != 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req)
        }
    };
    let err = nix::Error::last();
    // SAFETY: closing the socket we opened.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(Error::Sys { op: "bring loopback up", source: err });
    }
    Ok(())
}

/// Executes `args[0]` with Docker's search rules: a name without `/` is looked up in PATH from
/// `env` (default PATH if unset). Returns only on failure, with Docker's exit code: 127 not found,
/// 126 found but not executable.
pub(crate) fn exec(args: &[CString], env: &[CString]) -> Error {
    let name = match args.first() {
        Some(n) => n,
        None => return Error::Init { code: 125, message: "no command specified".into() },
    };
    let shown = name.to_string_lossy().into_owned();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let try_exec = |path: &CStr| -> i32 {
        // SAFETY: path, argv and envp are NUL-terminated arrays of valid C strings kept alive
        // by the caller; execve only returns on failure.
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        nix::Error::last() as i32
    };
    match search(name, env, try_exec) {
        Ok(()) => Error::Init { code: 126, message: format!("exec: \"{shown}\": returned") },
        Err(e) => e,
    }
}

/// Finds the command the way [`exec`] will, without executing it: for reporting "not found"
/// or "not executable" before the exec gate.
pub(crate) fn lookup(args: &[CString], env: &[CString]) -> Result<()> {
    let name = args.first().ok_or_else(|| Error::Init { code: 125, message: "no command specified".into() })?;
    search(name, env, |p: &CStr| {
        // SAFETY: access(2) on a valid C string.
        if unsafe { libc::access(p.as_ptr(), libc::X_OK) } == 0 {
            0
        } else {
            nix::Error::last() as i32
        }
    })
}

/// Docker's command search: a name with `/` is tried as is, others in each PATH directory (from
/// `env`, else the default PATH). `attempt` returns 0 on success or an errno; ENOENT/ENOTDIR
/// move on, EACCES is remembered, any other errno stops the search.
fn search(name: &CStr, env: &[CString], mut attempt: impl FnMut(&CStr) -> i32) -> Result<()> {
    let shown = name.to_string_lossy().into_owned();
    if name.to_bytes().contains(&b'/') {
        return match attempt(name) {
            0 => Ok(()),
            e => Err(exec_error(&shown, e, true)),
        };
    }
    let path_var = env
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH=").map(|p| String::from_utf8_lossy(p).into_owned()))
        .unwrap_or_else(|| crate::DEFAULT_PATH.to_string());
    let mut saw_eacces = false;
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let Ok(candidate) = CString::new(format!("{dir}/{shown}")) else { continue };
        match attempt(&candidate) {
            0 => return Ok(()),
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ENOTDIR => {}
            other => return Err(exec_error(&shown, other, true)),
        }
    }
    Err(exec_error(&shown, if saw_eacces { libc::EACCES } else { libc::ENOENT }, false))
}

fn exec_error(name: &str, errno: i32, has_path: bool) -> Error {
    let (code, what) = match errno {
        libc::ENOENT if !has_path => (127, "executable file not found in $PATH".to_string()),
        libc::ENOENT | libc::ENOTDIR => (127, format!("stat {name}: no such file or directory")),
        libc::EACCES | libc::EPERM => (126, "permission denied".to_string()),
        libc::ENOEXEC => (126, "exec format error".to_string()),
        e => (126, nix::Error::from_raw(e).desc().to_lowercase()),
    };
    Error::Init { code, message: format!("exec: \"{name}\": {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitBuilder;

    #[test]
    fn clamps_hard_limit_without_cap() {
        let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into our struct.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
        let l = PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(u64::MAX - 1)
            .hard(u64::MAX - 1)
            .build()
            .unwrap();
        let (out, notes) = plan_rlimits(std::slice::from_ref(&l), false);
        assert_eq!(out[0].hard, cur.rlim_max);
        assert_eq!(out[0].soft, cur.rlim_max);
        assert_eq!(notes.len(), 1);
        let (out, notes) = plan_rlimits(&[l], true);
        assert_eq!(out[0].hard, u64::MAX - 1);
        assert!(notes.is_empty());
    }

    #[test]
    fn exec_error_codes() {
        assert_eq!(exec_error("x", libc::ENOENT, false).exit_code(), 127);
        assert!(exec_error("x", libc::ENOENT, false).to_string().contains("executable file not found in $PATH"));
        assert_eq!(exec_error("/x", libc::ENOENT, true).exit_code(), 127);
        assert_eq!(exec_error("/x", libc::EACCES, true).exit_code(), 126);
    }
}
