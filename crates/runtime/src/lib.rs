//! berth's low-level container runtime.
//!
//! It takes an OCI runtime spec ([`oci_spec::runtime::Spec`]) whose `root.path` is a prepared root
//! filesystem, and starts the spec's process in new namespaces with one `clone3` call
//! ([`launch`]), then supervises it ([`supervise`]): signal forwarding, an optional pty, the exit
//! status and cleanup. It knows nothing of images, networks or the CLI.
//!
//! Start path (see `docs/architecture.md`): parent compiles seccomp, creates the cgroup, clones the
//! child with every namespace (on cgroup v2 straight into the cgroup) → child ([`init`]) sets up the
//! mounts, pivots, applies hostname, sysctls, rlimits, user, capabilities, seccomp and execs.

pub mod caps;
pub mod devices;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod process;
pub mod rootfs;
pub mod supervise;
pub mod timing;
pub mod tty;
pub mod user;

pub use error::{Error, Result};
pub use exec::{exec, ExecOptions};
pub use launch::{launch, LaunchOptions, Launched};
pub use supervise::{supervise, ExitInfo, SuperviseOptions};
pub use timing::Timings;

/// The PATH a container process gets when the image sets none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
