//! seccomp for berth: Docker-format profiles ([`profile`]), resolved into the OCI runtime-spec form
//! ([`oci_spec::runtime::LinuxSeccomp`]) for a container's capabilities and architecture, compiled
//! to classic BPF by a pure-Rust compiler ([`bpf`]) and installed with seccomp(2) ([`mod@install`]).
//!
//! ```no_run
//! # use std::collections::HashSet;
//! let caps: HashSet<String> = ["CAP_CHOWN", "CAP_KILL"].iter().map(|s| s.to_string()).collect();
//! let seccomp = berth_seccomp::default_profile().resolve(&caps, None)?;
//! let prog = berth_seccomp::compile(&seccomp)?;
//! // … in the container's init, after PR_SET_NO_NEW_PRIVS, just before execve:
//! let listener = berth_seccomp::install(&prog, berth_seccomp::filter_flags(&seccomp))?;
//! # Ok::<(), berth_seccomp::Error>(())
//! ```
//!
//! Why a compiler of our own rather than libseccomp (C) or seccompiler (one match action per
//! filter): see [`bpf`].

pub mod bpf;
mod error;
pub mod install;
pub mod profile;

pub use bpf::{compile, Program};
pub use error::Error;
pub use install::{filter_flags, install};
pub use profile::Profile;

/// berth's built-in default profile, in Docker's format (`src/default.json`).
///
/// It has the semantics of Docker's default profile: everything not allowed fails with EPERM;
/// an allow-list of ordinary syscalls; `clone` only without namespace flags and `clone3` →
/// ENOSYS unless `CAP_SYS_ADMIN`; `socket` refused for `AF_ALG` and `AF_VSOCK`; `personality`
/// only with the harmless personas; mount, namespaces, keyrings, io_uring, bpf, kexec, module
/// loading, reboot, … only with the capability that governs them (or never).
///
/// One deliberate difference, a hardening: `socket` with `AF_ALG`/`AF_VSOCK` in the low 32 bits
/// of the family is refused whatever its upper half holds (the kernel reads an `int`; Docker's
/// `> 40` rule compares all 64 bits and lets `0x1_0000_0028` through).
pub fn default_profile() -> Profile {
    static PROFILE: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    PROFILE
        .get_or_init(|| {
            Profile::parse(include_str!("default.json")).expect("the built-in default.json is a valid profile")
        })
        .clone()
}
