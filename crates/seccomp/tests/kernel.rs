//! Filters installed in the real kernel. Each test forks a child that sets no_new_privs,
//! installs a program compiled in the parent and then probes system calls with raw libc calls
//! (no allocation after fork). The child exits with 0 or with the number of the first probe
//! that failed; the parent asserts on that. A control child without a filter shows that each
//! refusal really comes from the filter.

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::AsRawFd;

use berth_seccomp::{compile, default_profile, filter_flags, install, Profile, Program};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// A failed probe: `Err(code)` makes the child exit with `code`.
fn probe(code: i32, ok: bool) -> Result<(), i32> {
    if ok {
        Ok(())
    } else {
        Err(code)
    }
}

/// `ret == -1 && errno == e`.
fn fails_with(ret: libc::c_long, e: i32) -> bool {
    ret == -1 && errno() == e
}

/// Runs `body` in a forked child and returns how it ended.
fn in_child(body: impl FnOnce() -> Result<(), i32>) -> WaitStatus {
    // SAFETY: the child only makes raw system calls (through libc) on data prepared before the
    // fork, and leaves with _exit, so the parent's other threads' locks don't matter.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // No core files from the children we kill with SIGSYS.
            let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: plain system calls; `zero` is valid for the call.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &zero);
                libc::_exit(match body() {
                    Ok(()) => 0,
                    Err(code) => code,
                })
            }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

/// Sets no_new_privs and installs `prog`.
fn sandbox(prog: &Program, flags: u32) -> Result<Option<std::os::fd::OwnedFd>, i32> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integer arguments only.
    let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    probe(100, nnp == 0)?;
    install(prog, flags).map_err(|_| 101)
}

fn assert_exit0(status: WaitStatus, what: &str) {
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{what}: child ended with {status:?} (exit code = failed probe)"
    );
}

fn assert_sigsys(status: WaitStatus, what: &str) {
    assert!(
        matches!(status, WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSYS, _)),
        "{what}: expected SIGSYS, got {status:?}"
    );
}

/// `Seccomp:\t2` in /proc/self/status, read without allocating.
fn seccomp_mode_is_filter() -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: the path is NUL-terminated; `buf` is valid for `buf.len()` bytes.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/status".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    n > 0 && buf[..n as usize].windows(11).any(|w| w == b"Seccomp:\t2\n")
}

fn pipe_write_works() -> bool {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors; the buffer is one valid byte.
    unsafe { libc::pipe(fds.as_mut_ptr()) == 0 && libc::write(fds[1], b"x".as_ptr().cast(), 1) == 1 }
}

fn compiled(json: &str) -> (berth_seccomp::Program, u32) {
    let seccomp = Profile::parse(json).unwrap().resolve(&HashSet::new(), None).unwrap();
    (compile(&seccomp).unwrap(), filter_flags(&seccomp))
}

#[test]
fn deny_mkdir() {
    let (prog, flags) = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    let dir = std::env::temp_dir().join(format!("berth-seccomp-mkdir-{}", std::process::id()));
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };

    // Control: without the filter mkdir works.
    let status = in_child(|| {
        // SAFETY: `path` is a valid C string.
        probe(1, unsafe { libc::mkdir(path.as_ptr(), 0o700) } == 0)?;
        // SAFETY: as above.
        probe(2, unsafe { libc::rmdir(path.as_ptr()) } == 0)
    });
    assert_exit0(status, "control");

    let status = in_child(|| {
        probe(3, sandbox(&prog, flags)?.is_none())?;
        probe(4, seccomp_mode_is_filter())?;
        // SAFETY: `path` is a valid C string; raw syscalls with integer/pointer arguments.
        unsafe {
            probe(5, libc::mkdir(path.as_ptr(), 0o700) == -1 && errno() == libc::EPERM)?;
            probe(6, fails_with(libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o700), libc::EPERM))?;
            #[cfg(target_arch = "x86_64")]
            probe(7, fails_with(libc::syscall(libc::SYS_mkdir, path.as_ptr(), 0o700), libc::EPERM))?;
            probe(8, libc::getppid() == pid)?;
        }
        probe(9, pipe_write_works())
    });
    assert_exit0(status, "deny mkdir");
    assert!(!dir.exists(), "the filtered mkdir must not have created {}", dir.display());
}

fn default_program(extra_caps: &[&str]) -> (Program, u32) {
    let caps: HashSet<String> = DOCKER_CAPS.iter().chain(extra_caps).map(|s| s.to_string()).collect();
    let seccomp = default_profile().resolve(&caps, None).unwrap();
    (compile(&seccomp).unwrap(), filter_flags(&seccomp))
}

/// Raw probes for the default profile; each returns the syscall's result.
mod probes {
    pub fn unshare_net() -> libc::c_long {
        // SAFETY: unshare only affects this (child) process.
        unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWNET) }
    }
    pub fn clone3_null() -> libc::c_long {
        // SAFETY: clone3 with a NULL argument and size 0 is refused by the kernel (EINVAL)
        // before anything happens; the filter may refuse it earlier.
        unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) }
    }
    /// `family` is passed as a full register: the kernel reads its low 32 bits.
    pub fn socket(family: i64, ty: i32) -> libc::c_long {
        // SAFETY: plain system call; a descriptor it returns is left to process exit.
        unsafe { libc::syscall(libc::SYS_socket, family, ty, 0) }
    }
    pub fn keyctl_session() -> libc::c_long {
        // SAFETY: KEYCTL_GET_KEYRING_ID only reads; integer arguments.
        unsafe {
            libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0)
        }
    }
    pub fn personality(p: libc::c_ulong) -> libc::c_long {
        // SAFETY: plain system call; 0xffffffff only queries.
        unsafe { libc::syscall(libc::SYS_personality, p) }
    }
    pub fn clone_newuser() -> libc::c_long {
        // SAFETY: on success this would create a child sharing nothing unsafe: it is a fork with
        // CLONE_NEWUSER whose child exits immediately below. With the filter it fails.
        let r = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_NEWUSER | libc::SIGCHLD, 0, 0, 0, 0) };
        if r == 0 {
            // SAFETY: we are the new child.
            unsafe { libc::_exit(0) }
        }
        r
    }
    pub fn fork_and_reap() -> bool {
        // SAFETY: fork in a single-threaded child; the grandchild exits at once.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(0);
            }
            let mut st = 0;
            pid > 0 && libc::waitpid(pid, &mut st, 0) == pid && libc::WIFEXITED(st)
        }
    }
}

#[test]
fn default_profile_in_the_kernel() {
    let (prog, flags) = default_program(&[]);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if is_root() {
        // Control: as root without a filter, these work (or fail for reasons other than EPERM).
        let status = in_child(|| {
            probe(1, probes::unshare_net() == 0)?;
            probe(2, fails_with(probes::clone3_null(), libc::EINVAL))?;
            probe(3, probes::personality(6 /* PER_BSD */) != -1)
        });
        assert_exit0(status, "control without filter");
    }
    let status = in_child(|| {
        probe(10, sandbox(&prog, flags)?.is_none())?;
        probe(11, seccomp_mode_is_filter())?;
        // SAFETY: getppid has no preconditions.
        probe(12, unsafe { libc::getppid() } == pid)?;
        probe(13, pipe_write_works())?;
        probe(14, fails_with(probes::unshare_net(), libc::EPERM))?;
        probe(15, fails_with(probes::clone3_null(), libc::ENOSYS))?;
        probe(16, fails_with(probes::socket(libc::AF_VSOCK.into(), libc::SOCK_STREAM), libc::EPERM))?;
        probe(17, fails_with(probes::socket(libc::AF_ALG.into(), libc::SOCK_SEQPACKET), libc::EPERM))?;
        let high = 1 << 32;
        let vsock = probes::socket(high | i64::from(libc::AF_VSOCK), libc::SOCK_STREAM);
        probe(27, fails_with(vsock, libc::EPERM))?;
        let alg = probes::socket(high | i64::from(libc::AF_ALG), libc::SOCK_SEQPACKET);
        probe(28, fails_with(alg, libc::EPERM))?;
        probe(18, probes::socket(libc::AF_INET.into(), libc::SOCK_STREAM) >= 0)?;
        probe(19, probes::socket(libc::AF_UNIX.into(), libc::SOCK_STREAM) >= 0)?;
        probe(20, fails_with(probes::keyctl_session(), libc::EPERM))?;
        probe(21, probes::personality(0xffff_ffff) >= 0)?;
        probe(22, fails_with(probes::personality(6), libc::EPERM))?;
        probe(23, fails_with(probes::clone_newuser(), libc::EPERM))?;
        probe(24, probes::fork_and_reap())?;
        // SAFETY: io_uring_setup with a NULL params pointer; the filter refuses it first.
        let uring = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, std::ptr::null::<u8>()) };
        probe(25, fails_with(uring, libc::EPERM))?;
        // SAFETY: mount with NULL arguments; the filter refuses it first.
        let m = unsafe { libc::syscall(libc::SYS_mount, 0usize, 0usize, 0usize, 0usize, 0usize) };
        probe(26, fails_with(m, libc::EPERM))
    });
    assert_exit0(status, "default profile");
}

#[test]
fn default_profile_with_sys_admin() {
    if !is_root() {
        eprintln!("skipped: needs root to tell the filter's EPERM from the kernel's");
        return;
    }
    let (prog, flags) = default_program(&["CAP_SYS_ADMIN"]);
    let status = in_child(|| {
        sandbox(&prog, flags)?;
        probe(1, probes::unshare_net() == 0)?;
        probe(2, fails_with(probes::clone3_null(), libc::EINVAL))
    });
    assert_exit0(status, "default profile + CAP_SYS_ADMIN");
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    const X32: libc::c_long = 0x4000_0000;

    fn getpid_int80() -> i32 {
        let ret: i32;
        // SAFETY: `int $0x80` with eax = 20 is the i386 getpid, which takes no arguments. The
        // kernel clobbers r8–r11 on this path.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("eax") 20 => ret, out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
        }
        ret
    }

    /// i386 getpid through `int $0x80` with `ebx` = the low half of `rbx`, which is set in full.
    fn getpid_int80_with_rbx(rbx: u64) -> i32 {
        let ret: i32;
        // SAFETY: as in `getpid_int80`; rbx (reserved by LLVM) is swapped in and restored
        // around the system call, which does not change it.
        unsafe {
            std::arch::asm!(
                "xchg {b}, rbx", "int 0x80", "xchg {b}, rbx",
                b = inout(reg) rbx => _,
                inlateout("eax") 20 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        ret
    }

    /// A 64-bit process can make i386 syscalls with bits in the upper halves of the argument
    /// registers; the kernel ignores them but hands them to seccomp. The i386 part of the filter
    /// compares the low halves only, so they change nothing.
    #[test]
    fn i386_arguments_are_compared_on_32_bits() {
        let control = in_child(|| probe(1, getpid_int80() > 0));
        if !matches!(control, WaitStatus::Exited(_, 0)) {
            eprintln!("skipped: int $0x80 does not work on this kernel ({control:?})");
            return;
        }
        let (prog, flags) = compiled(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                              "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let status = in_child(|| {
            sandbox(&prog, flags)?;
            probe(1, getpid_int80_with_rbx(5) == -77)?;
            probe(2, getpid_int80_with_rbx(0x1_0000_0005) == -77)?;
            probe(3, getpid_int80_with_rbx(0xdead_0000_0005) == -77)?;
            probe(4, getpid_int80_with_rbx(6) > 0)
        });
        assert_exit0(status, "i386 argument halves");
    }

    #[test]
    fn x32_numbers_follow_the_architecture_list() {
        let deny = r#"[{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]"#;
        let (native_only, f1) = compiled(&format!(r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {deny}}}"#));
        let (with_x32, f2) = compiled(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "syscalls": {deny}}}"#
        ));
        let path = c"/nonexistent-berth-dir/x";
        // x32 not listed: an x32 syscall number is a foreign architecture → killed.
        let status = in_child(|| {
            sandbox(&native_only, f1)?;
            // SAFETY: x32 getpid takes no arguments.
            unsafe { libc::syscall(X32 | libc::SYS_getpid) };
            Err(1)
        });
        assert_sigsys(status, "x32 syscall without SCMP_ARCH_X32");
        // x32 listed: rules apply to x32 numbers; the rest reaches the kernel (which may have
        // x32 disabled: ENOSYS).
        let status = in_child(|| {
            sandbox(&with_x32, f2)?;
            // SAFETY: `path` is a valid C string; x32 getpid takes no arguments.
            unsafe {
                probe(1, fails_with(libc::syscall(X32 | libc::SYS_mkdir, path.as_ptr(), 0o700), 77))?;
                let r = libc::syscall(X32 | libc::SYS_getpid);
                probe(2, r == libc::getpid() as libc::c_long || fails_with(r, libc::ENOSYS))
            }
        });
        assert_exit0(status, "x32 listed");
    }

    #[test]
    fn i386_syscalls_follow_the_architecture_list() {
        // SAFETY: getpid has no preconditions.
        let control = in_child(|| probe(1, getpid_int80() == unsafe { libc::getpid() }));
        if !matches!(control, WaitStatus::Exited(_, 0)) {
            eprintln!("skipped: int $0x80 does not work on this kernel ({control:?})");
            return;
        }
        let deny = r#"[{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]"#;
        let (native_only, f1) = compiled(&format!(r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {deny}}}"#));
        let (with_x86, f2) = compiled(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "syscalls": {deny}}}"#
        ));
        let status = in_child(|| {
            sandbox(&native_only, f1)?;
            getpid_int80();
            Err(1)
        });
        assert_sigsys(status, "i386 syscall without SCMP_ARCH_X86");
        let status = in_child(|| {
            sandbox(&with_x86, f2)?;
            probe(1, getpid_int80() == -77)?;
            // SAFETY: plain system call.
            probe(2, unsafe { libc::syscall(libc::SYS_getpid) } == -1 && errno() == 77)
        });
        assert_exit0(status, "i386 listed");
        // The default profile lists SCMP_ARCH_X86 and allows getpid there.
        let (prog, flags) = default_program(&[]);
        let status = in_child(|| {
            sandbox(&prog, flags)?;
            // SAFETY: getpid has no preconditions.
            probe(1, getpid_int80() == unsafe { libc::getpid() })
        });
        assert_exit0(status, "default profile, i386 getpid");
    }
}

#[test]
fn notify_hands_the_syscall_to_the_listener() {
    let (prog, flags) = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(prog.needs_listener());
    let status = in_child(|| {
        let listener = sandbox(&prog, flags)?.ok_or(1)?;
        // SAFETY: fork in a single-threaded process; the grandchild only makes system calls.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // Blocks until the supervisor (our parent) answers for it.
            // SAFETY: plain system call.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            // SAFETY: leaving the grandchild.
            unsafe { libc::_exit(if r == 4242 { 0 } else { 1 }) }
        }
        probe(2, child > 0)?;
        // SAFETY: all-zero is a valid (and, for the kernel, required) initial seccomp_notif.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        let fd = listener.as_raw_fd();
        // SAFETY: `req` is a writable seccomp_notif, as NOTIF_RECV expects.
        let received = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        probe(3, received == 0)?;
        probe(4, req.data.nr as libc::c_long == libc::SYS_getppid && req.pid as i32 == child)?;
        let mut resp = libc::seccomp_notif_resp { id: req.id, val: 4242, error: 0, flags: 0 };
        // SAFETY: `resp` is a valid seccomp_notif_resp, as NOTIF_SEND expects.
        let sent = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        probe(5, sent == 0)?;
        let mut st = 0;
        // SAFETY: plain system call on our own child.
        probe(6, unsafe { libc::waitpid(child, &mut st, 0) } == child)?;
        probe(7, libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0)
    });
    assert_exit0(status, "notify");
}

#[test]
fn flags_are_passed_and_errors_reported() {
    let (prog, _) = compiled(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}"#);
    let all = (libc::SECCOMP_FILTER_FLAG_TSYNC
        | libc::SECCOMP_FILTER_FLAG_LOG
        | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
        | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) as u32;
    let status = in_child(|| {
        // An unknown flag bit is refused by the kernel and reported, not ignored.
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integer arguments only.
        let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        probe(1, nnp == 0)?;
        let refused = match install(&prog, 1 << 30) {
            Err(berth_seccomp::Error::Install(e)) => e.raw_os_error() == Some(libc::EINVAL),
            _ => false,
        };
        probe(2, refused)?;
        // TSYNC + LOG + SPEC_ALLOW (+ WAIT_KILLABLE_RECV, dropped without a listener) are accepted.
        probe(3, matches!(install(&prog, all), Ok(None)))?;
        probe(4, seccomp_mode_is_filter())
    });
    assert_exit0(status, "flags");
}
